using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Settlement;
using Cocoon.Grains.Ledger;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Wallets;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Settlement.Tests;

/// <summary>
/// A contract's address is its terms: a proxy restarted with another price must not sign charges for an address
/// computed at the new price (nothing there) nor convert the old contract's tokens at the new price.
/// </summary>
public sealed class ContractTermsTests(SettlementCluster cluster) : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IsolatedProxy? _proxy;

    [Fact]
    public async Task A_price_change_after_a_client_contract_was_linked_skips_it_with_a_clear_error_and_sends_it_nothing()
    {
        _proxy = await IsolatedProxy.CreateAsync(cluster, "terms");
        // Charges wait for the threshold (half the 1 TON stake) here; only the forced settle below would send one.
        var terms = new Dictionary<string, string?> { ["Cocoon:Chain:ChargeThresholdNanoTon"] = "1000000000" };
        var node = await _proxy.StartNodeAsync("proxy", terms);
        using var owner = Ed25519KeyPair.Generate();
        var ownerAddress = new WalletV5R1(owner.PublicKey).Address;
        var accountId = "terms-" + Guid.NewGuid().ToString("N")[..8];
        var channel = await node.Grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey).RegisterClientAsync(accountId, ownerAddress.ToFriendlyString());

        // A charge at the old price, not yet on chain.
        var escrow = node.Grains.GetGrain<IEscrowAccountGrain>(accountId);
        await escrow.DepositAsync("credit", 1_000_000);
        await escrow.ReserveAsync("r1", 2_000, TimeSpan.FromMinutes(5));
        await escrow.SettleAsync("r1", 2_000, "some-worker");
        await node.StopAsync();

        node = await _proxy.StartNodeAsync("proxy", new Dictionary<string, string?>(terms) { ["Cocoon:Pricing:PricePerToken"] = "30" });
        var atNewPrice = node.Host.Services.GetRequiredService<ProxyChain>().ClientContractOf(ownerAddress).Address;
        Assert.NotEqual(TonAddress.Parse(channel.ContractAddress), atNewPrice);

        var status = await node.Grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey).SettleNowAsync(TimeSpan.FromSeconds(60));

        Assert.Contains($"client contract of '{accountId}'", status.LastError, StringComparison.Ordinal);
        Assert.Contains("created with other terms", status.LastError, StringComparison.Ordinal);
        using var key = _proxy.Key();
        var sent = (await cluster.Ton.GetTransactionsAsync(new WalletV5R1(key.PublicKey).Address, 50, cancellationToken: Ct))
            .SelectMany(t => t.OutMessages).Select(m => TonAddress.Parse(m.Destination)).ToList();
        Assert.DoesNotContain(atNewPrice, sent);
        Assert.DoesNotContain(TonAddress.Parse(channel.ContractAddress), sent);
        Assert.Equal(0, (await node.Grains.GetGrain<IEscrowAccountGrain>(accountId).GetLedgerAsync()).ChargedOnChainTokens);
    }

    public async ValueTask DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }
    }
}
