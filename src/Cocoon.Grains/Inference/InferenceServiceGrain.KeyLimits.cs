using Cocoon.Abstractions.Accounts;

namespace Cocoon.Grains.Inference;

public sealed partial class InferenceServiceGrain
{
    /// <summary>
    /// Adds what a request cost to its API key's spend total (the key's spend limit, <c>cocoon accounts keys create
    /// --spend-limit</c>), after the escrow charged it. The charge stands either way: a key grain that cannot be
    /// reached is not a reason to fail a request already paid for, and the total is a limit, not money.
    /// </summary>
    private async Task RecordKeyChargeAsync(string apiKey, long chargedNanoTon)
    {
        try
        {
            await GrainFactory.GetGrain<IApiKeyGrain>(ApiKeys.Hash(apiKey)).RecordChargeAsync(chargedNanoTon);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            LogKeyChargeNotRecorded(e.GetType().Name);
        }
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Warning,
        Message = "A charge could not be added to its API key's spend total ({Error})")]
    private partial void LogKeyChargeNotRecorded(string error);
}
