using Cocoon.Abstractions;

namespace Cocoon.Grains.Ledger;

/// <summary>
/// This silo's verdict on the money state it serves from: once the settlement grain finds the database older than what
/// the proxy committed on chain (a restore of an older, validly signed backup; DESIGN section 2), every money-moving
/// escrow operation on the silo is refused until an operator restores the newest state. Each proxy silo learns the
/// verdict from the settlement grain (it is set where the grain runs at once, and on the others by the node's
/// settlement watcher within seconds); readiness reports it. Reads stay allowed so the operator can inspect.
/// </summary>
public sealed class LedgerIntegrity
{
    /// <summary>The error code of a call refused because the ledger is not trusted.</summary>
    public const string ErrorCode = "ledger_rolled_back";

    private volatile string? _message;

    /// <summary>The message money-moving calls are refused with, or null while the ledger is trusted.</summary>
    public string? FrozenReason => _message;

    /// <summary>Freezes money movement on this silo with the settlement grain's error message; the first one is kept.</summary>
    public void Freeze(string message)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(message);
        Interlocked.CompareExchange(ref _message, message, null);
    }

    /// <summary>Throws while frozen.</summary>
    /// <exception cref="CocoonApiException">503 <c>ledger_rolled_back</c>.</exception>
    public void ThrowIfFrozen()
    {
        if (_message is { } message)
        {
            throw new CocoonApiException(503, ErrorCode, message);
        }
    }

    /// <summary>The message for a rollback found for <paramref name="reason"/> (one sentence naming the gap).</summary>
    public static string Message(string reason) =>
        $"Money movement is frozen on this proxy: {reason} The database was restored from an older copy or changed " +
        "outside the proxy; nothing is charged, credited or settled until an operator restores the newest state.";
}
