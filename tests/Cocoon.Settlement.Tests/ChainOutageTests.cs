using System.Text.Json.Nodes;
using Cocoon.Abstractions;
using Cocoon.Ton.Contracts;

namespace Cocoon.Settlement.Tests;

/// <summary>
/// Tests that stop the shared local chain. Every other settlement test uses that chain, so these run in a collection
/// of their own with parallelization off: xunit runs it after the parallel collections, alone, and no other test sees
/// the outage (or the disposed client of a stopped chain).
/// </summary>
[CollectionDefinition(nameof(ChainOutageCollection), DisableParallelization = true)]
public sealed class ChainOutageCollection;

/// <summary>Issue 5: with the chain endpoint down, requests are served within the stake and settlement catches up.</summary>
[Collection(nameof(ChainOutageCollection))]
public sealed class ChainOutageTests(SettlementCluster cluster)
{
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(60);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task With_the_chain_down_requests_are_served_within_the_stake_and_settlement_catches_up_without_double_charges()
    {
        var (accountId, apiKey) = await cluster.NewAccountAsync("down");
        var client = await cluster.NewWalletAsync(20_000_000_000);
        await cluster.Settlement.RegisterClientAsync(accountId, client.Address.ToFriendlyString());
        var contract = cluster.ClientContractOf(client.Address);
        await client.SendAsync([contract.DeployMessage(3_000_000_000)]);
        await cluster.Settlement.SettleNowAsync(SettleTimeout); // credits the deposit
        await cluster.EmbedAsync(apiKey, "before the outage");
        await cluster.Settlement.SettleNowAsync(SettleTimeout);
        var settledBefore = await cluster.Escrow(accountId).GetLedgerAsync();
        Assert.Equal(SettlementCluster.ClientStake, settledBefore.StakeNanoTon);
        Assert.Equal(0, settledBefore.UnchargedNanoTon);

        // Eight inputs of the model's full context: each request holds and costs about 40% of the stake.
        var longText = string.Join(' ', Enumerable.Repeat("settlement", 254));
        var large = Enumerable.Repeat(longText, 8).ToArray();
        var servedLarge = 0;
        JsonObject? refusal = null;
        await cluster.Chain.StopAsync();
        try
        {
            // Served from the escrow balance while the chain is unreachable; settling says why it cannot.
            for (var i = 0; i < 3; i++)
            {
                await cluster.EmbedAsync(apiKey, $"during the outage {i}");
            }

            var e = await Assert.ThrowsAsync<CocoonApiException>(() => cluster.Settlement.SettleNowAsync(TimeSpan.FromSeconds(2)));
            Assert.Equal("chain_unavailable", e.Code);
            var status = await cluster.Settlement.GetStatusAsync();
            Assert.True(status.ConsecutiveFailures > 0);
            Assert.NotNull(status.LastError);

            // ... until what is charged off chain and not yet on chain reaches the stake: then 402 stake_exhausted.
            for (var i = 0; i < 10 && refusal is null; i++)
            {
                var (code, body) = await cluster.TryEmbedAsync(apiKey, large);
                if (code == 200)
                {
                    servedLarge++;
                    continue;
                }

                Assert.True(code == 402, $"HTTP {code}: {body}");
                refusal = body;
            }

            Assert.NotNull(refusal);
            Assert.Equal("stake_exhausted", refusal["error"]!["code"]!.GetValue<string>());
            Assert.True(servedLarge >= 1, "at least one large request is served within the stake during the outage");
            var atRefusal = await cluster.Escrow(accountId).GetLedgerAsync();
            Assert.True(atRefusal.UnchargedNanoTon is > 0 and <= SettlementCluster.ClientStake, $"uncharged {atRefusal.UnchargedNanoTon}");
            Assert.Equal(0, atRefusal.Balance.Reserved);
            Assert.True(atRefusal.Balance.Available > 1_000_000_000, "the balance would cover it: the stake refused it");
        }
        finally
        {
            await cluster.RestartChainAsync();
        }

        // The chain is back: the charges reach it, and the stake is free again for the very request refused before.
        var caughtUp = await cluster.Settlement.SettleNowAsync(SettleTimeout);
        Assert.Equal(0, (await cluster.Escrow(accountId).GetLedgerAsync()).UnchargedNanoTon);
        await cluster.EmbedAsync(apiKey, large);
        await cluster.Settlement.SettleNowAsync(SettleTimeout);

        var ledger = await cluster.Escrow(accountId).GetLedgerAsync();
        var onChain = await ClientContract.GetInfoAsync(cluster.Ton, contract.Address, Ct);
        Assert.True(ledger.ChargedTokens > settledBefore.ChargedTokens);
        Assert.Equal((ulong)ledger.ChargedTokens, onChain.TokensCharged);
        Assert.Equal(ledger.Balance.Balance, (long)onChain.Balance); // charged once: balance equals the ledger exactly
        Assert.Equal(0, caughtUp.ConsecutiveFailures);

        // Settling again after the catch-up sends nothing more.
        await cluster.Settlement.SettleNowAsync(SettleTimeout);
        Assert.Equal(onChain, await ClientContract.GetInfoAsync(cluster.Ton, contract.Address, Ct));
    }
}
