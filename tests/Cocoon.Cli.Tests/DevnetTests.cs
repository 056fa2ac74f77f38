using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Cocoon.Node.Storage;
using Cocoon.Testing;
using Npgsql;

namespace Cocoon.Cli.Tests;

/// <summary><c>cocoon devnet</c> as a user runs it: a real process, its files, its signals.</summary>
public sealed class DevnetTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cocoon-devnet-test-" + Guid.NewGuid().ToString("N")[..10]);

    private sealed record ReadyFile(string Gateway, string ApiKey, string Storage, int Pid, int? PostgresPort);

    private NodeProcess StartDevnet(int port, IDictionary<string, string?>? environment = null) =>
        NodeProcess.Start("cocoon", ["devnet", "--data-dir", _dir, "--port", port.ToString(CultureInfo.InvariantCulture), "--admin-port", "0"], environment);

    private ReadyFile ReadReady()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "devnet.json")));
        var root = json.RootElement;
        return new ReadyFile(
            root.GetProperty("gateway").GetString()!,
            root.GetProperty("apiKey").GetString()!,
            root.GetProperty("storage").GetString()!,
            root.GetProperty("pid").GetInt32(),
            root.TryGetProperty("postgresPort", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt32() : null);
    }

    private string DevnetDatabase(ReadyFile ready) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = ready.PostgresPort!.Value,
        Database = "cocoon",
        Username = PostgresServer.SuperUser,
        Password = File.ReadAllText(Path.Combine(_dir, "pg.password")).Trim(),
        Pooling = false,
    }.ConnectionString;

    [Fact]
    public async Task Devnet_gets_ready_survives_kill_9_and_stops_cleanly_on_SIGTERM()
    {
        var port = PostgresServer.FreeLoopbackPort();
        ReadyFile first;
        (long Cost, long Available) before;
        await using (var devnet = StartDevnet(port))
        {
            await devnet.WaitForOutputAsync("cocoon devnet ready", TimeSpan.FromMinutes(2));
            first = ReadReady();
            Assert.Equal($"http://127.0.0.1:{port}", first.Gateway);
            Assert.Equal("postgresql", first.Storage);
            Assert.StartsWith("sk-cocoon-dev-", first.ApiKey, StringComparison.Ordinal);
            Assert.Contains($"curl -s http://127.0.0.1:{port}/v1/embeddings -H 'Authorization: Bearer {first.ApiKey}'", devnet.StandardOutput, StringComparison.Ordinal);
            await AssertHealthyAsync(first.Gateway);

            // A paid request from the seeded account; then something durable written straight to the database.
            before = await EmbedAsync(first, "before the crash");
            Assert.Equal(DevnetGrant - before.Cost, before.Available);
            await PostgresFixture.ScalarAsync<int>(DevnetDatabase(first), "CREATE TABLE crash_marker AS SELECT 42 AS v; SELECT 1");

            devnet.KillHard();
            await devnet.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }

        await using (var again = StartDevnet(port))
        {
            await again.WaitForOutputAsync("cocoon devnet ready", TimeSpan.FromMinutes(2));
            var second = ReadReady();
            Assert.Equal(first.ApiKey, second.ApiKey);
            Assert.Equal(first.Gateway, second.Gateway);
            Assert.Equal(42, await PostgresFixture.ScalarAsync<int>(DevnetDatabase(second), "SELECT v FROM crash_marker"));
            // The server the killed devnet left running was found and reused, not started twice on one folder.
            Assert.Contains("reusing the PostgreSQL server left running", again.StandardError, StringComparison.Ordinal);
            await AssertHealthyAsync(second.Gateway);

            // The escrow kept its balance through kill -9, and the devnet grant was not paid a second time.
            var after = await EmbedAsync(second, "after the crash");
            Assert.Equal(before.Available - after.Cost, after.Available);

            again.Signal(15);
            Assert.Equal(0, await again.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("PostgreSQL stopped", again.StandardError, StringComparison.Ordinal);
        }

        Assert.False(File.Exists(Path.Combine(_dir, "devnet.json")));
        Assert.False(File.Exists(Path.Combine(_dir, "pg", "postmaster.pid")));
    }

    [Fact]
    public async Task Without_PostgreSQL_binaries_devnet_says_so_loudly_and_runs_in_memory()
    {
        var port = PostgresServer.FreeLoopbackPort();
        await using var devnet = StartDevnet(port, new Dictionary<string, string?> { [PostgresBinaries.BinDirectoryVariable] = "/nonexistent" });

        await devnet.WaitForOutputAsync("cocoon devnet ready", TimeSpan.FromMinutes(2));

        Assert.Equal("memory", ReadReady().Storage);
        Assert.Contains("WARNING: NO POSTGRESQL SERVER BINARIES FOUND: falling back to IN-MEMORY storage", devnet.StandardError, StringComparison.Ordinal);
        Assert.Contains("(storage: memory", devnet.StandardOutput, StringComparison.Ordinal);
        await AssertHealthyAsync(ReadReady().Gateway);
        // SIGTERM, not SIGINT: a process started in the background by a non-interactive shell (as a CI runner may start
        // the tests) inherits SIGINT ignored, and .NET then leaves it ignored; the devnet handles both alike.
        devnet.Signal(15);
        Assert.Equal(0, await devnet.WaitForExitAsync(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public async Task A_gateway_port_in_use_stops_start_up_with_one_clear_line()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        await using var devnet = StartDevnet(port, new Dictionary<string, string?> { [PostgresBinaries.BinDirectoryVariable] = "/nonexistent" });

        Assert.Equal(1, await devnet.WaitForExitAsync(TimeSpan.FromSeconds(60)));

        Assert.Contains($"cocoon devnet: --port {port}: port {port} on 127.0.0.1 is already in use", devnet.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", devnet.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_command_line_is_one_line_on_stderr_and_exit_code_2()
    {
        await using var cli = NodeProcess.Start("cocoon", ["devnet", "--port", "not-a-port"]);

        Assert.Equal(2, await cli.WaitForExitAsync(TimeSpan.FromSeconds(60)));

        Assert.Equal("cocoon: Cannot parse argument 'not-a-port' for option '--port' as expected type 'System.Int32'.", cli.StandardError.Trim());
        Assert.Equal("", cli.StandardOutput.Trim());
    }

    [Fact]
    public async Task A_second_devnet_on_the_same_folder_is_refused()
    {
        var environment = new Dictionary<string, string?> { [PostgresBinaries.BinDirectoryVariable] = "/nonexistent" };
        await using var first = StartDevnet(PostgresServer.FreeLoopbackPort(), environment);
        await first.WaitForOutputAsync("cocoon devnet ready", TimeSpan.FromMinutes(2));

        await using var second = StartDevnet(PostgresServer.FreeLoopbackPort(), environment);

        Assert.Equal(1, await second.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("another cocoon devnet is running with --data-dir", second.StandardError, StringComparison.Ordinal);
        first.Signal(15);
        Assert.Equal(0, await first.WaitForExitAsync(TimeSpan.FromSeconds(60)));
    }

    private const long DevnetGrant = 1_000_000_000_000;

    private static async Task<(long Cost, long Available)> EmbedAsync(ReadyFile ready, string text)
    {
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ready.ApiKey);
        using var response = await http.PostAsync(new Uri(ready.Gateway + "/v1/embeddings"),
            new StringContent("{\"model\":\"all-minilm-l6-v2\",\"input\":\"" + text + "\"}", System.Text.Encoding.UTF8, "application/json"),
            TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, body);
        using var json = JsonDocument.Parse(body);
        Assert.Equal(384, json.RootElement.GetProperty("data")[0].GetProperty("embedding").GetArrayLength());
        var cocoon = json.RootElement.GetProperty("cocoon");
        var cost = cocoon.GetProperty("cost_nanoton").GetInt64();
        Assert.Equal(json.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt64() * 20, cost);
        return (cost, cocoon.GetProperty("available_nanoton").GetInt64());
    }

    private static async Task AssertHealthyAsync(string gateway)
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(gateway + "/healthz"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Contains("\"roles\":\"proxy,worker\"", body, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        // The devnet stops its own PostgreSQL; a test that failed half-way may leave one, which this stops.
        var pid = Path.Combine(_dir, "pg", "postmaster.pid");
        if (File.Exists(pid) && PostgresBinaries.Find() is { } binaries)
        {
            using var stop = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(
                Environment.IsPrivilegedProcess ? "runuser" : binaries.Program("pg_ctl"),
                Environment.IsPrivilegedProcess
                    ? ["-u", "postgres", "--", binaries.Program("pg_ctl"), "stop", "-D", Path.Combine(_dir, "pg"), "-m", "immediate"]
                    : ["stop", "-D", Path.Combine(_dir, "pg"), "-m", "immediate"]) { UseShellExecute = false, WorkingDirectory = Path.GetTempPath() });
            stop?.WaitForExit(30_000);
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
