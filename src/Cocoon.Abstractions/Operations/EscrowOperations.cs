using Cocoon.Abstractions.Escrow;

namespace Cocoon.Abstractions.Operations;

/// <summary>
/// Operator-only actions on one escrow account, keyed like <see cref="IEscrowAccountGrain"/> by the account id: what
/// <c>cocoon accounts close</c> uses when a client asks (off chain) for its money back. A client with a contract may
/// also ask on chain (<c>owner_client_request_refund</c>); settlement then closes the account the same way.
/// </summary>
[Alias("cocoon.operations.IEscrowAdminGrain")]
public interface IEscrowAdminGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts closing the account (<see cref="IEscrowAccountGrain.RequestCloseAsync"/>): new requests get 409
    /// <c>account_closing</c> at once, running ones may finish, and the balance is refunded after the close delay.
    /// Idempotent.
    /// </summary>
    [Alias("Close")]
    Task<EscrowLedger> CloseAsync();

    /// <summary>The account's ledger: balances, tokens charged off and on chain, stake, and where it is in its close.</summary>
    [Alias("GetLedger")]
    Task<EscrowLedger> GetLedgerAsync();
}
