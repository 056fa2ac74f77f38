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
    /// balance cannot cover it. Reserving the same request again returns the existing reservation.
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
