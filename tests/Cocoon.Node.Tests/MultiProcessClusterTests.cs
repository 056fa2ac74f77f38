using System.Globalization;
using Cocoon.Abstractions.Cluster;
using Cocoon.Client;
using Cocoon.Node.Storage;
using Cocoon.Testing;

namespace Cocoon.Node.Tests;

public sealed class MultiProcessClusterTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Two_silo_processes_join_through_the_membership_table_and_calls_cross_between_them()
    {
        var db = await postgres.CreateDatabaseAsync("multiproc");
        var cluster = "mp-" + Guid.NewGuid().ToString("N")[..8];
        await using var proxy = StartNode(cluster, "proxy", db, "proc-proxy");
        await using var worker = StartNode(cluster, "worker", db, "proc-worker");
        await proxy.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(90));
        await worker.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(90));

        Assert.Equal(2, await PostgresFixture.ScalarAsync<int>(db,
            $"SELECT count(*) FROM orleans_membership WHERE deployment_id = '{cluster}' AND status = 3"));

        await using var client = await CocoonClusterClient.ConnectAsync(
            new CocoonClientOptions { ClusterId = cluster, ServiceId = cluster, MembershipConnectionString = db },
            TestContext.Current.CancellationToken);

        // Random placement spreads keys; find one activation in each process.
        var byProcess = new Dictionary<int, (string Key, NodeInfo Info)>();
        for (var i = 0; i < 200 && byProcess.Count < 2; i++)
        {
            var key = $"probe-{i}";
            var info = await client.Grains.GetGrain<INodeInfoGrain>(key).GetInfoAsync();
            byProcess.TryAdd(info.ProcessId, (key, info));
        }

        Assert.Equal(new[] { proxy.Id, worker.Id }.Order(), byProcess.Keys.Order());
        var onProxy = byProcess[proxy.Id];
        var onWorker = byProcess[worker.Id];
        Assert.Equal("proxy", onProxy.Info.Roles);
        Assert.Equal("worker", onWorker.Info.Roles);

        // The grain in the proxy process calls the grain in the worker process: a silo-to-silo call.
        var answer = await client.Grains.GetGrain<INodeInfoGrain>(onProxy.Key).CallAsync(onWorker.Key);
        Assert.Equal(worker.Id, answer.ProcessId);
        Assert.Equal("proc-worker", answer.SiloName);
    }

    private static NodeProcess StartNode(string cluster, string roles, string db, string name) =>
        NodeProcess.Start("cocoon-node",
        [
            "--Cocoon:Mode", "Production",
            "--Cocoon:Roles", roles,
            "--Cocoon:ClusterId", cluster,
            "--Cocoon:ServiceId", cluster,
            "--Cocoon:Silo:Name", name,
            "--Cocoon:Silo:SiloPort", PostgresServer.FreeLoopbackPort().ToString(CultureInfo.InvariantCulture),
            "--Cocoon:Silo:GatewayPort", PostgresServer.FreeLoopbackPort().ToString(CultureInfo.InvariantCulture),
            "--Cocoon:Storage:ConnectionString", db,
            "--Cocoon:Gateway:Url", "http://127.0.0.1:0",
            "--Cocoon:Admin:Port", "0", // several nodes on one machine: each its own admin port
            "--Cocoon:Attestation:Provider", "None", // no TDX on test machines; see CocoonTestNode
            "--Cocoon:Chain:ProxyMnemonic", CocoonTestNode.ProxyMnemonic, // a Production proxy needs its key
        ]);
}
