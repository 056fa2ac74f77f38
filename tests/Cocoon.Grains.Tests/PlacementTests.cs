using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Inference;
using Cocoon.Abstractions.Workers;
using Cocoon.Inference.Models;
using Cocoon.Testing;

namespace Cocoon.Grains.Tests;

/// <summary>Where grains run: inference on its worker's silo or nowhere; money state on proxies only.</summary>
[Collection(nameof(SerialCollection))]
public sealed class PlacementTests(GrainCluster cluster) : IAsyncLifetime
{
    private readonly string _models = Directory.CreateTempSubdirectory("cocoon-placement-models-").FullName;
    private readonly string _name = "worker-" + Guid.NewGuid().ToString("N")[..6];
    private CocoonTestNode? _worker;

    private string WorkerId => $"{_name}.{BuiltInModels.MiniLmName}";

    public async ValueTask InitializeAsync()
    {
        _worker = await CocoonTestNode.StartAsync(cluster.ClusterId, "worker", cluster.ConnectionString, _name, extra: new Dictionary<string, string?>
        {
            ["Cocoon:Worker:Models"] = BuiltInModels.MiniLmName,
            ["Cocoon:Worker:ModelsDirectory"] = _models,
            ["Cocoon:Worker:ExecutionProvider"] = "Cpu",
            ["Cocoon:Worker:AutoDeploy"] = "true",
        });
    }

    [Fact]
    public async Task Inference_runs_on_the_workers_silo_and_fails_once_that_silo_is_gone()
    {
        var lease = await cluster.Grains.GetGrain<IWorkerLeaseGrain>(WorkerId).GetAsync();
        Assert.NotNull(lease);
        var request = new EmbeddingRequest { Model = BuiltInModels.MiniLmName, Inputs = ["where am I"] };

        var served = await CallHostAsync(lease.Registration.SiloAddress, request);
        Assert.Equal(WorkerId, served.WorkerId);

        await _worker!.StopAsync();
        var e = await Assert.ThrowsAnyAsync<Exception>(() => CallHostAsync(lease.Registration.SiloAddress, request));

        Assert.Contains("not an active member of the cluster", e.Message, StringComparison.Ordinal);
        // The stopped worker left the live set when it stopped, not when its lease ran out.
        var routes = await cluster.Grains.GetGrain<Abstractions.Models.IModelDeploymentGrain>(BuiltInModels.MiniLmName).GetRoutesAsync();
        Assert.DoesNotContain(routes.Workers, w => w.WorkerId == WorkerId);
    }

    [Fact]
    public async Task A_call_that_names_no_silo_is_refused_rather_than_placed_anywhere()
    {
        var e = await Assert.ThrowsAnyAsync<Exception>(() =>
            cluster.Grains.GetGrain<IInferenceHostGrain>("never-placed-" + Guid.NewGuid().ToString("N")).EmbedAsync(
                new EmbeddingRequest { Model = BuiltInModels.MiniLmName, Inputs = ["x"] }, TestContext.Current.CancellationToken));

        Assert.Contains("carries no target silo", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Escrow_accounts_are_placed_on_proxy_silos_only()
    {
        var ids = Enumerable.Range(0, 30).Select(i => $"placed-{Guid.NewGuid():N}").ToList();
        foreach (var id in ids)
        {
            // Called from the worker silo itself, where a placement without the filter would prefer to put them.
            await _worker!.Grains.GetGrain<IEscrowAccountGrain>(id).GetBalanceAsync();
        }

        var stats = await cluster.Grains.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics(null, null, TestContext.Current.CancellationToken);
        var placed = stats.Where(s => ids.Any(id => s.GrainId.ToString().Contains(id, StringComparison.Ordinal))).ToList();
        Assert.Equal(30, placed.Count);
        Assert.All(placed, s => Assert.Equal(cluster.Node.Host.Services.GetService(typeof(ILocalSiloDetails)) is ILocalSiloDetails proxy ? proxy.SiloAddress : null, s.SiloAddress));
    }

    [Fact]
    public async Task A_lease_that_is_not_renewed_drops_out_of_the_live_set()
    {
        var model = "lease-model-" + Guid.NewGuid().ToString("N")[..6];
        var lease = cluster.Grains.GetGrain<IWorkerLeaseGrain>("lonely-" + Guid.NewGuid().ToString("N")[..6]);
        await lease.RenewAsync(new WorkerRegistration { Model = model, ModelHash = "h", SiloAddress = "x", Capacity = 1 }, TimeSpan.FromSeconds(30));
        var deployment = cluster.Grains.GetGrain<Abstractions.Models.IModelDeploymentGrain>(model);
        Assert.Single((await deployment.GetRoutesAsync()).Workers);

        cluster.Clock.Advance(TimeSpan.FromSeconds(31));

        Assert.Empty((await deployment.GetRoutesAsync()).Workers);
    }

    private Task<EmbeddingResponse> CallHostAsync(string silo, EmbeddingRequest request)
    {
        RequestContext.Set(WorkerSiloPlacement.SiloKey, silo);
        try
        {
            return cluster.Grains.GetGrain<IInferenceHostGrain>(WorkerId).EmbedAsync(request, TestContext.Current.CancellationToken);
        }
        finally
        {
            RequestContext.Remove(WorkerSiloPlacement.SiloKey);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }

        Directory.Delete(_models, recursive: true);
    }
}
