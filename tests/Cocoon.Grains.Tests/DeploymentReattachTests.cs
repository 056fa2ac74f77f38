using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Workers;
using Cocoon.Grains.Models;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;

namespace Cocoon.Grains.Tests;

/// <summary>
/// A deployment grain that moves (its proxy silo died; here: deactivated) keeps routing to the workers whose silos are
/// alive until they renew, instead of answering no_worker_available for up to a third of a lease (found by the cluster
/// harness's kill-proxy phase). A worker on a silo that is not a cluster member is not kept. Runs alone: it moves the
/// clock.
/// </summary>
[Collection(nameof(SerialCollection))]
public sealed class DeploymentReattachTests(GrainCluster cluster)
{
    [Fact]
    public async Task After_reactivation_workers_on_live_silos_stay_routable_for_the_grace_and_others_do_not()
    {
        var ct = TestContext.Current.CancellationToken;
        var model = "reattach-" + Guid.NewGuid().ToString("N")[..6];
        var liveSilo = cluster.Node.Host.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToParsableString();
        var onLiveSilo = cluster.Grains.GetGrain<IWorkerLeaseGrain>("alive-" + model);
        var onGoneSilo = cluster.Grains.GetGrain<IWorkerLeaseGrain>("gone-" + model);
        await onLiveSilo.RenewAsync(new WorkerRegistration { Model = model, ModelHash = "h", SiloAddress = liveSilo, Capacity = 1 }, TimeSpan.FromSeconds(30));
        await onGoneSilo.RenewAsync(new WorkerRegistration { Model = model, ModelHash = "h", SiloAddress = "S127.0.0.1:1:1", Capacity = 1 }, TimeSpan.FromSeconds(30));
        var deployment = cluster.Grains.GetGrain<IModelDeploymentGrain>(model);
        Assert.Equal(2, (await deployment.GetRoutesAsync()).Workers.Count);

        // Past the stored expiry with no renewal: as if the grain had been reactivated elsewhere a lease later.
        cluster.Clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Empty((await deployment.GetRoutesAsync()).Workers);
        await deployment.Cast<IGrainManagementExtension>().DeactivateOnIdle(ct);

        var routes = await deployment.GetRoutesAsync();
        Assert.Equal(["alive-" + model], routes.Workers.Select(w => w.WorkerId));

        // The grace ends unless the worker renews.
        cluster.Clock.Advance(ModelDeploymentGrain.ReattachGrace + TimeSpan.FromSeconds(1));
        Assert.Empty((await deployment.GetRoutesAsync()).Workers);
    }
}
