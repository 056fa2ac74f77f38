using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Cocoon.Inference.Models;
using Cocoon.Node.Storage;
using Cocoon.Testing;

namespace Cocoon.Cli.Tests;

/// <summary>
/// One devnet (a real <c>cocoon devnet</c> process on PostgreSQL) shared by the operator command tests, plus a second
/// worker silo that joins its cluster from the test process, so routing has two workers to choose between. Operator
/// commands run as real <c>cocoon</c> processes against it.
/// </summary>
public sealed class OperatorDevnet : IAsyncLifetime
{
    /// <summary>The devnet silo's worker.</summary>
    public const string DevnetWorker = "devnet." + BuiltInModels.MiniLmName;

    /// <summary>The joined silo's worker.</summary>
    public const string SecondWorker = "w2." + BuiltInModels.MiniLmName;

    private NodeProcess? _devnet;
    private CocoonTestNode? _second;

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "cocoon-ops-test-" + Guid.NewGuid().ToString("N")[..10]);

    public string Gateway { get; private set; } = "";

    public string ApiKey { get; private set; } = "";

    public string Account { get; private set; } = "";

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromMinutes(2) };

    public async ValueTask InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        // Without the local TON chain: these commands never touch it, and it would only make start-up slower.
        _devnet = NodeProcess.Start("cocoon", ["devnet", "--no-chain", "--data-dir", Directory, "--admin-port", "0", "--port", PostgresServer.FreeLoopbackPort().ToString(CultureInfo.InvariantCulture)]);
        await _devnet.WaitForOutputAsync("cocoon devnet ready", TimeSpan.FromMinutes(3));
        using var ready = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Directory, "devnet.json")));
        var root = ready.RootElement;
        Gateway = root.GetProperty("gateway").GetString()!;
        ApiKey = root.GetProperty("apiKey").GetString()!;
        Account = root.GetProperty("account").GetString()!;

        // A worker-only silo in the devnet's cluster: same database, cluster id, simulated authority and image.
        _second = await CocoonTestNode.StartAsync(root.GetProperty("clusterId").GetString()!, "worker", root.GetProperty("membership").GetString(), "w2",
            extra: new Dictionary<string, string?>
            {
                ["Cocoon:Mode"] = "Devnet",
                ["Cocoon:Attestation:Provider"] = "Simulated",
                ["Cocoon:Attestation:SimulatedAuthorityFile"] = root.GetProperty("authorityFile").GetString(),
                ["Cocoon:Worker:Models"] = BuiltInModels.MiniLmName,
                ["Cocoon:Worker:ModelsDirectory"] = Path.Combine(Directory, "models-w2"),
                ["Cocoon:Worker:ExecutionProvider"] = "Cpu",
            });
    }

    /// <summary>Runs <c>cocoon ARGS --data-dir DIR</c> to its end.</summary>
    public async Task<(int ExitCode, string Stdout, string Stderr)> CliAsync(params string[] args)
    {
        await using var cli = NodeProcess.Start("cocoon", [.. args, "--data-dir", Directory]);
        var code = await cli.WaitForExitAsync(TimeSpan.FromMinutes(2));
        return (code, cli.StandardOutput, cli.StandardError);
    }

    /// <summary>Runs a command with <c>--json</c>, asserts it succeeded, and parses its output.</summary>
    public async Task<JsonElement> JsonAsync(params string[] args)
    {
        var (code, stdout, stderr) = await CliAsync([.. args, "--json"]);
        Assert.True(code == 0, $"cocoon {string.Join(' ', args)} exited {code}: {stderr}\n{stdout}");
        using var json = JsonDocument.Parse(stdout);
        return json.RootElement.Clone();
    }

    /// <summary>One embeddings request: the status, the parsed body, and the Retry-After header.</summary>
    public async Task<(int Status, JsonElement Body, string? RetryAfter)> EmbedAsync(string key, string text, long? maxCoefficient = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Gateway + "/v1/embeddings")
        {
            Content = new StringContent(
                JsonSerializer.Serialize(maxCoefficient is null
                    ? new Dictionary<string, object> { ["model"] = BuiltInModels.MiniLmName, ["input"] = text }
                    : new Dictionary<string, object> { ["model"] = BuiltInModels.MiniLmName, ["input"] = text, ["max_coefficient"] = maxCoefficient }),
                Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await Http.SendAsync(request, TestContext.Current.CancellationToken);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        return ((int)response.StatusCode, json.RootElement.Clone(), response.Headers.RetryAfter?.ToString());
    }

    /// <summary>The worker that answered a successful embeddings request.</summary>
    public async Task<string> WorkerOfAsync(string text, long? maxCoefficient = null)
    {
        var (status, body, _) = await EmbedAsync(ApiKey, text, maxCoefficient);
        Assert.True(status == 200, body.ToString());
        return body.GetProperty("cocoon").GetProperty("worker").GetString()!;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (_second is not null)
        {
            await _second.DisposeAsync();
        }

        if (_devnet is not null)
        {
            _devnet.Signal(15);
            try
            {
                await _devnet.WaitForExitAsync(TimeSpan.FromSeconds(60));
            }
            finally
            {
                await _devnet.DisposeAsync();
            }
        }

        var pid = Path.Combine(Directory, "pg", "postmaster.pid");
        if (File.Exists(pid) && PostgresBinaries.Find() is { } binaries)
        {
            using var stop = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(
                Environment.IsPrivilegedProcess ? "runuser" : binaries.Program("pg_ctl"),
                Environment.IsPrivilegedProcess
                    ? ["-u", "postgres", "--", binaries.Program("pg_ctl"), "stop", "-D", Path.Combine(Directory, "pg"), "-m", "immediate"]
                    : ["stop", "-D", Path.Combine(Directory, "pg"), "-m", "immediate"]) { UseShellExecute = false, WorkingDirectory = Path.GetTempPath() });
            stop?.WaitForExit(30_000);
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
