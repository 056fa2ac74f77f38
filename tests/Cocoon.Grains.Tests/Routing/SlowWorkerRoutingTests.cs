using System.Collections.Concurrent;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Inference;
using Cocoon.Abstractions.Workers;
using Cocoon.Testing;

namespace Cocoon.Grains.Tests.Routing;

/// <summary>
/// Issue 8: a deliberately slow worker receives a shrinking share of the traffic. Two worker silos beside the cluster's
/// proxy, each running a test-only engine for one model: one answers at once, the other waits a second per batch (far slower than the fast one's round trip even on a loaded machine). The
/// shares are counted over the requests in the order they were routed; nothing is asserted on time.
/// </summary>
public sealed class SlowWorkerRoutingTests(GrainCluster cluster) : IAsyncLifetime
{
    private const int Clients = 4;
    private const int Requests = 240;
    private readonly string _model = "slowroute-" + Guid.NewGuid().ToString("N")[..8];
    private CocoonTestNode? _fastSilo;
    private CocoonTestNode? _slowSilo;

    private string FastWorker => "fast." + _model;

    private string SlowWorker => "slow." + _model;

    public async ValueTask InitializeAsync()
    {
        var fast = CocoonTestNode.StartAsync(cluster.ClusterId, "worker", cluster.ConnectionString, "fast-" + _model);
        var slow = CocoonTestNode.StartAsync(cluster.ClusterId, "worker", cluster.ConnectionString, "slow-" + _model);
        _fastSilo = await fast;
        _slowSilo = await slow;

        // Capacity well above the clients, so "at capacity" never decides: only latency and load do.
        await TestEmbeddingEngine.AddWorkerAsync(_fastSilo, FastWorker, new TestEmbeddingEngine(_model, TimeSpan.Zero), TimeSpan.FromHours(1), capacity: 64);
        await TestEmbeddingEngine.AddWorkerAsync(_slowSilo, SlowWorker, new TestEmbeddingEngine(_model, TimeSpan.FromSeconds(1)), TimeSpan.FromHours(1), capacity: 64);
    }

    [Fact]
    public async Task A_slow_worker_gets_a_shrinking_share_of_the_traffic()
    {
        var key = ApiKeys.Generate();
        var accountId = "slowroute-" + Guid.NewGuid().ToString("N")[..8];
        await cluster.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(key)).CreateAsync(accountId, "test");
        var account = cluster.Grains.GetGrain<IEscrowAccountGrain>(accountId);
        await account.DepositAsync("grant", 1_000_000_000_000);
        var service = cluster.Grains.GetGrain<IInferenceServiceGrain>(0);

        // Each request takes a number in the order it is sent; the worker that served it is kept under that number.
        var served = new ConcurrentDictionary<int, PaidEmbeddingResponse>();
        var next = -1;
        var ct = TestContext.Current.CancellationToken;
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Requests)
            {
                served[i] = await service.EmbedAsync(key, new EmbeddingRequest { Model = _model, Inputs = [$"request number {i}"] }, ct);
            }
        }, ct)));

        Assert.Equal(Requests, served.Count);
        var byOrder = Enumerable.Range(0, Requests).Select(i => served[i].Result.WorkerId).ToList();
        Assert.All(byOrder, w => Assert.Contains(w, new[] { FastWorker, SlowWorker }));
        double SlowShare(IEnumerable<string> window) => window.Average(w => w == SlowWorker ? 1.0 : 0.0);
        var first = byOrder.Take(3 * Clients).ToList();
        var last = byOrder.Skip(Requests / 3).ToList();

        // A new worker has no figures, so it starts on a neutral prior (the median of the others' latency: a tie with
        // the fast worker, broken by load or at random) and gets traffic at once; once its latency is known it only gets
        // the exploration share (about 2.5 % with two workers), so its share falls.
        Assert.True(first.Any(w => w == SlowWorker), $"the slow worker got {first.Count(w => w == SlowWorker)} of the first {first.Count} requests");
        Assert.True(SlowShare(last) < SlowShare(first), $"slow share {SlowShare(first):P1} in the first {first.Count}, {SlowShare(last):P1} in the last {last.Count}");
        Assert.True(SlowShare(last) <= 0.15, $"the slow worker still got {SlowShare(last):P1} of the last {last.Count} requests");
        Assert.True(byOrder.Count(w => w == FastWorker) > 3 * byOrder.Count(w => w == SlowWorker));

        // Every request charged once.
        var balance = await account.GetBalanceAsync();
        Assert.Equal(served.Values.Sum(r => r.CostNanoTon), balance.Charged);
        Assert.Equal(Requests, served.Values.Select(r => r.RequestId).Distinct().Count());
        Assert.Equal(0, balance.Reserved);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var worker in new[] { FastWorker, SlowWorker })
        {
            await cluster.Grains.GetGrain<IWorkerLeaseGrain>(worker).ReleaseAsync();
        }

        foreach (var silo in new[] { _fastSilo, _slowSilo })
        {
            if (silo is not null)
            {
                await silo.DisposeAsync();
            }
        }
    }
}
