using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text.Json;
using Cocoon.Gateway.Tests;
using Cocoon.Node.Configuration;
using Cocoon.Node.Storage;
using Cocoon.Observability.Tests.Support;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Observability.Tests;

/// <summary><c>/healthz</c>, <c>/readyz</c> and where the admin port listens.</summary>
[Collection(ObservabilityCollection.Name)]
public sealed class HealthTests(GatewayCluster cluster)
{
    private static Dictionary<string, string> Checks(string body) =>
        JsonDocument.Parse(body).RootElement.GetProperty("checks").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("status").GetString()!);

    [Fact]
    public async Task Healthz_is_alive_and_readyz_names_every_check_ready_on_proxy_and_worker()
    {
        var (status, body) = await Traffic.GetAsync(cluster.Proxy.AdminUrl!, "/healthz");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("alive", JsonDocument.Parse(body).RootElement.GetProperty("status").GetString());

        (status, body) = await Traffic.GetAsync(cluster.Proxy.AdminUrl!, "/readyz");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ready", JsonDocument.Parse(body).RootElement.GetProperty("status").GetString());
        Assert.Equal(new Dictionary<string, string> { ["cluster"] = "ready", ["storage"] = "ready", ["attestation"] = "ready", ["chain"] = "ready" },
            Checks(body).Where(c => c.Key is "cluster" or "storage" or "attestation" or "chain").ToDictionary());

        (status, body) = await Traffic.GetAsync(cluster.WorkerA.AdminUrl!, "/readyz");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ready", Checks(body)["models"]);
        Assert.Contains(GatewayCluster.Model, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_admin_port_binds_loopback_by_default_and_serves_the_orleans_dashboard()
    {
        var settings = cluster.Proxy.Host.Services.GetRequiredService<NodeSettings>();
        Assert.Equal(IPAddress.Loopback, settings.Observability.AdminEndpoint.Address);
        var admin = cluster.Proxy.AdminUrl!;
        Assert.Equal("127.0.0.1", admin.Host);

        // Not reachable through any other address of this machine.
        var others = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            .ToList();
        foreach (var address in others)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            var e = await Assert.ThrowsAsync<SocketException>(async () => await socket.ConnectAsync(address, admin.Port, TestContext.Current.CancellationToken));
            Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        }

        // The Orleans Dashboard is mounted and reads the live cluster.
        ClusterObservation.Attach(cluster);
        var (status, page) = await Traffic.GetAsync(admin, "/dashboard/");
        Assert.True(status == HttpStatusCode.OK, $"{status}: {string.Join('\n', ClusterObservation.Logs.Lines.Where(l => l.Contains("xception", StringComparison.Ordinal)).TakeLast(2))}");
        Assert.Contains("<html", page, StringComparison.OrdinalIgnoreCase);
        var (countersStatus, counters) = await Traffic.GetAsync(admin, "/dashboard/DashboardCounters");
        Assert.True(countersStatus == HttpStatusCode.OK, $"{countersStatus}: {string.Join('\n', ClusterObservation.Logs.Lines.Where(l => l.Contains("xception", StringComparison.Ordinal)).TakeLast(2))}");
        Assert.Contains("worker-a", counters, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readyz_is_503_naming_storage_while_postgresql_is_down_and_ready_again_after()
    {
        await using var postgres = new PostgresFixture();
        await postgres.InitializeAsync();
        var database = await postgres.CreateDatabaseAsync("readyz");
        PostgresServer? restarted = null;
        await using var node = await CocoonTestNode.StartAsync("readyz-" + Guid.NewGuid().ToString("N")[..8], "proxy", database, "readyz");
        try
        {
            var (status, body) = await Traffic.GetAsync(node.AdminUrl!, "/readyz");
            Assert.Equal(HttpStatusCode.OK, status);

            var port = postgres.Server.Port;
            var dataDirectory = postgres.Server.DataDirectory;
            await postgres.Server.StopAsync();
            (status, body) = await Traffic.GetAsync(node.AdminUrl!, "/readyz");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Assert.Equal("not_ready", Checks(body)["storage"]);
            Assert.Equal("not_ready", JsonDocument.Parse(body).RootElement.GetProperty("status").GetString());
            Assert.DoesNotContain("Password", body, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(HttpStatusCode.OK, (await Traffic.GetAsync(node.AdminUrl!, "/healthz")).Status);

            restarted = await PostgresServer.StartAsync(new PostgresServerOptions { DataDirectory = dataDirectory, PreferredPort = port, Durable = false },
                cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(port, restarted.Port);
            (status, body) = await Traffic.GetAsync(node.AdminUrl!, "/readyz");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("ready", Checks(body)["storage"]);
        }
        finally
        {
            await node.StopAsync();
            if (restarted is not null)
            {
                await restarted.StopAsync();
            }
        }
    }
}
