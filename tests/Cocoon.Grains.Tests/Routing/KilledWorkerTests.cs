using System.Collections.Concurrent;
using System.Globalization;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Inference;
using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Operations;
using Cocoon.Abstractions.Workers;
using Cocoon.Inference.Models;
using Cocoon.Node.Storage;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Grains.Tests.Routing;

/// <summary>
/// Issue 8: a worker silo killed mid-load (kill -9 of a separate <c>cocoon-node</c> process running real MiniLM) loses
/// its lease, traffic moves to the other worker (an in-process worker silo with MiniLM), no request is charged twice
/// (the escrow's stored settlements, read from PostgreSQL, are exactly the answered requests and add up to what was
/// charged) and no reservation outlives its expiry. Both workers serve MiniLM under a model name of this test's own, so
/// no other class's worker is in its live set. Runs in the clock-moving collection: it moves the proxy's clock past the
/// lease and the reservation lifetimes.
/// </summary>
[Collection(nameof(SerialCollection))]
public sealed class KilledWorkerTests(GrainCluster cluster) : IAsyncLifetime
{
    private const int LeaseSeconds = 6;
    private const int Clients = 4;
    private readonly string _models = Directory.CreateTempSubdirectory("cocoon-kill-models-").FullName;
    private readonly string _model = "kill-" + Guid.NewGuid().ToString("N")[..8];
    private NodeProcess? _victim;
    private CocoonTestNode? _survivor;

    private string VictimWorker => $"victim.{_model}";

    private string SurvivorWorker => $"survivor.{_model}";

    public async ValueTask InitializeAsync()
    {
        BuiltInModels.MaterializeMiniLm(Path.Combine(_models, _model));
        _victim = NodeProcess.Start("cocoon-node",
        [
            "--Cocoon:Mode", "Production",
            "--Cocoon:Roles", "worker",
            "--Cocoon:ClusterId", cluster.ClusterId,
            "--Cocoon:ServiceId", cluster.ClusterId,
            "--Cocoon:Silo:Name", "victim-" + _model,
            "--Cocoon:Silo:AdvertisedAddress", "127.0.0.1",
            "--Cocoon:Silo:SiloPort", PostgresServer.FreeLoopbackPort().ToString(CultureInfo.InvariantCulture),
            "--Cocoon:Silo:GatewayPort", PostgresServer.FreeLoopbackPort().ToString(CultureInfo.InvariantCulture),
            "--Cocoon:Storage:ConnectionString", cluster.ConnectionString,
            "--Cocoon:Admin:Port", "0",
            "--Cocoon:Attestation:Provider", "None",
            "--Cocoon:Chain:ProxyMnemonic", CocoonTestNode.ProxyMnemonic,
            "--Cocoon:Worker:Id", "victim",
            "--Cocoon:Worker:Models", _model,
            "--Cocoon:Worker:ModelsDirectory", _models,
            "--Cocoon:Worker:ExecutionProvider", "Cpu",
            "--Cocoon:Worker:AutoDeploy", "true",
            "--Cocoon:Worker:LeaseSeconds", LeaseSeconds.ToString(CultureInfo.InvariantCulture),
        ]);
        _survivor = await CocoonTestNode.StartAsync(cluster.ClusterId, "worker", cluster.ConnectionString, "survivor-" + _model,
            extra: new Dictionary<string, string?>
            {
                ["Cocoon:Worker:Id"] = "survivor",
                ["Cocoon:Worker:Models"] = _model,
                ["Cocoon:Worker:ModelsDirectory"] = _models,
                ["Cocoon:Worker:ExecutionProvider"] = "Cpu",
                ["Cocoon:Worker:AutoDeploy"] = "true",
                ["Cocoon:Worker:LeaseSeconds"] = LeaseSeconds.ToString(CultureInfo.InvariantCulture),
            });

        // Both leases in the live set before any request (the proxy's route cache is read on the first one).
        var deployment = cluster.Grains.GetGrain<IModelDeploymentGrain>(_model);
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while ((await deployment.GetRoutesAsync()).Workers.Count(w => w.WorkerId == VictimWorker || w.WorkerId == SurvivorWorker) < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the two workers did not register within 120 s.\nvictim stdout:\n{_victim.StandardOutput}\nstderr:\n{_victim.StandardError}");
            Assert.False(_victim.HasExited, $"the victim exited early.\nstdout:\n{_victim.StandardOutput}\nstderr:\n{_victim.StandardError}");
            await Task.Delay(250);
        }
    }

    [Fact]
    public async Task A_killed_worker_loses_its_lease_traffic_moves_and_nothing_is_charged_twice_or_left_reserved()
    {
        var ct = TestContext.Current.CancellationToken;
        // One account per client, each well below the 256 settlements an escrow row remembers.
        var keys = new string[Clients];
        var accountIds = new string[Clients];
        for (var c = 0; c < Clients; c++)
        {
            keys[c] = ApiKeys.Generate();
            accountIds[c] = "kill-" + Guid.NewGuid().ToString("N")[..8];
            await cluster.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(keys[c])).CreateAsync(accountIds[c], "test");
            await Account(accountIds[c]).DepositAsync("grant", 1_000_000_000_000);
        }

        var service = cluster.Grains.GetGrain<IInferenceServiceGrain>(0);

        var answered = new ConcurrentQueue<(PaidEmbeddingResponse Response, bool AfterKill, int Client)>();
        var failed = new ConcurrentQueue<Exception>();
        var killed = 0;
        var answeredAfterKill = 0;
        var sent = 0;
        var stopAt = DateTime.UtcNow.AddSeconds(150);

        // Clients send until the victim has served some of the load (routing prefers the faster in-process worker, so
        // at most 100 answers), then it is killed while requests are in flight; they go on until 30 more are answered.
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(client => Task.Run(async () =>
        {
            while (Volatile.Read(ref answeredAfterKill) < 30 && DateTime.UtcNow < stopAt)
            {
                var i = Interlocked.Increment(ref sent);
                var afterKill = Volatile.Read(ref killed) == 1;
                try
                {
                    var response = await service.EmbedAsync(keys[client], new EmbeddingRequest { Model = _model, Inputs = [$"client {client} request {i}"] }, ct);
                    answered.Enqueue((response, afterKill, client));
                    if (afterKill)
                    {
                        Interlocked.Increment(ref answeredAfterKill);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    failed.Enqueue(e);
                }

                if ((answered.Count(a => a.Response.Result.WorkerId == VictimWorker) >= 3 || answered.Count >= 100)
                    && Interlocked.CompareExchange(ref killed, 1, 0) == 0)
                {
                    _victim!.KillHard();
                }
            }
        }, ct)));

        Assert.Equal(1, killed);
        Assert.Contains(answered, a => !a.AfterKill && a.Response.Result.WorkerId == VictimWorker);
        Assert.True(Volatile.Read(ref answeredAfterKill) >= 30, $"only {answeredAfterKill} answers after the kill; failures: {string.Join("; ", failed.Select(f => f.Message))}");

        // Traffic moved: a request sent after the kill was answered by the survivor, at worst on its second attempt
        // (the first went to the dead worker before routing knew). Requests in flight at the kill were retried too.
        Assert.All(answered.Where(a => a.AfterKill), a => Assert.Equal(SurvivorWorker, a.Response.Result.WorkerId));
        // Until the membership declares the dead silo dead, a call whose grain-directory entry lived on it fails (the
        // directory spans every silo): such a request fails as unavailable and, as checked below, is not charged.
        // Nothing else may fail.
        Assert.All(failed, f => Assert.True(f is OrleansException or CocoonApiException { Status: 503 }, f.ToString()));
        Assert.True(failed.Count <= answered.Count / 4, $"{failed.Count} requests failed: {string.Join("; ", failed.Select(f => f.GetType().Name + ": " + f.Message))}");

        // Its lease is lost: the survivor keeps renewing, the victim cannot. Moving the proxy's clock past the lease
        // time leaves the survivor alone in the live set once it renewed.
        cluster.Clock.Advance(TimeSpan.FromSeconds(LeaseSeconds + 1));
        var deployment = cluster.Grains.GetGrain<IModelDeploymentGrain>(_model);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        IReadOnlyList<WorkerLease> live;
        while ((live = (await deployment.GetRoutesAsync()).Workers).Select(w => w.WorkerId).SequenceEqual([SurvivorWorker]) is false)
        {
            Assert.True(DateTime.UtcNow < deadline, $"live set {string.Join(", ", live.Select(w => w.WorkerId))}");
            await Task.Delay(200, ct);
        }

        var victimDetails = await cluster.Grains.GetGrain<IWorkerAdminGrain>(VictimWorker).GetDetailsAsync();
        Assert.NotNull(victimDetails);
        Assert.False(victimDetails.Live);

        // New requests go to the survivor at the first attempt: the dead worker is no longer a candidate.
        for (var i = 0; i < 5; i++)
        {
            var response = await service.EmbedAsync(keys[0], new EmbeddingRequest { Model = _model, Inputs = [$"after expiry {i}"] }, ct);
            Assert.Equal(SurvivorWorker, response.Result.WorkerId);
            Assert.Equal(1, response.Attempts);
            answered.Enqueue((response, true, 0));
        }

        // Nothing charged twice: each account's stored settlements are exactly its answered requests, each once, at the
        // price each answer reported, and they add up to the account's charged total.
        Assert.Equal(answered.Count, answered.Select(a => a.Response.RequestId).Distinct().Count());
        for (var c = 0; c < Clients; c++)
        {
            var responses = answered.Where(a => a.Client == c).Select(a => a.Response).ToList();
            Assert.True(responses.Count < 256, "the escrow remembers the last 256 settlements; keep each account below that");
            var settled = StoredState.Settled(await StoredState.ReadEscrowAsync(cluster.ConnectionString, cluster.ClusterId, accountIds[c]));
            Assert.Equal(responses.Select(r => r.RequestId).Order(StringComparer.Ordinal), settled.Keys.Order(StringComparer.Ordinal));
            Assert.All(responses, r => Assert.Equal(r.CostNanoTon, settled[r.RequestId]));
            var balance = await Account(accountIds[c]).GetBalanceAsync();
            Assert.Equal(settled.Values.Sum(), balance.Charged);
            Assert.Equal(responses.Sum(r => r.CostNanoTon), balance.Charged);
        }

        // No reservation outlives its expiry: past the longest reservation lifetime, with the expiry reminder run,
        // nothing is held, and nothing more was charged.
        cluster.Clock.Advance(TimeSpan.FromMinutes(31));
        for (var c = 0; c < Clients; c++)
        {
            deadline = DateTime.UtcNow.AddSeconds(60);
            EscrowBalance balance;
            while ((balance = await Account(accountIds[c]).GetBalanceAsync()).Reserved != 0)
            {
                Assert.True(DateTime.UtcNow < deadline, $"{balance.Reserved} nanoTON still reserved after every reservation expired");
                await Task.Delay(250, ct);
            }

            Assert.Equal(answered.Where(a => a.Client == c).Sum(a => a.Response.CostNanoTon), balance.Charged);
        }
    }

    private IEscrowAccountGrain Account(string accountId) => cluster.Grains.GetGrain<IEscrowAccountGrain>(accountId);

    public async ValueTask DisposeAsync()
    {
        // Out of the live set for the classes after this one (retried: the dead silo may still hold directory entries).
        foreach (var worker in new[] { VictimWorker, SurvivorWorker })
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await cluster.Grains.GetGrain<IWorkerLeaseGrain>(worker).ReleaseAsync();
                    break;
                }
                catch (OrleansException) when (attempt < 60)
                {
                    await Task.Delay(500);
                }
            }
        }

        if (_victim is not null)
        {
            await _victim.DisposeAsync();
        }

        // The tests after this one run on the same cluster: wait until the killed silo is declared dead, so none of them
        // sends a reminder registration or a directory lookup to a silo that will never answer.
        var membership = cluster.Node.Host.Services.GetRequiredService<IClusterMembershipService>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (membership.CurrentSnapshot.Members.Values.Any(m => m.Name == "victim-" + _model && m.Status != SiloStatus.Dead) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
        }

        if (_survivor is not null)
        {
            await _survivor.DisposeAsync();
        }

        Directory.Delete(_models, recursive: true);
    }
}
