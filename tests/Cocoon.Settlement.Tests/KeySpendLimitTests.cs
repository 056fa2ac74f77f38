using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Operations;

namespace Cocoon.Settlement.Tests;

/// <summary>
/// Issue 8 item 2 on the full path (HTTP gateway, service grain, escrow, real MiniLM): an API key's spend limit holds
/// when many requests through the key arrive at once, because each request holds its worst case on the key before
/// the escrow reserves it; checked before the request only, all of them would pass and overshoot the limit.
/// </summary>
public sealed class KeySpendLimitTests(SettlementCluster cluster)
{
    [Fact]
    public async Task Concurrent_requests_through_one_key_never_spend_past_its_limit()
    {
        // Each request is one input of the model's full context (256 tokens), so it costs exactly what it holds.
        var input = string.Join(' ', Enumerable.Repeat("limit", 254));
        var accountId = "limit-" + Guid.NewGuid().ToString("N")[..8];
        await cluster.Escrow(accountId).DepositAsync("grant", 10_000_000_000);
        var first = await cluster.EmbedAsync(await NewKeyAsync(accountId, 0), input);
        var cost = first["cocoon"]!["cost_nanoton"]!.GetValue<long>();
        Assert.Equal(256 * SettlementCluster.PricePerToken, cost);

        var key = await NewKeyAsync(accountId, 3 * cost);
        var before = await cluster.Escrow(accountId).GetBalanceAsync();
        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => cluster.TryEmbedAsync(key, input)));

        var served = answers.Count(a => a.Status == 200);
        var refused = answers.Where(a => a.Status != 200).ToList();
        Assert.Equal(3, served);
        Assert.All(refused, a =>
        {
            Assert.Equal(402, a.Status);
            Assert.Equal("key_spend_limit_reached", a.Body["error"]!["code"]!.GetValue<string>());
        });

        var details = await cluster.Node.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(key)).GetDetailsAsync();
        var after = await cluster.Escrow(accountId).GetBalanceAsync();
        Assert.Equal(3 * cost, details!.SpentNanoTon);
        Assert.Equal(3 * cost, after.Charged - before.Charged); // refused requests were never reserved nor charged
        Assert.Equal(0, after.Reserved);
    }

    private async Task<string> NewKeyAsync(string accountId, long spendLimit)
    {
        var key = ApiKeys.Generate();
        await cluster.Node.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(key)).CreateAsync(accountId, "limit", new ApiKeyLimits { SpendLimitNanoTon = spendLimit });
        return key;
    }
}
