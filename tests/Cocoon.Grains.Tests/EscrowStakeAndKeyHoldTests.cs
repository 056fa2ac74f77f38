using Cocoon.Abstractions;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Operations;
using Cocoon.Abstractions.Pricing;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;

namespace Cocoon.Grains.Tests;

/// <summary>
/// Issue 8 item 2 and issue 5's stake rule on the real grains and PostgreSQL: the client contract's stake bounds the
/// credit not yet charged on chain (402 <c>stake_exhausted</c>), a close refuses new requests at once, lets running
/// ones settle and refunds the whole balance after the delay by reminder, and a key's spend limit holds under
/// concurrent requests because each request holds its worst case on the key.
/// </summary>
public sealed class EscrowStakeAndKeyHoldTests(GrainCluster cluster)
{
    private static readonly TimeSpan Life = TimeSpan.FromMinutes(5);

    private long Price => cluster.Node.Host.Services.GetRequiredService<PriceList>().PricePerToken;

    private IEscrowAccountGrain NewAccount() => cluster.Grains.GetGrain<IEscrowAccountGrain>("stake-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task The_stake_bounds_credit_not_yet_charged_on_chain_and_confirmation_frees_it()
    {
        var account = NewAccount();
        var stake = 50 * Price;
        await account.DepositAsync("grant", 1_000 * Price);
        var linked = await account.SetClientContractAsync(stake, TimeSpan.FromSeconds(300));
        Assert.Equal(stake, linked.StakeNanoTon);

        // Held + new within the stake: fine; past it: 402 stake_exhausted although the balance covers it.
        await account.ReserveAsync("r1", 30 * Price, Life);
        var e = await Assert.ThrowsAsync<CocoonApiException>(() => account.ReserveAsync("r2", 21 * Price, Life));
        Assert.Equal((402, "stake_exhausted"), (e.Status, e.Code));
        Assert.Contains("settlement is behind", e.Message, StringComparison.Ordinal);
        Assert.Equal(new EscrowBalance(1_000 * Price, 30 * Price, 0, 1_000 * Price), await account.GetBalanceAsync());

        // Charged off chain: still counts against the stake until the contract confirms it.
        await account.SettleAsync("r1", 30 * Price, "w-stake");
        await account.ReserveAsync("r2", 20 * Price, Life);
        await account.ReleaseAsync("r2");
        e = await Assert.ThrowsAsync<CocoonApiException>(() => account.ReserveAsync("r3", 21 * Price, Life));
        Assert.Equal("stake_exhausted", e.Code);
        Assert.Equal(30 * Price, (await account.GetLedgerAsync()).UnchargedNanoTon);

        // The charge reached the chain: the whole stake is free again.
        var confirmed = await account.ConfirmChargedOnChainAsync(30);
        Assert.Equal(0, confirmed.UnchargedNanoTon);
        await account.ReserveAsync("r3", 50 * Price, Life);
        e = await Assert.ThrowsAsync<CocoonApiException>(() => account.ReserveAsync("r4", 1, Life));
        Assert.Equal("stake_exhausted", e.Code);
    }

    [Theory]
    [InlineData(1_000_000_000, 1_000_000_000, 500_000_000)] // COCOON's defaults: charge past stake / 2
    [InlineData(100_000_000, 1_000_000_000, 100_000_000)] // a lower configured threshold stands
    [InlineData(1, 100_000, 1)]
    [InlineData(1_000_000_000, 100_000, 50_000)]
    public void Settlement_charges_before_the_stake_can_be_reached(long threshold, long stake, long effective) =>
        Assert.Equal(effective, new Grains.Ledger.SettlementOptions { ChargeThresholdNanoTon = threshold, ClientStakeNanoTon = stake }.EffectiveChargeThresholdNanoTon);

    [Fact]
    public async Task Without_a_contract_there_is_no_stake_rule_and_bad_terms_change_nothing()
    {
        var account = NewAccount();
        await account.DepositAsync("grant", 10_000_000_000);
        await account.ReserveAsync("big", 5_000_000_000, Life);

        var bad = await Assert.ThrowsAsync<CocoonApiException>(() => account.SetClientContractAsync(-1, TimeSpan.FromSeconds(300)));
        Assert.Equal((400, "invalid_stake"), (bad.Status, bad.Code));
        bad = await Assert.ThrowsAsync<CocoonApiException>(() => account.SetClientContractAsync(10, TimeSpan.FromSeconds(-1)));
        Assert.Equal("invalid_close_delay", bad.Code);
        var ledger = await account.GetLedgerAsync();
        Assert.Equal(0, ledger.StakeNanoTon);
        Assert.Equal(new EscrowBalance(10_000_000_000, 5_000_000_000, 0, 10_000_000_000), ledger.Balance);
    }

    [Fact]
    public async Task A_closing_account_refuses_new_requests_at_once_and_running_ones_still_settle()
    {
        var account = NewAccount();
        await account.DepositAsync("grant", 1_000);
        await account.ReserveAsync("running", 300, Life);

        // The operators' interface (cocoon accounts close) and the account's own are the same close.
        var closing = await cluster.Grains.GetGrain<IEscrowAdminGrain>(account.GetPrimaryKeyString()).CloseAsync();
        Assert.Equal(EscrowAccountStatus.Closing, closing.Status);
        Assert.Equal(Grains.Escrow.EscrowAccountGrain.DefaultCloseDelay, closing.CloseDelay);
        Assert.NotNull(closing.CloseAt);
        Assert.Equal(closing, await account.RequestCloseAsync()); // idempotent: the same close, the same time

        var e = await Assert.ThrowsAsync<CocoonApiException>(() => account.ReserveAsync("new", 1, Life));
        Assert.Equal((409, "account_closing"), (e.Status, e.Code));
        Assert.Equal(300, (await account.ReserveAsync("running", 300, Life)).NanoTon); // the running one is kept

        var settled = await account.SettleAsync("running", 120, "w-close");
        Assert.Equal(new EscrowBalance(880, 0, 120, 1_000), settled.Balance);
        Assert.Equal(EscrowAccountStatus.Closing, (await account.GetLedgerAsync()).Status); // the delay has not passed
    }

    [Fact]
    public async Task The_spend_limit_holds_when_many_requests_through_one_key_reserve_at_once()
    {
        var key = ApiKeys.Generate();
        await cluster.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(key)).CreateAsync("acct-" + Guid.NewGuid().ToString("N")[..8], "limited",
            new ApiKeyLimits { SpendLimitNanoTon = 1_000 });
        var grain = cluster.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(key));
        Assert.Equal(1_000, (await grain.ResolveAsync())!.SpendLimitNanoTon);

        // 25 requests at once, each up to 100: all passed the old check-before-request; exactly 10 may hold now.
        var attempts = await Task.WhenAll(Enumerable.Range(0, 25).Select(async i =>
        {
            try
            {
                await grain.HoldAsync($"req-{i}", 100, Life);
                return (Id: $"req-{i}", Held: true);
            }
            catch (CocoonApiException e) when (e.Code == "key_spend_limit_reached")
            {
                Assert.Equal(402, e.Status);
                return (Id: $"req-{i}", Held: false);
            }
        }));
        var held = attempts.Where(a => a.Held).Select(a => a.Id).ToList();
        Assert.Equal(10, held.Count);

        // Settled below the worst case: what was not charged is free again; a release frees its whole hold.
        await Task.WhenAll(held.Take(5).Select(id => grain.SettleHoldAsync(id, 60)));
        await grain.SettleHoldAsync(held[0], 60); // repeated: counted once
        await grain.ReleaseHoldAsync(held[5]);
        var admin = cluster.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(key));
        Assert.Equal(300, (await admin.GetDetailsAsync())!.SpentNanoTon);

        // 300 spent + 4 x 100 still held: 300 left, so three more fit and the fourth does not.
        for (var i = 0; i < 3; i++)
        {
            await grain.HoldAsync($"more-{i}", 100, Life);
        }

        var refused = await Assert.ThrowsAsync<CocoonApiException>(() => grain.HoldAsync("more-3", 100, Life));
        Assert.Equal("key_spend_limit_reached", refused.Code);
        Assert.Equal(300, (await admin.GetDetailsAsync())!.SpentNanoTon);
    }

    [Fact]
    public async Task A_key_without_a_spend_limit_holds_nothing()
    {
        var key = ApiKeys.Generate();
        await cluster.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(key)).CreateAsync("acct-" + Guid.NewGuid().ToString("N")[..8], "free", ApiKeyLimits.None);
        var grain = cluster.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(key));

        await Task.WhenAll(Enumerable.Range(0, 10).Select(i => grain.HoldAsync($"req-{i}", long.MaxValue / 100, Life)));
        await grain.SettleHoldAsync("req-0", 70);

        Assert.Equal(70, (await cluster.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(key)).GetDetailsAsync())!.SpentNanoTon);
    }
}

/// <summary>Close with delay on the cluster's clock, which these tests move: they run alone.</summary>
[Collection(nameof(SerialCollection))]
public sealed class EscrowCloseTests(GrainCluster cluster)
{
    private static readonly TimeSpan Delay = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task After_the_delay_the_whole_balance_is_refunded_by_reminder_even_after_deactivation()
    {
        var account = cluster.Grains.GetGrain<IEscrowAccountGrain>("close-" + Guid.NewGuid().ToString("N"));
        await account.DepositAsync("grant", 1_000);
        await account.SetClientContractAsync(0, Delay);
        await account.ReserveAsync("r1", 100, TimeSpan.FromMinutes(5));
        await account.SettleAsync("r1", 40, "w-refund");
        await account.ReserveAsync("running", 200, TimeSpan.FromHours(1));
        var closing = await account.RequestCloseAsync();
        Assert.Equal(cluster.Clock.GetUtcNow() + Delay, closing.CloseAt);

        // The grain goes away; only its reminder brings it back.
        await account.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        cluster.Clock.Advance(Delay + TimeSpan.FromSeconds(1));

        // Past the delay but a request is still running: not yet. It settles, and the account closes at once.
        await Task.Delay(2_500, TestContext.Current.CancellationToken); // a few reminder ticks (every second here)
        Assert.Equal(EscrowAccountStatus.Closing, (await account.GetLedgerAsync()).Status);
        var settled = await account.SettleAsync("running", 60, "w-refund");
        Assert.Equal(new EscrowBalance(0, 0, 100, 1_000) { Refunded = 900 }, settled.Balance);
        var closed = await account.GetLedgerAsync();
        Assert.Equal(EscrowAccountStatus.Closed, closed.Status);

        // Closed: nothing new; a repeated close changes nothing.
        var e = await Assert.ThrowsAsync<CocoonApiException>(() => account.ReserveAsync("late", 1, TimeSpan.FromMinutes(1)));
        Assert.Equal((409, "account_closed"), (e.Status, e.Code));
        Assert.Equal(closed, await account.RequestCloseAsync());

        // A deposit that arrives after the close is kept and refunded by the next close, by the reminder alone.
        await account.DepositAsync("late-topup", 500);
        await account.RequestCloseAsync();
        await account.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        cluster.Clock.Advance(Delay + TimeSpan.FromSeconds(1));
        var deadline = DateTime.UtcNow.AddSeconds(60);
        EscrowLedger ledger;
        do
        {
            await Task.Delay(250, TestContext.Current.CancellationToken);
            ledger = await account.GetLedgerAsync();
        }
        while (ledger.Status != EscrowAccountStatus.Closed && DateTime.UtcNow < deadline);

        Assert.Equal(new EscrowBalance(0, 0, 100, 1_500) { Refunded = 1_400 }, ledger.Balance);
        Assert.Equal(ledger.Balance.Deposited, ledger.Balance.Balance + ledger.Balance.Charged + ledger.Balance.Refunded);
    }
}
