using Cocoon.Abstractions;
using Cocoon.Abstractions.Escrow;

namespace Cocoon.Grains.Inference;

public sealed partial class InferenceServiceGrain
{
    // Waits between attempts of a settle whose outcome is unknown: about 7.5 s in all, enough for the cluster to declare a
    // killed proxy silo dead with fast failure detection, or for PostgreSQL to come back from a restart.
    private static readonly TimeSpan[] SettleRetryDelays = [TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)];

    /// <summary>
    /// Settles a served request, retrying while the outcome is unknown. A settle can fail after it took effect: the
    /// escrow's silo died after writing, or the write reached PostgreSQL but its acknowledgement did not. Giving up then
    /// would answer the client with an error and still charge it. Settle is idempotent by request id, so it is retried:
    /// the retry finds the request settled (the same charge is returned, nothing is charged twice) or still reserved
    /// (it settles now). A refusal from the escrow (<see cref="CocoonApiException"/>: no reservation, frozen ledger) is
    /// final and not retried; storage_unavailable is not a refusal but an unknown outcome, and is retried.
    /// </summary>
    private async Task<Settlement> SettleIdempotentlyAsync(IEscrowAccountGrain escrow, string requestId, long chargeNanoTon, string workerId, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await escrow.SettleAsync(requestId, chargeNanoTon, workerId);
            }
            catch (Exception e) when (attempt < SettleRetryDelays.Length && (e is CocoonApiException { Code: Storage.StorageFailureFilter.Code }
                || e is not (CocoonApiException or OperationCanceledException or OutOfMemoryException)))
            {
                LogSettleRetry(requestId, e.GetType().Name, attempt + 1);
                await Task.Delay(SettleRetryDelays[attempt], cancellationToken);
            }
        }
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Warning,
        Message = "Settling request {RequestId} failed ({Error}); retrying (attempt {Attempt}): settle is idempotent, so a settle that took effect is not charged twice")]
    private partial void LogSettleRetry(string requestId, string error, int attempt);
}
