using System.Text.Json;
using Cocoon.Testing;

namespace Cocoon.Cli.Tests;

/// <summary><c>cocoon attest fetch</c> against a live devnet proxy silo (in this process) serving https with its RA-TLS certificate.</summary>
public sealed class AttestFetchTests : IAsyncLifetime
{
    private CocoonTestNode? _node;

    private Uri Gateway => _node!.GatewayUrl!;

    public async ValueTask InitializeAsync() =>
        _node = await CocoonTestNode.StartAsync("cli-att-" + Guid.NewGuid().ToString("N")[..8], "proxy", null, "cli-attested",
            extra: new Dictionary<string, string?> { ["Cocoon:Gateway:Url"] = "https://127.0.0.1:0" });

    public async ValueTask DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }

    private static async Task<(int Exit, NodeProcess Process)> RunAsync(params string[] arguments)
    {
        var process = NodeProcess.Start("cocoon", ["attest", "fetch", .. arguments]);
        return (await process.WaitForExitAsync(TimeSpan.FromSeconds(60)), process);
    }

    [Fact]
    public async Task Fetch_exits_0_with_devnet_and_reports_the_attested_TLS_certificate()
    {
        var (exit, process) = await RunAsync(Gateway.ToString(), "--devnet", "--json");
        await using var _ = process;

        Assert.True(exit == 0, process.StandardOutput + process.StandardError);
        using var json = JsonDocument.Parse(process.StandardOutput);
        var root = json.RootElement;
        Assert.True(root.GetProperty("valid").GetBoolean());
        Assert.True(root.GetProperty("simulated").GetBoolean());
        Assert.True(root.GetProperty("tlsCertificateAttested").GetBoolean());
        Assert.Equal("cli-attested", root.GetProperty("claims.silo").GetString());
    }

    [Fact]
    public async Task Fetch_without_devnet_exits_1_naming_the_simulated_quote_step()
    {
        var (exit, process) = await RunAsync(Gateway.ToString());
        await using var _ = process;

        Assert.Equal(1, exit);
        Assert.Contains("FAILED at Certificate/SimulatedQuote", process.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fetch_of_nothing_exits_1_at_the_fetch_step()
    {
        var (exit, process) = await RunAsync($"http://127.0.0.1:{FreePort()}", "--devnet");
        await using var _ = process;

        Assert.Equal(1, exit);
        Assert.Contains("FAILED at Fetch", process.StandardError, StringComparison.Ordinal);
    }

    private static int FreePort() => Cocoon.Node.Storage.PostgresServer.FreeLoopbackPort(); // nothing listens there
}
