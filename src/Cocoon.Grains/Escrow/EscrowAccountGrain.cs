using Cocoon.Grains.Placement;
using Cocoon.Grains.Ledger;
using Microsoft.Extensions.DependencyInjection;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Operations;
using Cocoon.Abstractions.Telemetry;
using Cocoon.Abstractions.Pricing;
using Cocoon.Abstractions.Settlement;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Grains.Escrow;

[GenerateSerializer, Alias("cocoon.escrow.EscrowState")]
public sealed class EscrowState : ISignedState
{
    /// <summary>Everything ever credited.</summary>
    [Id(0)] public long Deposited { get; set; }

    /// <summary>Everything ever charged. Balance = Deposited - Charged.</summary>
    [Id(1)] public long Charged { get; set; }

    /// <summary>Open holds by request id.</summary>
    [Id(2)] public Dictionary<string, HeldAmount> Reservations { get; set; } = [];

    /// <summary>Settled requests by id (what a repeated settle returns), with when they were settled.</summary>
    [Id(3)] public Dictionary<string, SettledRequest> Settled { get; set; } = [];

    /// <summary>Credited deposit ids.</summary>
    [Id(4)] public HashSet<string> Deposits { get; set; } = [];

    /// <inheritdoc />
    [Id(5)] public long Seq { get; set; }

    /// <inheritdoc />
    [Id(6)] public byte[]? Signature { get; set; }

    /// <summary>Adjusted tokens the client contract has confirmed charging (never more than charged here).</summary>
    [Id(7)] public long ChargedOnChainTokens { get; set; }

    /// <summary>The number of the last credit this account sent to a worker's earnings (1, 2, 3...).</summary>
    [Id(8)] public long WorkerCreditSeq { get; set; }

    /// <summary>Worker credits written but not yet acknowledged by the worker's earnings grain (an outbox).</summary>
    [Id(9)] public List<PendingWorkerCredit> PendingWorkerCredits { get; set; } = [];

    /// <summary>The client contract's stake (0: no contract, no stake rule).</summary>
    [Id(10)] public long StakeNanoTon { get; set; }

    /// <summary>The contract's <c>client_delay_before_close</c> (zero: <see cref="EscrowAccountGrain.DefaultCloseDelay"/>).</summary>
    [Id(11)] public TimeSpan CloseDelay { get; set; }

    /// <summary>Open, closing or closed.</summary>
    [Id(12)] public EscrowAccountStatus Status { get; set; }

    /// <summary>When a closing account is refunded at the earliest.</summary>
    [Id(13)] public DateTimeOffset? CloseAt { get; set; }

    /// <summary>Everything ever refunded on close. Balance = Deposited - Charged - Refunded.</summary>
    [Id(14)] public long Refunded { get; set; }

    /// <summary>Whether the client contract has refunded and closed on chain.</summary>
    [Id(15)] public bool RefundedOnChain { get; set; }

    /// <inheritdoc />
    public void WriteCanonical(CanonicalWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteInt64(Deposited).WriteInt64(Charged).WriteInt64(ChargedOnChainTokens).WriteInt64(WorkerCreditSeq);
        writer.WriteInt64(Reservations.Count);
        foreach (var (id, held) in Reservations.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            writer.WriteString(id).WriteInt64(held.NanoTon).WriteTime(held.ExpiresAt);
        }

        writer.WriteInt64(Settled.Count);
        foreach (var (id, done) in Settled.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            writer.WriteString(id).WriteInt64(done.ChargedNanoTon).WriteString(done.WorkerId).WriteTime(done.At);
        }

        writer.WriteInt64(Deposits.Count);
        foreach (var id in Deposits.Order(StringComparer.Ordinal))
        {
            writer.WriteString(id);
        }

        writer.WriteInt64(PendingWorkerCredits.Count);
        foreach (var credit in PendingWorkerCredits)
        {
            writer.WriteInt64(credit.Seq).WriteString(credit.WorkerId).WriteInt64(credit.Tokens);
        }

        // Stake and close: appended only once set, so rows written before these fields existed still verify.
        if (StakeNanoTon != 0 || CloseDelay != TimeSpan.Zero || Status != EscrowAccountStatus.Open || CloseAt is not null || Refunded != 0 || RefundedOnChain)
        {
            writer.WriteString("stake-close").WriteInt64(StakeNanoTon).WriteInt64(CloseDelay.Ticks).WriteInt64((long)Status)
                .WriteInt64(CloseAt?.UtcTicks ?? -1).WriteInt64(Refunded).WriteInt64(RefundedOnChain ? 1 : 0);
        }
    }
}

/// <summary>A credit of adjusted tokens to a worker, numbered per account.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.escrow.PendingWorkerCredit")]
public sealed record PendingWorkerCredit([property: Id(0)] long Seq, [property: Id(1)] string WorkerId, [property: Id(2)] long Tokens);

[GenerateSerializer, Immutable, Alias("cocoon.escrow.HeldAmount")]
public sealed record HeldAmount([property: Id(0)] long NanoTon, [property: Id(1)] DateTimeOffset ExpiresAt);

[GenerateSerializer, Immutable, Alias("cocoon.escrow.SettledRequest")]
public sealed record SettledRequest([property: Id(0)] long ChargedNanoTon, [property: Id(1)] string WorkerId, [property: Id(2)] DateTimeOffset At);

/// <summary>
/// A client's escrow account; see <see cref="IEscrowAccountGrain"/>. Invariant after every operation:
/// <c>0 &lt;= Reserved &lt;= Balance = Deposited - Charged</c>. State is written before a call returns, so an
/// acknowledged operation survives a crash; a retried one is answered from the record it left.
/// Every write is signed by the proxy key (<see cref="StateSigner"/>); a stored row that does not verify freezes the
/// account: every call fails with 403 <c>account_frozen</c> and nothing is written.
/// Each settle also credits the worker's earnings with the request's adjusted tokens (charge / price per token)
/// through a persisted outbox, numbered per account so a redelivery is ignored.
/// With a client contract (<see cref="IEscrowAccountGrain.SetClientContractAsync"/>) the stake bounds the credit not
/// yet charged on chain, as COCOON's <c>tokens_available = min(paid, stake + charged_onchain) - reserved - used</c>.
/// A close (<see cref="IEscrowAccountGrain.RequestCloseAsync"/>) refuses new reservations, lets open ones finish and
/// refunds the balance after the close delay, by reminder: <c>Deposited = Balance + Charged + Refunded</c> always.
/// </summary>
[ProxyRole]
public sealed partial class EscrowAccountGrain(
    [PersistentState("escrow", CocoonNames.StorageName)] IPersistentState<EscrowState> state,
    [FromKeyedServices(CocoonGrainsExtensions.ClockKey)] TimeProvider time,
    IOptions<ReminderOptions> reminders,
    StateSigner signer,
    PriceList prices,
    LedgerIntegrity integrity,
    ILogger<EscrowAccountGrain> logger) : Grain, IEscrowAccountGrain, IEscrowAdminGrain, IRemindable
{
    private const string ExpiryReminder = "expire-reservations";
    private const string CloseReminder = "close-account";

    /// <summary>The close delay of an account whose contract did not say (COCOON's fake-TON <c>client_delay_before_close</c>, 300 s).</summary>
    public static readonly TimeSpan DefaultCloseDelay = TimeSpan.FromSeconds(300);

    /// <summary>The kind signed with escrow rows.</summary>
    public const string StateKind = "escrow";

    private bool _frozen;
    private long _deliveredCreditSeq;

    /// <summary>
    /// How many settled request ids an account remembers, newest first. The whole state is written on every
    /// operation, so this bounds both its size and the cost of a write. A repeated settle of a request older than that
    /// finds neither its record nor its reservation and is refused: it can never charge twice.
    /// </summary>
    public const int RememberedSettlements = 256;

    private bool? _hasReminder;

    private EscrowState S => state.State;

    private string AccountId => this.GetPrimaryKeyString();

    /// <inheritdoc />
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!signer.IsAuthentic(StateKind, AccountId, S, state.RecordExists))
        {
            _frozen = true;
            LogFrozen(AccountId, S.Seq);
            return;
        }

        await DeliverWorkerCreditsAsync();
    }

    /// <inheritdoc />
    public async Task<EscrowBalance> DepositAsync(string depositId, long nanoTon)
    {
        GuardMoney();
        ArgumentException.ThrowIfNullOrWhiteSpace(depositId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nanoTon);
        if (S.Deposits.Add(depositId))
        {
            S.Deposited = checked(S.Deposited + nanoTon);
            await SaveAsync();
        }

        return Balance();
    }

    /// <inheritdoc />
    public async Task<Reservation> ReserveAsync(string requestId, long nanoTon, TimeSpan timeToLive)
    {
        using var span = CocoonTelemetry.StartSpan("cocoon.escrow.reserve");
        GuardMoney();
        ArgumentException.ThrowIfNullOrWhiteSpace(requestId);
        ArgumentOutOfRangeException.ThrowIfNegative(nanoTon);
        if (S.Reservations.TryGetValue(requestId, out var held))
        {
            return new Reservation(requestId, held.NanoTon, held.ExpiresAt);
        }

        if (S.Settled.ContainsKey(requestId))
        {
            throw new CocoonApiException(409, "request_settled", $"Request {requestId} was already settled.");
        }

        switch (S.Status)
        {
            case EscrowAccountStatus.Closing:
                throw EscrowErrors.Closing(S.CloseAt);
            case EscrowAccountStatus.Closed:
                throw EscrowErrors.Closed();
        }

        var balance = Balance();
        var available = balance.Available;
        if (nanoTon > available)
        {
            throw new InsufficientBalanceException(nanoTon, available);
        }

        if (S.StakeNanoTon > 0)
        {
            // COCOON's tokens_available: what is charged off chain but not yet on the client contract, plus what is
            // held, plus this request, may not exceed the stake (the contract only guarantees the stake beyond what
            // it has charged).
            var uncharged = UnchargedNanoTon;
            if (checked(uncharged + balance.Reserved + nanoTon) > S.StakeNanoTon)
            {
                throw EscrowErrors.StakeExhausted(nanoTon, uncharged, balance.Reserved, S.StakeNanoTon);
            }
        }

        var expiresAt = time.GetUtcNow() + timeToLive;
        S.Reservations[requestId] = new HeldAmount(nanoTon, expiresAt);
        await SaveAsync();
        CocoonTelemetry.EscrowReserved.Add(nanoTon);
        await EnsureExpiryReminderAsync();
        return new Reservation(requestId, nanoTon, expiresAt);
    }

    /// <inheritdoc />
    public async Task<Settlement> SettleAsync(string requestId, long chargeNanoTon, string workerId)
    {
        using var span = CocoonTelemetry.StartSpan("cocoon.escrow.settle");
        GuardMoney();
        ArgumentException.ThrowIfNullOrWhiteSpace(requestId);
        ArgumentOutOfRangeException.ThrowIfNegative(chargeNanoTon);
        if (S.Settled.TryGetValue(requestId, out var done))
        {
            return new Settlement(requestId, done.ChargedNanoTon, done.WorkerId, Balance());
        }

        if (!S.Reservations.TryGetValue(requestId, out var held))
        {
            throw new CocoonApiException(409, "no_reservation", $"Request {requestId} has no reservation to settle (released or expired).");
        }

        if (chargeNanoTon > held.NanoTon)
        {
            throw new CocoonApiException(500, "charge_exceeds_reservation",
                $"Request {requestId} would be charged {chargeNanoTon} nanoTON but only {held.NanoTon} was reserved.");
        }

        var now = time.GetUtcNow();
        S.Reservations.Remove(requestId);
        S.Charged = checked(S.Charged + chargeNanoTon);
        S.Settled[requestId] = new SettledRequest(chargeNanoTon, workerId, now);
        ForgetOldSettlements();
        var workerTokens = prices.PricePerToken > 0 ? chargeNanoTon / prices.PricePerToken : 0;
        if (workerTokens > 0 && !string.IsNullOrEmpty(workerId))
        {
            S.WorkerCreditSeq++;
            S.PendingWorkerCredits.Add(new PendingWorkerCredit(S.WorkerCreditSeq, workerId, workerTokens));
        }

        FinishCloseIfDue(now);
        await SaveAsync();
        await DeliverWorkerCreditsAsync();
        CocoonTelemetry.EscrowCharged.Add(chargeNanoTon);
        return new Settlement(requestId, chargeNanoTon, workerId, Balance());
    }

    /// <inheritdoc />
    public async Task<EscrowBalance> ReleaseAsync(string requestId)
    {
        GuardMoney();
        if (S.Reservations.Remove(requestId))
        {
            FinishCloseIfDue(time.GetUtcNow());
            await SaveAsync();
        }

        return Balance();
    }

    /// <inheritdoc />
    public Task<EscrowBalance> GetBalanceAsync()
    {
        Guard();
        return Task.FromResult(Balance());
    }

    /// <inheritdoc />
    public Task<EscrowLedger> GetLedgerAsync()
    {
        Guard();
        return Task.FromResult(Ledger());
    }

    /// <inheritdoc />
    public async Task<EscrowLedger> ConfirmChargedOnChainAsync(long tokens)
    {
        GuardMoney();
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        if (tokens > ChargedTokens)
        {
            // The chain has charged more than this ledger ever did: the row is older than what the proxy signed on
            // chain (a rolled-back database). Nothing here can be trusted any more.
            _frozen = true;
            LogRolledBack(AccountId, tokens, ChargedTokens);
            Guard();
        }

        if (tokens > S.ChargedOnChainTokens)
        {
            S.ChargedOnChainTokens = tokens;
            await SaveAsync();
        }

        return Ledger();
    }

    /// <inheritdoc />
    public async Task<EscrowLedger> SetClientContractAsync(long stakeNanoTon, TimeSpan closeDelay)
    {
        GuardMoney();
        if (stakeNanoTon < 0)
        {
            throw new CocoonApiException(400, "invalid_stake", $"A stake is 0 (none) or positive nanoTON; {stakeNanoTon} is neither.", "stake");
        }

        if (closeDelay < TimeSpan.Zero || closeDelay > TimeSpan.FromDays(366))
        {
            throw new CocoonApiException(400, "invalid_close_delay", $"A close delay is between 0 and 366 days; {closeDelay} is not.", "close_delay");
        }

        if (S.StakeNanoTon != stakeNanoTon || S.CloseDelay != closeDelay)
        {
            S.StakeNanoTon = stakeNanoTon;
            S.CloseDelay = closeDelay;
            await SaveAsync();
        }

        return Ledger();
    }

    /// <inheritdoc />
    public async Task<EscrowLedger> RequestCloseAsync()
    {
        GuardMoney();
        if (S.Status == EscrowAccountStatus.Closing || (S.Status == EscrowAccountStatus.Closed && Balance().Balance == 0))
        {
            return Ledger();
        }

        var now = time.GetUtcNow();
        var delay = Ledger().CloseDelay;
        S.Status = EscrowAccountStatus.Closing;
        S.CloseAt = now + delay;
        S.RefundedOnChain = false;
        LogClosing(AccountId, S.CloseAt.Value);
        await SaveAsync();

        // A reminder survives deactivation and silo loss: the refund happens even if nothing calls this account again.
        // It ticks every period (a minute by default) while closing; each tick checks the delay on the grain's clock.
        var period = reminders.Value.MinimumReminderPeriod;
        await this.RegisterOrUpdateReminder(CloseReminder, period, period);
        return Ledger();
    }

    /// <inheritdoc />
    Task<EscrowLedger> IEscrowAdminGrain.CloseAsync() => RequestCloseAsync();

    /// <inheritdoc />
    public async Task<EscrowLedger> ConfirmRefundedOnChainAsync()
    {
        GuardMoney();
        if (S.Status == EscrowAccountStatus.Closed && !S.RefundedOnChain)
        {
            S.RefundedOnChain = true;
            await SaveAsync();
        }

        return Ledger();
    }

    /// <inheritdoc />
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (_frozen || integrity.FrozenReason is not null || reminderName is not (ExpiryReminder or CloseReminder))
        {
            return;
        }

        var now = time.GetUtcNow();
        var expired = S.Reservations.Where(r => r.Value.ExpiresAt <= now).Select(r => r.Key).ToList();
        foreach (var requestId in expired)
        {
            S.Reservations.Remove(requestId);
        }

        var closed = FinishCloseIfDue(now);
        if (expired.Count > 0 || closed)
        {
            await SaveAsync();
        }

        if (S.Reservations.Count == 0 && await this.GetReminder(ExpiryReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
            _hasReminder = false;
        }

        if (S.Status != EscrowAccountStatus.Closing && await this.GetReminder(CloseReminder) is { } closing)
        {
            await this.UnregisterReminder(closing);
        }
    }

    /// <summary>
    /// Refunds a closing account once its delay has passed and no reservation is open: the whole balance moves to
    /// <see cref="EscrowState.Refunded"/>. The caller saves. Returns whether it closed.
    /// </summary>
    private bool FinishCloseIfDue(DateTimeOffset now)
    {
        if (S.Status != EscrowAccountStatus.Closing || S.CloseAt > now || S.Reservations.Count > 0)
        {
            return false;
        }

        var refund = Balance().Balance;
        S.Refunded = checked(S.Refunded + refund);
        S.Status = EscrowAccountStatus.Closed;
        S.CloseAt = null;
        LogClosed(AccountId, refund);
        return true;
    }

    /// <summary>nanoTON charged here and not yet on the client contract.</summary>
    private long UnchargedNanoTon => Math.Max(0, checked(S.Charged - (S.ChargedOnChainTokens * prices.PricePerToken)));

    private async Task EnsureExpiryReminderAsync()
    {
        // Looked up once per activation: the reminder table is not read on every reservation.
        _hasReminder ??= await this.GetReminder(ExpiryReminder) is not null;
        if (_hasReminder == true)
        {
            return;
        }

        // Reminders survive deactivation and silo loss. It ticks every period (the shortest the cluster allows, one
        // minute by default) while holds are open, so an expired hold is gone within a period of its expiry.
        var period = reminders.Value.MinimumReminderPeriod;
        await this.RegisterOrUpdateReminder(ExpiryReminder, period, period);
        _hasReminder = true;
    }

    private void ForgetOldSettlements()
    {
        if (S.Settled.Count <= RememberedSettlements)
        {
            return;
        }

        foreach (var old in S.Settled.OrderBy(s => s.Value.At).ThenBy(s => s.Key, StringComparer.Ordinal)
                     .Take(S.Settled.Count - RememberedSettlements).Select(s => s.Key).ToList())
        {
            S.Settled.Remove(old);
        }
    }

    private long ChargedTokens => prices.PricePerToken > 0 ? S.Charged / prices.PricePerToken : 0;

    private EscrowLedger Ledger() => new(AccountId, Balance(), ChargedTokens, S.ChargedOnChainTokens, S.Seq)
    {
        StakeNanoTon = S.StakeNanoTon,
        UnchargedNanoTon = UnchargedNanoTon,
        Status = S.Status,
        CloseAt = S.CloseAt,
        RefundedOnChain = S.RefundedOnChain,
        CloseDelay = S.CloseDelay > TimeSpan.Zero ? S.CloseDelay : DefaultCloseDelay,
    };

    private void Guard()
    {
        if (_frozen)
        {
            throw SignedStates.Frozen($"Escrow account '{AccountId}'");
        }
    }

    /// <summary>Guard for the calls that move money: also refused while this silo's ledger is found rolled back.</summary>
    private void GuardMoney()
    {
        Guard();
        integrity.ThrowIfFrozen();
    }

    /// <summary>Signs and writes the state; credits a worker acknowledged since the last write are dropped first.</summary>
    private async Task SaveAsync()
    {
        S.PendingWorkerCredits.RemoveAll(c => c.Seq <= _deliveredCreditSeq);
        signer.Seal(StateKind, AccountId, S);
        try
        {
            await state.WriteStateAsync();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The change is in memory but maybe not in storage (or in storage with its acknowledgement lost). Keeping
            // this activation would let a later write persist a change its caller saw fail: a charge for a request that
            // was answered with an error. Deactivate instead; the next call reads what storage really holds.
            LogWriteFailed(AccountId, e.GetType().Name);
            DeactivateOnIdle();
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Escrow account '{AccountId}': writing its state failed ({Error}); the activation is dropped and the next call reloads the stored state")]
    private partial void LogWriteFailed(string accountId, string error);

    /// <summary>
    /// Sends the outbox to the workers' earnings grains, in order. A failure leaves the rest for the next call or
    /// activation; the earnings grain ignores a credit number it has already applied, so resending is harmless.
    /// </summary>
    private async Task DeliverWorkerCreditsAsync()
    {
        foreach (var credit in S.PendingWorkerCredits)
        {
            if (credit.Seq <= _deliveredCreditSeq)
            {
                continue;
            }

            try
            {
                await GrainFactory.GetGrain<IWorkerEarningsGrain>(credit.WorkerId).CreditAsync(AccountId, credit.Seq, credit.Tokens);
                _deliveredCreditSeq = credit.Seq;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogCreditDeferred(AccountId, credit.WorkerId, e.GetType().Name);
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Escrow account '{AccountId}' is FROZEN: its stored state (seq {Seq}) does not carry a valid proxy signature; it was changed outside the proxy. Every call on it is refused.")]
    private partial void LogFrozen(string accountId, long seq);

    [LoggerMessage(Level = LogLevel.Error, Message = "Escrow account '{AccountId}' is FROZEN: its client contract has charged {OnChain} tokens but this ledger only {Charged}; the database was rolled back.")]
    private partial void LogRolledBack(string accountId, long onChain, long charged);

    [LoggerMessage(Level = LogLevel.Information, Message = "Escrow account '{AccountId}' is closing at the client's request; its balance is refunded at {CloseAt} at the earliest.")]
    private partial void LogClosing(string accountId, DateTimeOffset closeAt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Escrow account '{AccountId}' closed: {Refund} nanoTON refunded.")]
    private partial void LogClosed(string accountId, long refund);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Escrow account '{AccountId}' could not credit worker '{WorkerId}' yet ({Error}); it is retried on the next call.")]
    private partial void LogCreditDeferred(string accountId, string workerId, string error);

    private EscrowBalance Balance()
    {
        long reserved = 0;
        foreach (var held in S.Reservations.Values)
        {
            reserved = checked(reserved + held.NanoTon);
        }

        return new EscrowBalance(checked(S.Deposited - S.Charged - S.Refunded), reserved, S.Charged, S.Deposited) { Refunded = S.Refunded };
    }
}
