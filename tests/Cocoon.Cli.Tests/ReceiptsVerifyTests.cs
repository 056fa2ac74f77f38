using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Inference.Models;
using Cocoon.Testing;

namespace Cocoon.Cli.Tests;

/// <summary>A live devnet silo (proxy and worker, simulated quotes) in this process, and one embeddings answer saved to files.</summary>
public sealed class ReceiptsCliDevnet : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cocoon-cli-receipts-").FullName;
    private CocoonTestNode? _node;
    private string _receiptFile = "";
    private string _responseFile = "";

    /// <summary>The folder the files are in.</summary>
    public string Dir => _dir;

    /// <summary>The saved <c>Cocoon-Receipt</c> header.</summary>
    public string ReceiptFile => _receiptFile;

    /// <summary>The saved response body.</summary>
    public string ResponseFile => _responseFile;

    /// <summary>The silo's gateway.</summary>
    public Uri Gateway => _node!.GatewayUrl!;

    public async ValueTask InitializeAsync()
    {
        _node = await CocoonTestNode.StartAsync("cli-rcpt-" + Guid.NewGuid().ToString("N")[..8], "proxy,worker", null, "cli-receipts",
            extra: new Dictionary<string, string?>
            {
                ["Cocoon:Worker:Models"] = BuiltInModels.MiniLmName,
                ["Cocoon:Worker:ModelsDirectory"] = Path.Combine(_dir, "models"),
                ["Cocoon:Worker:ExecutionProvider"] = "Cpu",
                ["Cocoon:Worker:AutoDeploy"] = "true",
            });
        var accountId = "cli-" + Guid.NewGuid().ToString("N")[..8];
        var apiKey = ApiKeys.Generate();
        await _node.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(apiKey)).CreateAsync(accountId, "cli");
        await _node.Grains.GetGrain<IEscrowAccountGrain>(accountId).DepositAsync("grant", 1_000_000_000);

        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Gateway, "/v1/embeddings"))
        {
            Content = JsonContent.Create(new { model = BuiltInModels.MiniLmName, input = "a receipt for the command line" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode);
        _receiptFile = Path.Combine(_dir, "receipt.txt");
        _responseFile = Path.Combine(_dir, "response.json");
        await File.WriteAllTextAsync(_receiptFile, response.Headers.GetValues("Cocoon-Receipt").Single());
        await File.WriteAllTextAsync(_responseFile, await response.Content.ReadAsStringAsync());
    }

    public async ValueTask DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary><c>cocoon receipts verify</c> on receipts from <see cref="ReceiptsCliDevnet"/>.</summary>
public sealed class ReceiptsVerifyTests(ReceiptsCliDevnet devnet) : IClassFixture<ReceiptsCliDevnet>
{
    private Uri Gateway => devnet.Gateway;

    private static async Task<(int Exit, NodeProcess Process)> RunAsync(params string[] arguments)
    {
        var process = NodeProcess.Start("cocoon", ["receipts", "verify", .. arguments]);
        return (await process.WaitForExitAsync(TimeSpan.FromSeconds(60)), process);
    }

    [Fact]
    public async Task A_receipt_and_its_response_verify_with_exit_0()
    {
        var (exit, process) = await RunAsync(devnet.ReceiptFile, "--gateway", Gateway.ToString(), "--response", devnet.ResponseFile, "--devnet", "--json");
        await using var _ = process;

        Assert.True(exit == 0, process.StandardOutput + process.StandardError);
        using var json = JsonDocument.Parse(process.StandardOutput);
        Assert.True(json.RootElement.GetProperty("valid").GetBoolean());
        Assert.True(json.RootElement.GetProperty("responseChecked").GetBoolean());
        Assert.True(json.RootElement.GetProperty("simulated").GetBoolean());

        // The whole response body works as the receipt file too (its cocoon_receipt field).
        (exit, var fromBody) = await RunAsync(devnet.ResponseFile, "--gateway", Gateway.ToString(), "--devnet");
        await using var __ = fromBody;
        Assert.True(exit == 0, fromBody.StandardOutput + fromBody.StandardError);
        Assert.StartsWith("OK:", fromBody.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_response_or_production_policy_exit_1_naming_the_check_and_garbage_exits_2()
    {
        var other = Path.Combine(devnet.Dir, "other.txt");
        await File.WriteAllTextAsync(other, "some other answer", TestContext.Current.CancellationToken);
        var (exit, process) = await RunAsync(devnet.ReceiptFile, "--gateway", Gateway.ToString(), "--response", other, "--devnet");
        await using (process)
        {
            Assert.Equal(1, exit);
            Assert.Contains("FAILED at Response", process.StandardError, StringComparison.Ordinal);
        }

        (exit, process) = await RunAsync(devnet.ReceiptFile, "--gateway", Gateway.ToString());
        await using (process)
        {
            Assert.Equal(1, exit);
            Assert.Contains("FAILED at WorkerAttestation", process.StandardError, StringComparison.Ordinal);
        }

        var garbage = Path.Combine(devnet.Dir, "garbage.txt");
        await File.WriteAllTextAsync(garbage, "definitely not a receipt", TestContext.Current.CancellationToken);
        (exit, process) = await RunAsync(garbage, "--gateway", Gateway.ToString(), "--devnet");
        await using (process)
        {
            Assert.Equal(2, exit);
            Assert.Contains("cocoon receipts verify:", process.StandardError, StringComparison.Ordinal);
        }
    }
}
