using System.Security.Cryptography;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Pricing;
using Cocoon.Abstractions.Settlement;
using Cocoon.Abstractions.Telemetry;
using Cocoon.Grains.Placement;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cocoon.Grains.Ledger;

/// <summary>The settlement grain's persisted state; signed like escrow rows.</summary>
[GenerateSerializer, Alias("cocoon.settlement.SettlementState")]
public sealed class SettlementState : ISignedState
{
    /// <summary>Client escrow contracts by account id.</summary>
    [Id(0)] public Dictionary<string, ClientLink> Clients { get; set; } = [];

    /// <summary>Worker contracts by worker id.</summary>
    [Id(1)] public Dictionary<string, WorkerLink> Workers { get; set; } = [];

    /// <summary>The wallet transfer sent and not yet seen on chain.</summary>
    [Id(2)] public PendingTransfer? Pending { get; set; }

    /// <summary>The last state seqno confirmed in the root contract.</summary>
    [Id(3)] public long CommittedSeqno { get; set; }

    /// <summary>When the last commit was confirmed.</summary>
    [Id(4)] public DateTimeOffset LastCommitAt { get; set; }

    /// <inheritdoc />
    [Id(5)] public long Seq { get; set; }

    /// <inheritdoc />
    [Id(6)] public byte[]? Signature { get; set; }

    /// <summary>The next query id for signed messages.</summary>
    [Id(7)] public long NextQueryId { get; set; } = 1;

    /// <summary>The state hash committed with <see cref="CommittedSeqno"/>, as the root contract holds it.</summary>
    [Id(8)] public byte[]? CommittedHash { get; set; }

    /// <inheritdoc />
    public void WriteCanonical(CanonicalWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        WriteLedger(writer);
        writer.WriteTime(LastCommitAt).WriteInt64(NextQueryId);
        if (Pending is null)
        {
            writer.WriteInt64(-1);
        }
        else
        {
            writer.WriteInt64(Pending.WalletSeqno).WriteInt64(Pending.ValidUntil).WriteString(Pending.Boc).WriteTime(Pending.SignedAt)
                .WriteInt64(Pending.CommitSeqno).WriteInt64(Pending.Items.Count);
            foreach (var item in Pending.Items)
            {
                writer.WriteString(item.Kind).WriteString(item.Id).WriteInt64(item.Tokens).WriteInt64(item.ContractTokens);
            }
        }

        // Form 2 adds the rollback watermarks at the end; a row without them signs exactly as before they existed.
        if (CommittedHash is not null || Pending?.CommitHash is not null || Clients.Values.Any(c => c.EscrowSeq > 0))
        {
            writer.WriteInt64(2).WriteBytes(CommittedHash ?? []).WriteBytes(Pending?.CommitHash ?? []);
            foreach (var (id, c) in Clients.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                writer.WriteString(id).WriteInt64(c.EscrowSeq);
            }
        }
    }

    /// <summary>The part of the state the root commit's hash covers: what is settled per client and worker.</summary>
    public void WriteLedger(CanonicalWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteInt64(CommittedSeqno).WriteInt64(Clients.Count);
        foreach (var (id, c) in Clients.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            writer.WriteString(id).WriteString(c.Owner).WriteString(c.Contract).WriteInt64(c.ConfirmedTokens)
                .WriteInt64((long)c.LastLt).WriteInt64(c.Deposits).WriteInt64(c.DepositedNanoTon);
        }

        writer.WriteInt64(Workers.Count);
        foreach (var (id, w) in Workers.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            writer.WriteString(id).WriteString(w.Owner).WriteString(w.Contract).WriteInt64(w.ConfirmedTokens);
        }
    }
}

/// <summary>A client's escrow contract.</summary>
[GenerateSerializer, Alias("cocoon.settlement.ClientLink")]
public sealed class ClientLink
{
    /// <summary>The client's wallet (raw form).</summary>
    [Id(0)] public string Owner { get; set; } = "";

    /// <summary>The contract (raw form).</summary>
    [Id(1)] public string Contract { get; set; } = "";

    /// <summary>Tokens the contract has charged, as last read.</summary>
    [Id(2)] public long ConfirmedTokens { get; set; }

    /// <summary>The newest transaction the deposit watcher has looked at.</summary>
    [Id(3)] public ulong LastLt { get; set; }

    /// <summary>Deposits credited.</summary>
    [Id(4)] public long Deposits { get; set; }

    /// <summary>nanoTON credited from deposits.</summary>
    [Id(5)] public long DepositedNanoTon { get; set; }

    /// <summary>
    /// The newest escrow row sequence number settlement has read for the account: a row found older than this was
    /// restored from an older copy.
    /// </summary>
    [Id(6)] public long EscrowSeq { get; set; }
}

/// <summary>A worker's contract.</summary>
[GenerateSerializer, Alias("cocoon.settlement.WorkerLink")]
public sealed class WorkerLink
{
    /// <summary>The worker owner's wallet (raw form).</summary>
    [Id(0)] public string Owner { get; set; } = "";

    /// <summary>The contract (raw form).</summary>
    [Id(1)] public string Contract { get; set; } = "";

    /// <summary>Tokens the contract has paid, as last read.</summary>
    [Id(2)] public long ConfirmedTokens { get; set; }
}

/// <summary>A signed wallet transfer waiting for the wallet seqno to move.</summary>
[GenerateSerializer, Alias("cocoon.settlement.PendingTransfer")]
public sealed class PendingTransfer
{
    /// <summary>The wallet seqno it was signed with.</summary>
    [Id(0)] public long WalletSeqno { get; set; }

    /// <summary>Chain time after which the wallet refuses it.</summary>
    [Id(1)] public long ValidUntil { get; set; }

    /// <summary>The external message (BoC, base64): resent unchanged until it lands or expires.</summary>
    [Id(2)] public string Boc { get; set; } = "";

    /// <summary>When it was signed.</summary>
    [Id(3)] public DateTimeOffset SignedAt { get; set; }

    /// <summary>The charges and payouts it carries.</summary>
    [Id(4)] public List<PendingItem> Items { get; set; } = [];

    /// <summary>The state seqno it commits to the root, or 0.</summary>
    [Id(5)] public long CommitSeqno { get; set; }

    /// <summary>The state hash it commits with <see cref="CommitSeqno"/>.</summary>
    [Id(6)] public byte[]? CommitHash { get; set; }
}

/// <summary>
/// One signed charge (the account's cumulative tokens) or one worker's share of a payout (its earned tokens; the
/// contract's signed count, summed over the workers paid to the same owner, in <see cref="ContractTokens"/>).
/// </summary>
[GenerateSerializer, Immutable, Alias("cocoon.settlement.PendingItem")]
public sealed record PendingItem([property: Id(0)] string Kind, [property: Id(1)] string Id, [property: Id(2)] long Tokens)
{
    /// <summary>For a payout: the cumulative count signed for the worker contract.</summary>
    [Id(3)] public long ContractTokens { get; init; }
}

/// <summary>
/// See <see cref="ISettlementGrain"/>. Charges and payouts are cumulative token counts signed by the proxy key, so a
/// resent or replayed message never moves money twice (the contracts refuse a count not above the last, 405). A
/// transfer is persisted before it is sent and resent unchanged until the wallet seqno moves or it expires; then the
/// contracts' own counters are read back and confirmed to the escrow and earnings grains. Chain failures are counted
/// and retried with backoff; serving goes on meanwhile (escrow credit rules do not depend on the chain).
/// </summary>
[ProxyRole]
public sealed partial class SettlementGrain(
    [PersistentState("settlement", CocoonNames.StorageName)] IPersistentState<SettlementState> state,
    StateSigner signer,
    PriceList prices,
    SettlementOptions options,
    LedgerIntegrity integrity,
    IServiceProvider services,
    [FromKeyedServices(CocoonGrainsExtensions.ClockKey)] TimeProvider time,
    ILogger<SettlementGrain> logger) : Grain, ISettlementGrain
{
    /// <summary>The kind signed with settlement rows.</summary>
    public const string StateKind = "settlement";

    /// <summary>Messages per wallet transfer (v5r1 allows 255; charges and payouts may need two each).</summary>
    public const int MaxMessagesPerTransfer = 100;

    /// <summary>How long a signed transfer stays valid, in chain seconds.</summary>
    public static readonly TimeSpan TransferValidity = TimeSpan.FromMinutes(2);

    /// <summary>The longest wait between attempts while the chain fails.</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(60);

    private readonly ProxyChain? _chain = services.GetService<ProxyChain>();
    private bool _frozen;
    private string? _rolledBack;
    private bool _verified;
    private string? _lastError;
    private string? _termsProblem;
    private int _failures;
    private DateTimeOffset _nextAttempt;
    private bool _reportedUnregistered;

    private SettlementState S => state.State;

    private string ProxyId => this.GetPrimaryKeyString();

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!signer.IsAuthentic(StateKind, ProxyId, S, state.RecordExists))
        {
            _frozen = true;
            LogFrozen(ProxyId, S.Seq);
            return;
        }

        if (_chain is not null)
        {
            // Before anything moves: is this state at least as new as what the proxy committed on chain? An unreachable
            // chain leaves it unchecked here; every settlement cycle checks first until it has been done once.
            try
            {
                await VerifyAgainstChainAsync(_chain, cancellationToken);
            }
            catch (Exception e) when (IsChainFailure(e))
            {
                LogVerifyDeferred(e.GetType().Name, e.Message);
            }
            catch (CocoonApiException e) when (e.Code == LedgerIntegrity.ErrorCode)
            {
                return;
            }

            this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(options.PollInterval, options.PollInterval) { KeepAlive = true });
        }
    }

    /// <summary>
    /// Compares the state with the root contract's commit for this proxy (DESIGN section 2): a commit newer than the
    /// state's (and not the one it is sending), or the same commit with another hash, means the database was restored
    /// from an older copy; settlement and, on every proxy silo, money movement are frozen with the gap named.
    /// </summary>
    private async Task VerifyAgainstChainAsync(ProxyChain chain, CancellationToken cancellationToken)
    {
        if (_verified || options.RootAddress is not { } root)
        {
            _verified = true;
            return;
        }

        var onChain = await RootContract.GetProxyAsync(chain.Client, root, chain.Wallet.Address, cancellationToken);
        _verified = true;
        if (!onChain.Registered)
        {
            return;
        }

        var committed = (long)onChain.Seqno;
        var local = S.CommittedSeqno;
        var sending = S.Pending?.CommitSeqno ?? 0;
        string? gap = null;
        if (committed > local && committed != sending)
        {
            gap = $"the stored settlement state is at commit {local}" + (sending > 0 ? $" (sending {sending})" : "") +
                  $" but the root contract holds commit {committed} for this proxy (local seq {local} < committed {committed}).";
        }
        else if (committed == sending && sending > 0 && S.Pending!.CommitHash is { } sendingHash && !sendingHash.AsSpan().SequenceEqual(onChain.StateHash))
        {
            gap = $"the root contract's commit {committed} has state hash {Convert.ToHexStringLower(onChain.StateHash)}, not the " +
                  $"{Convert.ToHexStringLower(sendingHash)} this state was sending.";
        }
        else if (committed == local && local > 0 && S.CommittedHash is { } hash && !hash.AsSpan().SequenceEqual(onChain.StateHash))
        {
            gap = $"the root contract's commit {committed} has state hash {Convert.ToHexStringLower(onChain.StateHash)}, not this " +
                  $"state's {Convert.ToHexStringLower(hash)}.";
        }
        else if (committed < local)
        {
            LogChainBehind(local, committed, root.ToFriendlyString());
        }

        if (gap is not null)
        {
            throw RolledBack(gap);
        }
    }

    private CocoonApiException RolledBack(string reason)
    {
        var message = LedgerIntegrity.Message(reason);
        if (_rolledBack is null)
        {
            _rolledBack = message;
            _frozen = true;
            integrity.Freeze(message);
            CocoonTelemetry.LedgerRolledBack();
            LogRolledBack(ProxyId, reason);
        }

        return new CocoonApiException(503, LedgerIntegrity.ErrorCode, _rolledBack);
    }

    /// <inheritdoc />
    public async Task<ClientChannel> RegisterClientAsync(string accountId, string ownerAddress)
    {
        Guard();
        ArgumentException.ThrowIfNullOrWhiteSpace(accountId);
        var chain = RequireChain();
        var owner = ParseAddress(ownerAddress, "owner");
        if (S.Clients.TryGetValue(accountId, out var link))
        {
            if (link.Owner != owner.ToRawString())
            {
                throw new CocoonApiException(409, "account_linked", $"Account '{accountId}' is already linked to the client wallet {link.Owner}.");
            }

            await LinkEscrowAsync(accountId);
            return Channel(accountId, link);
        }

        var contract = chain.ClientContractOf(owner).Address;
        link = new ClientLink { Owner = owner.ToRawString(), Contract = contract.ToRawString() };
        S.Clients[accountId] = link;
        await SaveAsync();
        await LinkEscrowAsync(accountId);
        return Channel(accountId, link);
    }

    /// <summary>The escrow learns its contract's stake (which bounds its uncharged credit) and close delay.</summary>
    private Task<EscrowLedger> LinkEscrowAsync(string accountId) =>
        GrainFactory.GetGrain<IEscrowAccountGrain>(accountId).SetClientContractAsync(options.ClientStakeNanoTon, options.ClientDelayBeforeClose);

    /// <inheritdoc />
    public async Task<WorkerChannel> RegisterWorkerAsync(string workerId, string ownerAddress)
    {
        Guard();
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        var chain = RequireChain();
        var owner = ParseAddress(ownerAddress, "owner");
        if (S.Workers.TryGetValue(workerId, out var link))
        {
            if (link.Owner != owner.ToRawString())
            {
                throw new CocoonApiException(409, "worker_linked", $"Worker '{workerId}' is already paid to {link.Owner}.");
            }

            return Channel(workerId, link);
        }

        var contract = chain.WorkerContractOf(owner).Address;
        link = new WorkerLink { Owner = owner.ToRawString(), Contract = contract.ToRawString() };
        S.Workers[workerId] = link;
        await SaveAsync();
        return Channel(workerId, link);
    }

    /// <inheritdoc />
    public async Task<SettlementStatus> SettleNowAsync(TimeSpan timeout)
    {
        Guard();
        RequireChain();
        var deadline = time.GetUtcNow() + timeout;
        while (true)
        {
            try
            {
                var outstanding = await RunCycleAsync(force: true, CancellationToken.None);
                if (S.Pending is null && !outstanding)
                {
                    return Status();
                }
            }
            catch (Exception e) when (IsChainFailure(e))
            {
                RecordFailure(e);
                if (time.GetUtcNow() >= deadline)
                {
                    throw new CocoonApiException(503, "chain_unavailable",
                        $"The TON endpoint failed: {e.Message}. Nothing is lost; settlement catches up when it answers.");
                }
            }

            if (time.GetUtcNow() >= deadline)
            {
                throw new CocoonApiException(504, "settlement_pending",
                    $"Settlement was sent but not yet confirmed on chain within {timeout.TotalSeconds:0} s; it keeps retrying.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), time);
        }
    }

    /// <inheritdoc />
    public Task<SettlementStatus> GetStatusAsync()
    {
        Guard();
        return Task.FromResult(Status());
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        if (_frozen || time.GetUtcNow() < _nextAttempt)
        {
            return;
        }

        try
        {
            await RunCycleAsync(force: false, cancellationToken);
        }
        catch (Exception e) when (IsChainFailure(e))
        {
            RecordFailure(e);
        }
        catch (CocoonApiException e) when (e.Code is "account_frozen" or LedgerIntegrity.ErrorCode)
        {
            LogSettlementBlocked(e.Message);
        }

        ReportBacklog();
    }

    /// <summary>One pass: confirm what is pending, credit deposits, send what is due. Returns whether anything is still outstanding.</summary>
    private async Task<bool> RunCycleAsync(bool force, CancellationToken cancellationToken)
    {
        var chain = RequireChain();
        await VerifyAgainstChainAsync(chain, cancellationToken);
        var wallet = await chain.GetWalletAsync(cancellationToken);
        if (S.Pending is not null)
        {
            await ConfirmPendingAsync(chain, wallet.Seqno, wallet.Now, cancellationToken);
        }

        await WatchDepositsAsync(chain, cancellationToken);
        var outstanding = false;
        if (S.Pending is null)
        {
            outstanding = await SendDueAsync(chain, wallet.Seqno, wallet.Now, force, cancellationToken);
        }

        if (_failures > 0)
        {
            LogChainRecovered(_failures);
        }

        _failures = 0;
        _lastError = null;
        _nextAttempt = default;
        ReportBacklog();
        return outstanding;
    }

    private async Task ConfirmPendingAsync(ProxyChain chain, uint seqno, long now, CancellationToken cancellationToken)
    {
        var pending = S.Pending!;
        if (seqno <= pending.WalletSeqno)
        {
            if (now > pending.ValidUntil)
            {
                // The wallet never took it and no longer will: drop it; the next pass signs a new one from the ledgers.
                LogTransferExpired(pending.WalletSeqno, pending.Items.Count);
                S.Pending = null;
                await SaveAsync();
                return;
            }

            // Not seen yet: send the very same message again (same seqno, so it can land at most once).
            await chain.SendAsync(Convert.FromBase64String(pending.Boc), cancellationToken);
            return;
        }

        // The wallet has processed it: read back what the contracts now hold and confirm it to the ledgers.
        foreach (var item in pending.Items)
        {
            if (item.Kind is "charge" or "refund" && S.Clients.TryGetValue(item.Id, out var client))
            {
                var charged = await chain.GetTokensChargedAsync(TonAddress.Parse(client.Contract), cancellationToken);
                await GrainFactory.GetGrain<IEscrowAccountGrain>(item.Id).ConfirmChargedOnChainAsync(charged);
                if (item.Kind == "refund"
                    && await ClientContract.GetStateAsync(chain.Client, TonAddress.Parse(client.Contract), cancellationToken) == ClientEscrowState.Closed)
                {
                    await GrainFactory.GetGrain<IEscrowAccountGrain>(item.Id).ConfirmRefundedOnChainAsync();
                }

                client.ConfirmedTokens = Math.Max(client.ConfirmedTokens, charged);
                if (charged < item.Tokens)
                {
                    LogNotApplied("charge", item.Id, item.Tokens, charged);
                }
            }
            else if (item.Kind == "payout" && S.Workers.TryGetValue(item.Id, out var worker))
            {
                // The contract's count is the sum over the workers sharing it; once it reaches what was signed, each
                // worker's own share at signing time is paid.
                var paid = await chain.GetTokensPaidAsync(TonAddress.Parse(worker.Contract), cancellationToken);
                foreach (var sharing in S.Workers.Values.Where(w => w.Contract == worker.Contract))
                {
                    sharing.ConfirmedTokens = Math.Max(sharing.ConfirmedTokens, paid);
                }

                if (paid >= item.ContractTokens)
                {
                    await GrainFactory.GetGrain<IWorkerEarningsGrain>(item.Id).ConfirmPaidOnChainAsync(item.Tokens);
                }
                else
                {
                    LogNotApplied("payout", item.Id, item.ContractTokens, paid);
                }
            }
        }

        if (pending.CommitSeqno > 0 && options.RootAddress is { } root)
        {
            var committed = await ReadCommittedSeqnoAsync(chain, root, cancellationToken);
            if (committed >= pending.CommitSeqno)
            {
                S.CommittedSeqno = committed;
                S.CommittedHash = committed == pending.CommitSeqno ? pending.CommitHash : null;
                S.LastCommitAt = time.GetUtcNow();
            }
        }

        var elapsedMs = (time.GetUtcNow() - pending.SignedAt).TotalMilliseconds;
        LogTransferConfirmed(pending.WalletSeqno, pending.Items.Count, elapsedMs);

        S.Pending = null;
        await SaveAsync();
    }

    private async Task WatchDepositsAsync(ProxyChain chain, CancellationToken cancellationToken)
    {
        foreach (var (accountId, link) in S.Clients)
        {
            var txs = await chain.GetTransactionsAfterAsync(TonAddress.Parse(link.Contract), link.LastLt, cancellationToken);
            if (txs.Count == 0)
            {
                continue;
            }

            var escrow = GrainFactory.GetGrain<IEscrowAccountGrain>(accountId);
            foreach (var (tx, summary) in txs)
            {
                // A top-up the contract accepted adds value - 0.01 TON to its balance (client.tolk); that is what the
                // account is credited, once per transaction (the escrow remembers the deposit id).
                if (summary.Succeeded && summary.InMessageExternal == false && !summary.InMessageBounced
                    && summary.InMessageOp == ClientContract.OpTopUp && summary.InMessageValue > ClientContract.TopUpFee)
                {
                    var credit = (long)(summary.InMessageValue - ClientContract.TopUpFee);
                    var depositId = $"ton:{tx.Id.Lt}:{Convert.ToHexStringLower(tx.Id.Hash)}";
                    await escrow.DepositAsync(depositId, credit);
                    link.Deposits++;
                    link.DepositedNanoTon = checked(link.DepositedNanoTon + credit);
                    LogDeposit(accountId, credit, tx.Id.Lt);
                }
                else if (summary.Succeeded && summary.InMessageExternal == false && summary.InMessageOp == ClientContract.OpRequestRefund)
                {
                    // The client asked its contract for a refund (owner_client_request_refund): close the account here
                    // too; once the delay has passed the proxy answers with the signed refund (idempotent).
                    await escrow.RequestCloseAsync();
                }

                link.LastLt = Math.Max(link.LastLt, tx.Id.Lt);
            }

            await SaveAsync();
        }
    }

    private async Task<bool> SendDueAsync(ProxyChain chain, uint seqno, long now, bool force, CancellationToken cancellationToken)
    {
        var messages = new List<WalletMessage>();
        var items = new List<PendingItem>();
        var outstanding = false;
        var watermarksMoved = false;
        _termsProblem = null;
        var proxyWallet = chain.Wallet.Address;

        foreach (var (accountId, link) in S.Clients.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var ledger = await GrainFactory.GetGrain<IEscrowAccountGrain>(accountId).GetLedgerAsync();

            // Escrow rows only ever move forward: one older than a row already read here was restored from a copy.
            if (ledger.Seq < link.EscrowSeq)
            {
                throw RolledBack($"escrow account '{accountId}' is stored at row seq {ledger.Seq}, but this proxy has already read its seq {link.EscrowSeq}.");
            }

            if (ledger.Seq > link.EscrowSeq)
            {
                link.EscrowSeq = ledger.Seq;
                watermarksMoved = true;
            }

            var uncharged = ledger.ChargedTokens - link.ConfirmedTokens;

            // A closed account gets the contract's refund: the final charge and the rest back to the client, at once.
            var refund = ledger.Status == EscrowAccountStatus.Closed && !ledger.RefundedOnChain && link.Deposits > 0;
            if (!refund && uncharged <= 0)
            {
                continue;
            }

            if (!refund && !force && checked(uncharged * prices.PricePerToken) < options.EffectiveChargeThresholdNanoTon)
            {
                continue;
            }

            if (messages.Count + 1 > MaxMessagesPerTransfer)
            {
                outstanding = true;
                break;
            }

            var contract = chain.ClientContractOf(TonAddress.Parse(link.Owner));
            if (!TermsUnchanged("client", accountId, link.Contract, contract.Address))
            {
                continue;
            }

            var payload = refund ? contract.GrantRefundPayload(NextQueryId(), (ulong)ledger.ChargedTokens) : contract.ChargePayload(NextQueryId(), (ulong)ledger.ChargedTokens);
            var signed = signer.Settlements.Sign(payload, proxyWallet);
            messages.Add(contract.Message(ClientContract.SignedBody(signed), ProxyChain.SignedMessageValue));
            items.Add(new PendingItem(refund ? "refund" : "charge", accountId, ledger.ChargedTokens));
        }

        // A worker contract belongs to (owner, proxy): workers paid to the same owner share one contract and one
        // cumulative token count, the sum of their earnings.
        foreach (var group in S.Workers.GroupBy(p => p.Value.Contract, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var earned = new List<(string WorkerId, long Tokens)>();
            foreach (var (workerId, _) in group.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                earned.Add((workerId, (await GrainFactory.GetGrain<IWorkerEarningsGrain>(workerId).GetAsync()).EarnedTokens));
            }

            var total = earned.Sum(e => e.Tokens);
            var confirmed = group.Max(p => p.Value.ConfirmedTokens);
            var unpaid = total - confirmed;
            if (unpaid <= 0)
            {
                continue;
            }

            var amount = checked(unpaid * prices.WorkerFeePerToken);
            if (!force && amount < options.PayoutThresholdNanoTon)
            {
                continue;
            }

            if (messages.Count + 2 > MaxMessagesPerTransfer)
            {
                outstanding = true;
                break;
            }

            // The worker contract pays out of its prefund: top it up by exactly the payout (plus what it keeps for
            // gas; deploying it with the first top-up), then send the signed payout, in one transfer, in order.
            var contract = chain.WorkerContractOf(TonAddress.Parse(group.First().Value.Owner));
            if (!TermsUnchanged("worker", group.First().Key, group.Key, contract.Address))
            {
                continue;
            }

            var prefund = amount + (long)WorkerContract.TopUpFee;
            messages.Add(confirmed == 0 ? contract.DeployMessage(prefund, NextQueryId()) : contract.TopUpMessage(prefund, NextQueryId()));
            var signed = signer.Settlements.Sign(contract.PayoutPayload(NextQueryId(), (ulong)total), proxyWallet);
            messages.Add(contract.Message(WorkerContract.SignedBody(signed), ProxyChain.SignedMessageValue));
            items.AddRange(earned.Select(e => new PendingItem("payout", e.WorkerId, e.Tokens) { ContractTokens = total }));
        }

        long commitSeqno = 0;
        byte[]? commitHash = null;
        if (options.RootAddress is { } root && (items.Count > 0 || time.GetUtcNow() - S.LastCommitAt >= options.CommitInterval)
            && messages.Count < MaxMessagesPerTransfer && await IsRegisteredAsync(chain, root, cancellationToken))
        {
            // The proxy state commit (DESIGN section 2): a seqno that only grows and the hash of the ledger as it will
            // stand once this transfer lands, so a database rolled back behind it is detectable.
            commitSeqno = S.CommittedSeqno + 1;
            commitHash = LedgerHash(commitSeqno);
            messages.Add(RootContract.Message(root, RootContract.ProxySaveStateBody(NextQueryId(), (ulong)commitSeqno, commitHash), ProxyChain.CommitValue));
        }

        if (messages.Count == 0)
        {
            if (watermarksMoved)
            {
                await SaveAsync();
            }

            return outstanding;
        }

        var validUntil = now + (long)TransferValidity.TotalSeconds;
        var transfer = chain.BuildTransfer(seqno, (uint)validUntil, messages);
        var boc = transfer.ToBoc();
        S.Pending = new PendingTransfer
        {
            WalletSeqno = seqno,
            ValidUntil = validUntil,
            Boc = Convert.ToBase64String(boc),
            SignedAt = time.GetUtcNow(),
            Items = items,
            CommitSeqno = commitSeqno,
            CommitHash = commitHash,
        };

        // Persisted before it is sent: a crash after sending resends the same message, never a second one.
        await SaveAsync();
        LogTransferSent(seqno, items.Count, commitSeqno);
        await chain.SendAsync(boc, cancellationToken);
        return true;
    }

    private ulong NextQueryId() => (ulong)S.NextQueryId++;

    /// <summary>
    /// A contract's address is its code and terms (price or worker fee, stake, close delay, keys): when the node's
    /// pricing or chain settings changed since the contract was linked, a signed message would go to an address with
    /// nothing there (or with other terms) and the token counts would be converted at the wrong price. Such a contract
    /// is skipped, loudly, until the settings are restored; nothing else stops.
    /// </summary>
    private bool TermsUnchanged(string kind, string id, string linked, TonAddress now)
    {
        if (now.ToRawString() == linked)
        {
            return true;
        }

        _termsProblem = $"The {kind} contract of '{id}' ({TonAddress.Parse(linked).ToFriendlyString()}) was created with other terms than this node's " +
                     $"Cocoon:Pricing / Cocoon:Chain settings, which give {now.ToFriendlyString()}; it is not settled until they are restored.";
        LogTermsChanged(kind, id, linked, now.ToRawString());
        return false;
    }

    private byte[] LedgerHash(long seqno)
    {
        var w = new CanonicalWriter();
        w.WriteInt64(seqno);
        S.WriteLedger(w);
        return SHA256.HashData(w.ToArray());
    }

    private async Task<bool> IsRegisteredAsync(ProxyChain chain, TonAddress root, CancellationToken cancellationToken)
    {
        var registered = (await RootContract.GetProxyAsync(chain.Client, root, chain.Wallet.Address, cancellationToken)).Registered;
        if (!registered && !_reportedUnregistered)
        {
            _reportedUnregistered = true;
            var wallet = chain.Wallet.Address.ToFriendlyString();
            var rootText = root.ToFriendlyString();
            LogNotRegistered(wallet, rootText);
        }

        return registered;
    }

    private static async Task<long> ReadCommittedSeqnoAsync(ProxyChain chain, TonAddress root, CancellationToken cancellationToken) =>
        (long)(await RootContract.GetProxyAsync(chain.Client, root, chain.Wallet.Address, cancellationToken)).Seqno;

    private SettlementStatus Status()
    {
        var wallet = _chain?.Wallet.Address.ToFriendlyString() ?? "";
        return new SettlementStatus
        {
            ChainEnabled = _chain is not null,
            ProxyWallet = wallet,
            Clients = [.. S.Clients.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Channel(p.Key, p.Value))],
            Workers = [.. S.Workers.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Channel(p.Key, p.Value))],
            PendingMessages = S.Pending?.Items.Count ?? 0,
            PendingSince = S.Pending?.SignedAt,
            CommittedSeqno = S.CommittedSeqno,
            LastError = _lastError ?? _termsProblem,
            ConsecutiveFailures = _failures,
            ProxyPublicKey = Convert.ToHexStringLower(signer.PublicKey.Span),
            PricePerToken = prices.PricePerToken,
        };
    }

    private static ClientChannel Channel(string id, ClientLink l) =>
        new(id, TonAddress.Parse(l.Owner).ToFriendlyString(), TonAddress.Parse(l.Contract).ToFriendlyString(), l.ConfirmedTokens, l.DepositedNanoTon);

    private static WorkerChannel Channel(string id, WorkerLink l) =>
        new(id, TonAddress.Parse(l.Owner).ToFriendlyString(), TonAddress.Parse(l.Contract).ToFriendlyString(), l.ConfirmedTokens);

    private void ReportBacklog() => CocoonTelemetry.ReportSettlementBacklog(ProxyId, S.Pending?.Items.Count ?? 0, S.Pending?.SignedAt);

    private void RecordFailure(Exception e)
    {
        _failures++;
        _lastError = e.Message;
        CocoonTelemetry.ChainFailed(e is ToncenterException t ? t.Method : "settlement");
        var backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, options.PollInterval.Ticks << Math.Min(_failures, 16)));
        _nextAttempt = time.GetUtcNow() + backoff;
        var error = e.GetType().Name;
        LogChainFailure(_failures, error, e.Message, backoff.TotalSeconds);
        ReportBacklog();
    }

    private static bool IsChainFailure(Exception e) => e is ToncenterException or ContractGetMethodException or HttpRequestException or TaskCanceledException or TimeoutException;

    private ProxyChain RequireChain() => _chain ?? throw new CocoonApiException(503, "chain_disabled",
        "This proxy runs without a chain (Cocoon:Chain:Endpoint is not set): nothing is settled on TON.");

    private static TonAddress ParseAddress(string text, string param) =>
        TonAddress.TryParse(text, out var address, out var error) ? address
            : throw new CocoonApiException(400, "invalid_address", $"'{text}' is not a TON address: {error}.", param);

    private void Guard()
    {
        if (_rolledBack is not null)
        {
            throw new CocoonApiException(503, LedgerIntegrity.ErrorCode, _rolledBack);
        }

        if (_frozen)
        {
            throw SignedStates.Frozen($"Settlement of proxy '{ProxyId}'");
        }
    }

    private Task SaveAsync()
    {
        signer.Seal(StateKind, ProxyId, S);
        return state.WriteStateAsync();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Settlement of proxy '{ProxyId}' is FROZEN: its stored state (seq {Seq}) does not carry a valid proxy signature.")]
    private partial void LogFrozen(string proxyId, long seq);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Settlement attempt {Failures} failed ({Error}: {Message}); next attempt in {BackoffSeconds} s. Requests are still served within the escrow balances.")]
    private partial void LogChainFailure(int failures, string error, string message, double backoffSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Settlement reaches the chain again after {Failures} failed attempts.")]
    private partial void LogChainRecovered(int failures);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sent wallet transfer seqno {Seqno}: {Items} charges/payouts, state commit {CommitSeqno}.")]
    private partial void LogTransferSent(long seqno, int items, long commitSeqno);

    [LoggerMessage(Level = LogLevel.Information, Message = "Wallet transfer seqno {Seqno} confirmed ({Items} charges/payouts) after {Milliseconds} ms.")]
    private partial void LogTransferConfirmed(long seqno, int items, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Wallet transfer seqno {Seqno} ({Items} charges/payouts) expired unseen; it is signed again from the ledgers.")]
    private partial void LogTransferExpired(long seqno, int items);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Kind} for '{Id}' to {Tokens} tokens was not applied on chain (the contract holds {OnChain}); it is retried.")]
    private partial void LogNotApplied(string kind, string id, long tokens, long onChain);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deposit of {NanoTon} nanoTON credited to account '{AccountId}' (transaction lt {Lt}).")]
    private partial void LogDeposit(string accountId, long nanoTon, ulong lt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The proxy wallet {Wallet} is not registered in the root {Root}: state commits are skipped until the root owner registers it.")]
    private partial void LogNotRegistered(string wallet, string root);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Settlement of proxy '{ProxyId}' is FROZEN, the ledger was rolled back: {Reason}")]
    private partial void LogRolledBack(string proxyId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The settlement state was not compared with the root contract's commit yet ({Error}: {Message}); the first settlement cycle does it.")]
    private partial void LogVerifyDeferred(string error, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The stored settlement state is at commit {Local} but the root {Root} holds only commit {Committed} for this proxy: another root or a reset chain? Commits go on from the stored state.")]
    private partial void LogChainBehind(long local, long committed, string root);

    [LoggerMessage(Level = LogLevel.Error, Message = "The {Kind} contract of '{Id}' is {Linked} but this node's pricing and chain settings give {Now}: it is skipped until they are restored.")]
    private partial void LogTermsChanged(string kind, string id, string linked, string now);

    [LoggerMessage(Level = LogLevel.Error, Message = "Settlement is blocked: {Message}")]
    private partial void LogSettlementBlocked(string message);
}
