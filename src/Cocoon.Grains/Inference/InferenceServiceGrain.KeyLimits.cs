using Cocoon.Abstractions.Accounts;

namespace Cocoon.Grains.Inference;

public sealed partial class InferenceServiceGrain
{
    /// <summary>
    /// Holds a request's worst case against its API key's spend limit (<c>cocoon accounts keys create
    /// --spend-limit</c>) before the escrow reserves it, so concurrent requests through one key cannot together pass
    /// the limit (402 <c>key_spend_limit_reached</c>). Keys without a limit hold nothing and cost no call here.
    /// </summary>
    private async Task HoldKeyAsync(ApiKeyInfo account, string apiKey, string requestId, long nanoTon, TimeSpan timeToLive)
    {
        if (account.SpendLimitNanoTon > 0)
        {
            await GrainFactory.GetGrain<IApiKeyGrain>(ApiKeys.Hash(apiKey)).HoldAsync(requestId, nanoTon, timeToLive);
        }
    }

    /// <summary>
    /// Drops a request's hold on its key (its escrow reservation was released or never made). A key grain that cannot
    /// be reached is not a reason to fail: the hold expires with the reservation's lifetime.
    /// </summary>
    private async Task ReleaseKeyHoldAsync(ApiKeyInfo account, string apiKey, string requestId)
    {
        if (account.SpendLimitNanoTon <= 0)
        {
            return;
        }

        try
        {
            await GrainFactory.GetGrain<IApiKeyGrain>(ApiKeys.Hash(apiKey)).ReleaseHoldAsync(requestId);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            LogKeyChargeNotRecorded(e.GetType().Name);
        }
    }

    /// <summary>
    /// Replaces the request's hold on its API key by what it cost, added to the key's spend total, after the escrow
    /// charged it. The charge stands either way: a key grain that cannot be reached is not a reason to fail a request
    /// already paid for, and the total is a limit, not money.
    /// </summary>
    private async Task RecordKeyChargeAsync(string apiKey, string requestId, long chargedNanoTon)
    {
        try
        {
            await GrainFactory.GetGrain<IApiKeyGrain>(ApiKeys.Hash(apiKey)).SettleHoldAsync(requestId, chargedNanoTon);
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
