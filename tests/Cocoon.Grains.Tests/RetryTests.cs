using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Inference;
using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Workers;
using Cocoon.Inference.Models;
using Cocoon.Testing;

namespace Cocoon.Grains.Tests;

/// <summary>
/// DESIGN section 4: a worker failure before it answers is retried once on another worker. It runs alone (the
/// non-parallel collection), because other classes start and stop MiniLM worker silos in the same cluster, and a lease
/// left behind by one of them would be a second dead worker the retry could land on.
/// </summary>
[Collection(nameof(SerialCollection))]
public sealed class RetryTests(GrainCluster cluster) : IAsyncLifetime
{
    private readonly string _models = Directory.CreateTempSubdirectory("cocoon-retry-models-").FullName;
    private readonly string _deadWorker = "dead-" + Guid.NewGuid().ToString("N")[..6] + "." + BuiltInModels.MiniLmName;
    private readonly string _name = "retry-" + Guid.NewGuid().ToString("N")[..6];
    private CocoonTestNode? _worker;

    public async ValueTask InitializeAsync()
    {
        _worker = await CocoonTestNode.StartAsync(cluster.ClusterId, "worker", cluster.ConnectionString, _name,
            extra: new Dictionary<string, string?>
            {
                ["Cocoon:Worker:Models"] = BuiltInModels.MiniLmName,
                ["Cocoon:Worker:ModelsDirectory"] = _models,
                ["Cocoon:Worker:ExecutionProvider"] = "Cpu",
                ["Cocoon:Worker:AutoDeploy"] = "true",
            });

        // A live lease whose silo is not a member: what a worker that just crashed looks like until its lease runs out.
        await cluster.Grains.GetGrain<IWorkerLeaseGrain>(_deadWorker).RenewAsync(new WorkerRegistration
        {
            Model = BuiltInModels.MiniLmName,
            ModelHash = BuiltInModels.MiniLmOnnxSha256,
            SiloAddress = "127.0.0.1:9@1",
            Capacity = 4,
        }, TimeSpan.FromHours(1));

        // Exactly two workers: ours, once its lease is in, and the dead one. Leases other classes' stopped silos could
        // not release (the cluster's clock is a fake one, so they would never expire) are released here.
        var live = $"{_name}.{BuiltInModels.MiniLmName}";
        var deployment = cluster.Grains.GetGrain<IModelDeploymentGrain>(BuiltInModels.MiniLmName);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        IReadOnlyList<WorkerLease> workers;
        while (!(workers = (await deployment.GetRoutesAsync()).Workers).Any(w => w.WorkerId == live))
        {
            Assert.True(DateTime.UtcNow < deadline, "the test worker's lease did not appear within 60 s");
            await Task.Delay(200);
        }

        foreach (var leftover in workers.Where(w => w.WorkerId != live && w.WorkerId != _deadWorker))
        {
            await cluster.Grains.GetGrain<IWorkerLeaseGrain>(leftover.WorkerId).ReleaseAsync();
        }

        // The service grain's route cache is at most two seconds stale.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
    }

    [Fact]
    public async Task A_request_routed_to_a_dead_worker_is_retried_once_on_a_live_one_and_charged_once()
    {
        var key = ApiKeys.Generate();
        var accountId = "retry-" + Guid.NewGuid().ToString("N")[..8];
        await cluster.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(key)).CreateAsync(accountId, "test");
        var account = cluster.Grains.GetGrain<IEscrowAccountGrain>(accountId);
        await account.DepositAsync("grant", 1_000_000_000);
        var service = cluster.Grains.GetGrain<IInferenceServiceGrain>(0);

        // Routing breaks ties at random and pushes a failed worker down, so within a few requests one lands on the
        // dead worker first (the chance that none of 20 does is 2^-20).
        var responses = new List<PaidEmbeddingResponse>();
        for (var i = 0; i < 20; i++)
        {
            responses.Add(await service.EmbedAsync(key, new EmbeddingRequest { Model = BuiltInModels.MiniLmName, Inputs = [$"retry {i}"] },
                TestContext.Current.CancellationToken));
        }

        Assert.Contains(responses, r => r.Attempts == 2);
        Assert.All(responses, r => Assert.NotEqual(_deadWorker, r.Result.WorkerId));
        var balance = await account.GetBalanceAsync();
        Assert.Equal(responses.Sum(r => r.CostNanoTon), balance.Charged);
        Assert.Equal(0, balance.Reserved);
    }

    public async ValueTask DisposeAsync()
    {
        await cluster.Grains.GetGrain<IWorkerLeaseGrain>(_deadWorker).ReleaseAsync();
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }

        Directory.Delete(_models, recursive: true);
    }
}
