using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Cocoon.Abstractions.Pricing;
using Cocoon.Grains.Ledger;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Toncenter;

namespace Cocoon.Grains.Tests;

/// <summary>
/// A transaction the chain endpoint serves that is not a valid BoC is a failure of the endpoint (ToncenterException,
/// which settlement retries next cycle), not a FormatException that escapes settlement's chain-failure handling. The
/// answer is a real localnet getTransactions reply (the toncenter fuzz target's seed) with its BoC replaced by one that is not a transaction.
/// </summary>
public sealed class ProxyChainMalformedTests
{
    // The fuzz input's first byte picks the call and status (0: getTransactions, 200); the rest is the answer.
    private static readonly string Seed = Encoding.UTF8.GetString(
        File.ReadAllBytes(Path.Combine(RepoRoot(), "tests", "Cocoon.Gateway.Tests", "Corpus", "toncenter", "seed-transactions-comment.json")).AsSpan(1));

    [Fact]
    public async Task A_malformed_transaction_from_the_endpoint_is_a_chain_failure_and_a_valid_one_parses()
    {
        var valid = await TransactionsAsync(Seed);
        Assert.NotEmpty(valid);

        var json = JsonNode.Parse(Seed)!;
        // A well-formed BoC (the client checks that much) whose cell is not a transaction: one 8-bit cell.
        json["result"]![0]!["data"] = Convert.ToBase64String(Ton.Boc.BagOfCells.Serialize(new Ton.Cells.CellBuilder().StoreUInt(7, 8).EndCell()));
        var e = await Assert.ThrowsAsync<ToncenterException>(() => TransactionsAsync(json.ToJsonString()));
        Assert.Contains("malformed", e.Message, StringComparison.Ordinal);
        Assert.IsType<FormatException>(e.InnerException, exactMatch: false);
    }

    private static async Task<List<(TonTransaction Tx, Ton.Contracts.TransactionSummary Summary)>> TransactionsAsync(string answer)
    {
        using var http = new HttpClient(new Answer(answer));
        var client = new ToncenterClient(http, new ToncenterOptions { Endpoint = new Uri("http://chain.invalid/api/v2/"), MaxRetries = 0 });
        using var key = Ed25519KeyPair.Generate();
        var chain = new ProxyChain(client, new StateSigner(key), new SettlementOptions(), new PriceList { PricePerToken = 20, WorkerFeePerToken = 19 });
        var address = TonAddress.Parse(JsonNode.Parse(answer)!["result"]![0]!["address"]!["account_address"]!.GetValue<string>());
        return await chain.GetTransactionsAfterAsync(address, 0, TestContext.Current.CancellationToken);
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Cocoon.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("Cocoon.sln not found above the test binary");
    }

    private sealed class Answer(string body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, "application/json") });
    }
}
