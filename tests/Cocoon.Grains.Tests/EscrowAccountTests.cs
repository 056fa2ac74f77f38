using Cocoon.Abstractions;
using Cocoon.Abstractions.Escrow;
using Cocoon.Testing;

namespace Cocoon.Grains.Tests;

public sealed class EscrowAccountTests(GrainCluster cluster)
{
    private IEscrowAccountGrain NewAccount() => cluster.Grains.GetGrain<IEscrowAccountGrain>("acct-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Deposit_is_credited_once_per_deposit_id()
    {
        var account = NewAccount();

        await account.DepositAsync("tx-1", 500);
        await account.DepositAsync("tx-1", 500);
        var balance = await account.DepositAsync("tx-2", 300);

        Assert.Equal(new EscrowBalance(800, 0, 0, 800), balance);
    }

    [Fact]
    public async Task Settle_twice_charges_once()
    {
        var account = NewAccount();
        await account.DepositAsync("grant", 1000);
        await account.ReserveAsync("req-1", 400, TimeSpan.FromMinutes(5));

        var first = await account.SettleAsync("req-1", 150, "worker-1");
        var second = await account.SettleAsync("req-1", 150, "worker-1");

        Assert.Equal(first, second);
        Assert.Equal(new EscrowBalance(850, 0, 150, 1000), await account.GetBalanceAsync());
    }

    [Fact]
    public async Task A_settle_repeated_after_it_was_forgotten_is_refused_and_never_charges_twice()
    {
        var account = NewAccount();
        await account.DepositAsync("grant", 1_000_000);
        for (var i = 0; i <= Grains.Escrow.EscrowAccountGrain.RememberedSettlements; i++)
        {
            await account.ReserveAsync($"req-{i}", 10, TimeSpan.FromMinutes(5));
            await account.SettleAsync($"req-{i}", 10, "w");
        }

        var charged = (await account.GetBalanceAsync()).Charged;
        var e = await Assert.ThrowsAsync<Abstractions.CocoonApiException>(() => account.SettleAsync("req-0", 10, "w"));
        var repeatedRecent = await account.SettleAsync($"req-{Grains.Escrow.EscrowAccountGrain.RememberedSettlements}", 10, "w");

        Assert.Equal("no_reservation", e.Code);
        Assert.Equal(10, repeatedRecent.ChargedNanoTon);
        Assert.Equal(charged, (await account.GetBalanceAsync()).Charged);
        Assert.Equal((Grains.Escrow.EscrowAccountGrain.RememberedSettlements + 1) * 10L, charged);
    }

    [Fact]
    public async Task Reserving_the_same_request_twice_holds_once()
    {
        var account = NewAccount();
        await account.DepositAsync("grant", 1000);

        var a = await account.ReserveAsync("req-1", 400, TimeSpan.FromMinutes(5));
        var b = await account.ReserveAsync("req-1", 400, TimeSpan.FromMinutes(5));

        Assert.Equal(a, b);
        Assert.Equal(400, (await account.GetBalanceAsync()).Reserved);
    }

    [Fact]
    public async Task A_reservation_beyond_the_available_balance_is_refused_and_changes_nothing()
    {
        var account = NewAccount();
        await account.DepositAsync("grant", 1000);
        await account.ReserveAsync("req-1", 700, TimeSpan.FromMinutes(5));

        var e = await Assert.ThrowsAsync<InsufficientBalanceException>(() => account.ReserveAsync("req-2", 301, TimeSpan.FromMinutes(5)));

        Assert.Equal(301, e.Needed);
        Assert.Equal(300, e.Available);
        Assert.Equal(new EscrowBalance(1000, 700, 0, 1000), await account.GetBalanceAsync());
    }

    [Fact]
    public async Task A_released_request_cannot_be_settled_and_is_never_charged()
    {
        var account = NewAccount();
        await account.DepositAsync("grant", 1000);
        await account.ReserveAsync("req-1", 400, TimeSpan.FromMinutes(5));

        await account.ReleaseAsync("req-1");
        await account.ReleaseAsync("req-1");
        var e = await Assert.ThrowsAsync<CocoonApiException>(() => account.SettleAsync("req-1", 100, "worker-1"));

        Assert.Equal("no_reservation", e.Code);
        Assert.Equal(new EscrowBalance(1000, 0, 0, 1000), await account.GetBalanceAsync());
    }

    [Fact]
    public async Task A_charge_above_the_reservation_is_refused_and_changes_nothing()
    {
        var account = NewAccount();
        await account.DepositAsync("grant", 1000);
        await account.ReserveAsync("req-1", 100, TimeSpan.FromMinutes(5));

        var e = await Assert.ThrowsAsync<CocoonApiException>(() => account.SettleAsync("req-1", 101, "worker-1"));

        Assert.Equal("charge_exceeds_reservation", e.Code);
        Assert.Equal(new EscrowBalance(1000, 100, 0, 1000), await account.GetBalanceAsync());
    }

    [Fact]
    public async Task A_settled_request_cannot_be_reserved_again()
    {
        var account = NewAccount();
        await account.DepositAsync("grant", 1000);
        await account.ReserveAsync("req-1", 100, TimeSpan.FromMinutes(5));
        await account.SettleAsync("req-1", 100, "w");

        var e = await Assert.ThrowsAsync<CocoonApiException>(() => account.ReserveAsync("req-1", 100, TimeSpan.FromMinutes(5)));

        Assert.Equal("request_settled", e.Code);
        Assert.Equal(new EscrowBalance(900, 0, 100, 1000), await account.GetBalanceAsync());
    }

    [Fact]
    public async Task An_expired_reservation_is_released_by_the_reminder()
    {
        var account = NewAccount();
        await account.DepositAsync("grant", 1000);
        await account.ReserveAsync("req-kept", 100, TimeSpan.FromHours(1));
        await account.ReserveAsync("req-expiring", 300, TimeSpan.FromSeconds(2));

        cluster.Clock.Advance(TimeSpan.FromMinutes(1));

        // The reminder ticks on real time (every second here); its check uses the silo's clock, which moved past
        // the short reservation's expiry but not the long one's.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        EscrowBalance balance;
        do
        {
            await Task.Delay(250, TestContext.Current.CancellationToken);
            balance = await account.GetBalanceAsync();
        }
        while (balance.Reserved != 100 && DateTime.UtcNow < deadline);

        Assert.Equal(new EscrowBalance(1000, 100, 0, 1000), balance);
        var e = await Assert.ThrowsAsync<CocoonApiException>(() => account.SettleAsync("req-expiring", 10, "w"));
        Assert.Equal("no_reservation", e.Code);
    }

    [Fact]
    public async Task Escrow_state_reaches_PostgreSQL_before_the_call_returns()
    {
        var id = "acct-" + Guid.NewGuid().ToString("N");
        var account = cluster.Grains.GetGrain<IEscrowAccountGrain>(id);

        await account.DepositAsync("grant", 1234);

        Assert.Equal(1, await PostgresFixture.ScalarAsync<int>(cluster.ConnectionString,
            $"SELECT count(*) FROM orleans_storage WHERE grain_id_extension = '{id}' AND grain_type LIKE '%escrow%'"));
    }
}
