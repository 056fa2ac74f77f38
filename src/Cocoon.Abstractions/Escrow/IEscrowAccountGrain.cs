namespace Cocoon.Abstractions.Escrow;

/// <summary>
/// A client's escrow account (DESIGN sections 3-5): balance in nanoTON, reservations per request, charges. Every
/// operation is idempotent by its id, so a retried call never moves money twice.
/// </summary>
[Alias("cocoon.escrow.IEscrowAccountGrain")]
public interface IEscrowAccountGrain : IGrainWithStringKey
{
    /// <summary>Credits a deposit once per <paramref name="depositId"/> (an on-chain transaction, or a devnet grant).</summary>
    [Alias("Deposit")]
    Task<EscrowBalance> DepositAsync(string depositId, long nanoTon);

    /// <summary>
    /// Holds <paramref name="nanoTon"/> for <paramref name="requestId"/> until it is settled or released, or until
    /// <paramref name="timeToLive"/> passes. Throws <see cref="InsufficientBalanceException"/> when the available
    /// balance cannot cover it, 402 <c>stake_exhausted</c> when the account has a client contract and the credit not
    /// yet charged on chain would pass its stake (<see cref="SetClientContractAsync"/>), and 409 <c>account_closing</c>
    /// / <c>account_closed</c> once a close was requested. Reserving the same request again returns the existing
    /// reservation.
    /// </summary>
    [Alias("Reserve")]
    Task<Reservation> ReserveAsync(string requestId, long nanoTon, TimeSpan timeToLive);

    /// <summary>
    /// Charges <paramref name="chargeNanoTon"/> (at most the reservation) for <paramref name="requestId"/>, releases the
    /// rest, and records the worker. A second settle of the same request returns the first outcome.
    /// </summary>
    [Alias("Settle")]
    Task<Settlement> SettleAsync(string requestId, long chargeNanoTon, string workerId);

    /// <summary>Drops the reservation of a request that failed: nothing is charged. Idempotent.</summary>
    [Alias("Release")]
    Task<EscrowBalance> ReleaseAsync(string requestId);

    /// <summary>The account's balances.</summary>
    [Alias("GetBalance")]
    Task<EscrowBalance> GetBalanceAsync();

    /// <summary>
    /// The account as settlement sees it: balances, the adjusted tokens charged off chain (what a signed charge
    /// carries) and those already confirmed on the client contract.
    /// </summary>
    [Alias("GetLedger")]
    Task<EscrowLedger> GetLedgerAsync();

    /// <summary>
    /// Records that the client contract has charged <paramref name="tokens"/> adjusted tokens in total (never lowers
    /// it). More than this account ever charged means the database was rolled back: the account freezes.
    /// </summary>
    [Alias("ConfirmChargedOnChain")]
    Task<EscrowLedger> ConfirmChargedOnChainAsync(long tokens);

    /// <summary>
    /// Records the terms of the account's client contract (settlement calls it when it links the account): from then
    /// on the stake bounds the credit not yet charged on chain (COCOON's <c>tokens_available</c>): a reservation
    /// needs <c>uncharged + reserved + new &lt;= stake</c> besides the balance, else 402 <c>stake_exhausted</c>.
    /// <paramref name="closeDelay"/> is the contract's <c>client_delay_before_close</c>. A stake of 0 means no stake
    /// rule (an account without a contract). Idempotent; bad values are refused and change nothing.
    /// </summary>
    [Alias("SetClientContract")]
    Task<EscrowLedger> SetClientContractAsync(long stakeNanoTon, TimeSpan closeDelay);

    /// <summary>
    /// The client asks to close the account and get its balance back. New reservations are refused at once (409
    /// <c>account_closing</c>); reservations already open may still settle; once the close delay has passed
    /// (<see cref="EscrowLedger.CloseAt"/>) and no reservation is open, the whole remaining balance is refunded
    /// (<see cref="EscrowBalance.Refunded"/>) and the account is closed; settlement sends the final charge (and the
    /// contract's refund). Runs by reminder, so it survives deactivation. Idempotent: a second request while closing
    /// changes nothing; on a closed account that received a later deposit it starts a new close.
    /// </summary>
    [Alias("RequestClose")]
    Task<EscrowLedger> RequestCloseAsync();

    /// <summary>Records that the client contract has refunded and closed on chain (settlement calls it). Idempotent.</summary>
    [Alias("ConfirmRefundedOnChain")]
    Task<EscrowLedger> ConfirmRefundedOnChainAsync();
}

/// <summary>Where an account is in its life.</summary>
public enum EscrowAccountStatus
{
    /// <summary>Serving requests.</summary>
    Open = 0,

    /// <summary>The client asked to close: no new reservations; refunded once the close delay has passed.</summary>
    Closing = 1,

    /// <summary>Refunded and closed.</summary>
    Closed = 2,
}

/// <summary>An account's ledger for settlement (DESIGN section 6).</summary>
[GenerateSerializer, Immutable, Alias("cocoon.escrow.EscrowLedger")]
public sealed record EscrowLedger(
    [property: Id(0)] string AccountId,
    [property: Id(1)] EscrowBalance Balance,
    [property: Id(2)] long ChargedTokens,
    [property: Id(3)] long ChargedOnChainTokens,
    [property: Id(4)] long Seq)
{
    /// <summary>Tokens charged off chain and not yet on the client contract.</summary>
    public long UnchargedTokens => ChargedTokens - ChargedOnChainTokens;

    /// <summary>The client contract's stake in nanoTON (0: no contract, no stake rule).</summary>
    [Id(5)] public long StakeNanoTon { get; init; }

    /// <summary>nanoTON charged off chain and not yet on the client contract (what the stake bounds).</summary>
    [Id(6)] public long UnchargedNanoTon { get; init; }

    /// <summary>Open, closing or closed.</summary>
    [Id(7)] public EscrowAccountStatus Status { get; init; }

    /// <summary>When a closing account is refunded at the earliest (null unless closing).</summary>
    [Id(8)] public DateTimeOffset? CloseAt { get; init; }

    /// <summary>Whether the client contract has refunded and closed on chain.</summary>
    [Id(9)] public bool RefundedOnChain { get; init; }

    /// <summary>How long after a close request the balance is refunded (the contract's <c>client_delay_before_close</c>).</summary>
    [Id(10)] public TimeSpan CloseDelay { get; init; }
}

/// <summary>An account's balances in nanoTON.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.escrow.EscrowBalance")]
public sealed record EscrowBalance(
    [property: Id(0)] long Balance,
    [property: Id(1)] long Reserved,
    [property: Id(2)] long Charged,
    [property: Id(3)] long Deposited)
{
    /// <summary>What new reservations can use.</summary>
    public long Available => Balance - Reserved;

    /// <summary>
    /// What was refunded to the client on close. Money is conserved: <c>Deposited = Balance + Charged + Refunded</c>.
    /// </summary>
    [Id(4)] public long Refunded { get; init; }
}

/// <summary>A hold on an account for one request.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.escrow.Reservation")]
public sealed record Reservation(
    [property: Id(0)] string RequestId,
    [property: Id(1)] long NanoTon,
    [property: Id(2)] DateTimeOffset ExpiresAt);

/// <summary>The outcome of settling a request.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.escrow.Settlement")]
public sealed record Settlement(
    [property: Id(0)] string RequestId,
    [property: Id(1)] long ChargedNanoTon,
    [property: Id(2)] string WorkerId,
    [property: Id(3)] EscrowBalance Balance);

/// <summary>The errors the escrow account answers besides <see cref="InsufficientBalanceException"/>.</summary>
public static class EscrowErrors
{
    /// <summary>
    /// HTTP 402 <c>stake_exhausted</c>: the credit not yet charged on chain has reached the client contract's stake
    /// (settlement is behind, e.g. the chain endpoint is down).
    /// </summary>
    public static CocoonApiException StakeExhausted(long needed, long uncharged, long reserved, long stake) => new(402, "stake_exhausted",
        $"This request needs up to {needed} nanoTON, but {uncharged} nanoTON charged off chain is not yet settled on chain and " +
        $"{reserved} nanoTON is held for running requests, against a stake of {stake} nanoTON: settlement is behind. " +
        "Requests resume as soon as the charges reach the chain.");

    /// <summary>HTTP 409 <c>account_closing</c>: the client asked to close the account; no new requests.</summary>
    public static CocoonApiException Closing(DateTimeOffset? closeAt) => new(409, "account_closing",
        $"This account is closing (the client asked for a refund): no new requests are accepted; the balance is refunded at {closeAt:O} at the earliest.");

    /// <summary>HTTP 409 <c>account_closed</c>: the account was refunded and closed.</summary>
    public static CocoonApiException Closed() => new(409, "account_closed",
        "This account was closed and its balance refunded: no new requests are accepted.");
}

/// <summary>The account cannot cover a reservation (HTTP 402).</summary>
[GenerateSerializer, Alias("cocoon.escrow.InsufficientBalanceException")]
public sealed class InsufficientBalanceException : Exception
{
    public InsufficientBalanceException()
    {
    }

    public InsufficientBalanceException(string message) : base(message)
    {
    }

    public InsufficientBalanceException(string message, Exception inner) : base(message, inner)
    {
    }

    /// <summary>Creates the exception for a shortfall.</summary>
    public InsufficientBalanceException(long needed, long available)
        : base($"insufficient balance: this request needs up to {needed} nanoTON and {available} nanoTON is available.")
    {
        Needed = needed;
        Available = available;
    }

    /// <summary>What the reservation needed.</summary>
    [Id(0)] public long Needed { get; init; }

    /// <summary>What was available.</summary>
    [Id(1)] public long Available { get; init; }
}
