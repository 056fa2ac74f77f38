using System.Text;
using System.Text.Json.Nodes;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Settlement;
using Npgsql;
using Orleans.Core.Internal;

namespace Cocoon.Grains.Tests;

/// <summary>
/// DESIGN section 2: money rows live in PostgreSQL outside the TEE, so each is signed by the proxy key; a row edited
/// by hand no longer verifies and the grain freezes instead of trusting it.
/// </summary>
public sealed class TamperEvidenceTests(GrainCluster cluster)
{
    [Fact]
    public async Task An_untouched_account_verifies_after_reactivation()
    {
        var id = "tamper-ok-" + Guid.NewGuid().ToString("N");
        var account = cluster.Grains.GetGrain<IEscrowAccountGrain>(id);
        await account.DepositAsync("grant", 1_000);
        await account.ReserveAsync("r1", 100, TimeSpan.FromMinutes(5));
        await account.SettleAsync("r1", 40, "w-ok");

        await account.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);

        Assert.Equal(new EscrowBalance(960, 0, 40, 1_000), await account.GetBalanceAsync());
        Assert.Equal(new EscrowBalance(1_460, 0, 40, 1_500), await account.DepositAsync("tx-2", 500));
    }

    [Fact]
    public async Task A_balance_edited_in_PostgreSQL_freezes_the_account_and_nothing_changes()
    {
        var id = "tamper-" + Guid.NewGuid().ToString("N");
        var account = cluster.Grains.GetGrain<IEscrowAccountGrain>(id);
        await account.DepositAsync("grant", 1_000);
        await account.ReserveAsync("r1", 100, TimeSpan.FromMinutes(5));
        await account.SettleAsync("r1", 40, "w-tamper");
        await account.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);

        // What a host with database access would do: give the account more money.
        var edited = await EditStateAsync(id, "Deposited", 1_000, 1_000_000);
        var e = await Assert.ThrowsAsync<CocoonApiException>(() => account.GetBalanceAsync());
        var onDeposit = await Assert.ThrowsAsync<CocoonApiException>(() => account.DepositAsync("tx-after", 5));
        var onReserve = await Assert.ThrowsAsync<CocoonApiException>(() => account.ReserveAsync("r2", 10, TimeSpan.FromMinutes(5)));

        Assert.Equal(403, e.Status);
        Assert.Equal("account_frozen", e.Code);
        Assert.Contains(id, e.Message, StringComparison.Ordinal);
        Assert.Equal("account_frozen", onDeposit.Code);
        Assert.Equal("account_frozen", onReserve.Code);
        Assert.Equal(edited, await ReadStateAsync(id)); // nothing was written over the edited row
    }

    [Fact]
    public async Task Earnings_edited_in_PostgreSQL_freeze_the_worker()
    {
        var worker = "w-tamper-" + Guid.NewGuid().ToString("N");
        var account = cluster.Grains.GetGrain<IEscrowAccountGrain>("tamper-src-" + Guid.NewGuid().ToString("N"));
        await account.DepositAsync("grant", 10_000);
        await account.ReserveAsync("r1", 1_000, TimeSpan.FromMinutes(5));
        await account.SettleAsync("r1", 400, worker); // 400 nanoTON at 20 per token: 20 adjusted tokens
        var earnings = cluster.Grains.GetGrain<IWorkerEarningsGrain>(worker);
        Assert.Equal(20, (await earnings.GetAsync()).EarnedTokens);
        await earnings.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);

        await EditStateAsync(worker, "EarnedTokens", 20, 20_000);
        var e = await Assert.ThrowsAsync<CocoonApiException>(() => earnings.GetAsync());

        Assert.Equal("account_frozen", e.Code);
        Assert.Contains(worker, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stake_raised_in_PostgreSQL_freezes_the_account()
    {
        var id = "tamper-stake-" + Guid.NewGuid().ToString("N");
        var account = cluster.Grains.GetGrain<IEscrowAccountGrain>(id);
        await account.DepositAsync("grant", 1_000_000);
        await account.SetClientContractAsync(1_000, TimeSpan.FromSeconds(300));
        await account.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        Assert.Equal(1_000, (await account.GetLedgerAsync()).StakeNanoTon); // signed with the stake: verifies

        await account.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        await EditStateAsync(id, "StakeNanoTon", 1_000, 1_000_000_000); // more credit than the contract guarantees
        var e = await Assert.ThrowsAsync<CocoonApiException>(() => account.ReserveAsync("r1", 5_000, TimeSpan.FromMinutes(5)));

        Assert.Equal("account_frozen", e.Code);
    }

    private async Task<string> ReadStateAsync(string grainKey)
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString);
        await connection.OpenAsync();
        await using var read = new NpgsqlCommand(
            "SELECT payload FROM orleans_storage WHERE service_id = @s AND grain_id_extension LIKE @k", connection);
        read.Parameters.AddWithValue("s", cluster.ClusterId);
        read.Parameters.AddWithValue("k", "%" + grainKey);
        var rows = new List<byte[]>();
        await using (var reader = await read.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add((byte[])reader[0]);
            }
        }

        return Encoding.UTF8.GetString(Assert.Single(rows));
    }

    /// <summary>Changes one number in a grain's stored JSON payload, as an operator with psql could.</summary>
    private async Task<string> EditStateAsync(string grainKey, string field, long expected, long replacement)
    {
        var json = JsonNode.Parse(await ReadStateAsync(grainKey))!.AsObject();
        Assert.Equal(expected, json[field]!.GetValue<long>());
        json[field] = replacement;
        var edited = json.ToJsonString();

        await using var connection = new NpgsqlConnection(cluster.ConnectionString);
        await connection.OpenAsync();
        await using var write = new NpgsqlCommand(
            "UPDATE orleans_storage SET payload = @p WHERE service_id = @s AND grain_id_extension LIKE @k", connection);
        write.Parameters.AddWithValue("p", Encoding.UTF8.GetBytes(edited));
        write.Parameters.AddWithValue("s", cluster.ClusterId);
        write.Parameters.AddWithValue("k", "%" + grainKey);
        Assert.Equal(1, await write.ExecuteNonQueryAsync());
        return edited;
    }
}
