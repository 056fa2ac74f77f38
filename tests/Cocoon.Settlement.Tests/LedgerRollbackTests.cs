using System.Net;
using System.Text.Json;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Settlement;
using Cocoon.Testing;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Wallets;
using Npgsql;
using Orleans.Core.Internal;

namespace Cocoon.Settlement.Tests;

/// <summary>
/// A database restored from an older, validly signed copy (DESIGN section 2): signatures cannot catch it, the proxy's
/// state commit on chain and the escrow rows' sequence numbers do. Each test runs its own proxy (own key, registered
/// in the shared root; own database) on the shared local chain, since a detected rollback freezes its proxy.
/// </summary>
public sealed class LedgerRollbackTests(SettlementCluster cluster) : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IsolatedProxy? _proxy;
    private string _mnemonic = "";
    private string _database = "";
    private string _clusterId = "";

    [Fact]
    public async Task A_database_restored_behind_the_proxys_commit_on_chain_is_frozen_at_start_and_a_normal_restart_is_not()
    {
        var node = await StartProxyAsync();
        var first = await WaitForCommitAsync(node, above: 0);

        // A normal restart: the stored state is the newest; nothing is flagged and commits go on.
        await node.StopAsync();
        node = await StartProxyAsync();
        var afterRestart = await WaitForCommitAsync(node, above: first);
        Assert.Equal("ready", await LedgerReadinessAsync(node));

        // The operator's "backup": the settlement row as it is now, validly signed.
        var backup = await ReadRowAsync("proxy", "CommittedSeqno");
        var backupSeqno = JsonDocument.Parse(backup).RootElement.GetProperty("CommittedSeqno").GetInt64();
        Assert.True(backupSeqno >= afterRestart);
        // Two commits past it, so the chain is ahead of anything the backup could have been sending.
        await WaitForCommitAsync(node, above: backupSeqno + 1);
        await node.StopAsync();
        var committed = await CommittedOnChainAsync();
        Assert.True(committed > backupSeqno + 1, $"chain {committed}, backup {backupSeqno}");

        // Restore the older row and start the proxy again.
        await WriteRowAsync("proxy", "CommittedSeqno", backup);
        node = await StartProxyAsync();

        var frozen = await WaitForRolledBackAsync(node);
        Assert.Contains($"local seq {backupSeqno} < committed {committed}", frozen.Message, StringComparison.Ordinal);
        Assert.Equal(503, frozen.Status);

        // Readiness names the gap; money-moving calls are refused; reads are not.
        var readiness = await LedgerReadinessAsync(node, detail: true);
        Assert.Contains($"local seq {backupSeqno} < committed {committed}", readiness, StringComparison.Ordinal);
        var account = node.Grains.GetGrain<IEscrowAccountGrain>("rollback-" + Guid.NewGuid().ToString("N")[..8]);
        var refused = await Assert.ThrowsAsync<CocoonApiException>(() => account.DepositAsync("after-restore", 1_000));
        Assert.Equal("ledger_rolled_back", refused.Code);
        Assert.Equal(0, (await account.GetBalanceAsync()).Deposited);

        // Nothing is committed on top of the restored state.
        await Task.Delay(TimeSpan.FromSeconds(3), Ct);
        Assert.Equal(committed, await CommittedOnChainAsync());
    }

    [Fact]
    public async Task An_escrow_row_restored_from_an_older_copy_is_caught_by_its_sequence_number()
    {
        var node = await StartProxyAsync();
        var accountId = "restored-" + Guid.NewGuid().ToString("N")[..8];
        using var owner = Ed25519KeyPair.Generate();
        var settlement = node.Grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey);
        await settlement.RegisterClientAsync(accountId, new WalletV5R1(owner.PublicKey).Address.ToFriendlyString());
        var escrow = node.Grains.GetGrain<IEscrowAccountGrain>(accountId);
        await escrow.DepositAsync("first", 5_000);
        await settlement.SettleNowAsync(TimeSpan.FromSeconds(60));

        // The "backup" of the account's row, then more money moves and settlement reads the newer row.
        var backup = await ReadRowAsync(accountId, "Deposited");
        await escrow.DepositAsync("second", 7_000);
        await settlement.SettleNowAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(12_000, (await escrow.GetBalanceAsync()).Deposited);

        // Restore the older row: it carries a valid signature, so the account itself cannot tell.
        await WriteRowAsync(accountId, "Deposited", backup);
        await escrow.Cast<IGrainManagementExtension>().DeactivateOnIdle(Ct);
        Assert.Equal(5_000, (await escrow.GetBalanceAsync()).Deposited);

        var e = await Assert.ThrowsAsync<CocoonApiException>(() => settlement.SettleNowAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal("ledger_rolled_back", e.Code);
        Assert.Contains($"escrow account '{accountId}'", e.Message, StringComparison.Ordinal);
        var refused = await Assert.ThrowsAsync<CocoonApiException>(() => escrow.ReserveAsync("r1", 100, TimeSpan.FromMinutes(1)));
        Assert.Equal("ledger_rolled_back", refused.Code);
        Assert.Contains("escrow account", await LedgerReadinessAsync(node, detail: true), StringComparison.Ordinal);
    }

    private async Task<CocoonTestNode> StartProxyAsync()
    {
        if (_proxy is null)
        {
            _proxy = await IsolatedProxy.CreateAsync(cluster, "rollback");
            _database = _proxy.Database;
            _clusterId = _proxy.ClusterId;
            _mnemonic = _proxy.Mnemonic;
        }

        return await _proxy.StartNodeAsync("proxy", new Dictionary<string, string?>
        {
            // A commit about every second even with no traffic, so the test sees the seqno move.
            ["Cocoon:Chain:CommitIntervalSeconds"] = "1",
        });
    }

    private static async Task<long> WaitForCommitAsync(CocoonTestNode node, long above)
    {
        var settlement = node.Grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey);
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            var status = await settlement.GetStatusAsync();
            if (status.CommittedSeqno > above)
            {
                return status.CommittedSeqno;
            }

            Assert.True(DateTime.UtcNow < deadline, $"no commit above {above} (at {status.CommittedSeqno}; last error: {status.LastError})");
            await Task.Delay(250, Ct);
        }
    }

    private static async Task<CocoonApiException> WaitForRolledBackAsync(CocoonTestNode node)
    {
        var settlement = node.Grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                var status = await settlement.GetStatusAsync();
                Assert.True(DateTime.UtcNow < deadline, $"not flagged: committed {status.CommittedSeqno}, last error {status.LastError}");
            }
            catch (CocoonApiException e) when (e.Code == "ledger_rolled_back")
            {
                return e;
            }

            await Task.Delay(250, Ct);
        }
    }

    private async Task<long> CommittedOnChainAsync()
    {
        using var key = Mnemonic.ToKeyPair(Mnemonic.Split(_mnemonic));
        return (long)(await RootContract.GetProxyAsync(cluster.Ton, cluster.Chain.RootAddress, new WalletV5R1(key.PublicKey).Address, Ct)).Seqno;
    }

    /// <summary>The ledger check of <c>/readyz</c>: its status, or its detail.</summary>
    private static async Task<string> LedgerReadinessAsync(CocoonTestNode node, bool detail = false)
    {
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var response = await http.GetAsync(new Uri(node.AdminUrl!, "/readyz"), Ct);
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement;
            var ledger = body.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "ledger");
            var status = ledger.GetProperty("status").GetString()!;
            if (!detail)
            {
                return status;
            }

            // The other proxy silos' watchers learn of a rollback within seconds; this one may need a poll.
            if (status == "not_ready")
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                return ledger.GetProperty("detail").GetString()!;
            }

            Assert.True(DateTime.UtcNow < deadline, "the ledger check stayed ready");
            await Task.Delay(250, Ct);
        }
    }

    /// <summary>The stored JSON of the one grain keyed <paramref name="key"/> whose payload has <paramref name="field"/>.</summary>
    private async Task<string> ReadRowAsync(string key, string field)
    {
        await using var connection = new NpgsqlConnection(_database);
        await connection.OpenAsync(Ct);
        await using var read = new NpgsqlCommand(
            "SELECT payload FROM orleans_storage WHERE service_id = @s AND grain_id_extension = @k AND position(@f in convert_from(payload, 'UTF8')) > 0",
            connection);
        read.Parameters.AddWithValue("s", _clusterId);
        read.Parameters.AddWithValue("k", key);
        read.Parameters.AddWithValue("f", "\"" + field + "\"");
        var rows = new List<byte[]>();
        await using (var reader = await read.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                rows.Add((byte[])reader[0]);
            }
        }

        return System.Text.Encoding.UTF8.GetString(Assert.Single(rows));
    }

    /// <summary>Puts a saved payload back, as a restore from backup would (the row's version is left as it is).</summary>
    private async Task WriteRowAsync(string key, string field, string payload)
    {
        await using var connection = new NpgsqlConnection(_database);
        await connection.OpenAsync(Ct);
        await using var write = new NpgsqlCommand(
            "UPDATE orleans_storage SET payload = @p WHERE service_id = @s AND grain_id_extension = @k AND position(@f in convert_from(payload, 'UTF8')) > 0",
            connection);
        write.Parameters.AddWithValue("p", System.Text.Encoding.UTF8.GetBytes(payload));
        write.Parameters.AddWithValue("s", _clusterId);
        write.Parameters.AddWithValue("k", key);
        write.Parameters.AddWithValue("f", "\"" + field + "\"");
        Assert.Equal(1, await write.ExecuteNonQueryAsync(Ct));
    }

    public async ValueTask DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }
    }
}
