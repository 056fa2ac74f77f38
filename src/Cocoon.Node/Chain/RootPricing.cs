using Cocoon.Grains.Ledger;
using Cocoon.Node.Configuration;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Toncenter;

namespace Cocoon.Node.Chain;

/// <summary>
/// Prices and multipliers from the root contract (the registry; DESIGN section 5), read once at start when the node has
/// a chain and a root and <c>Cocoon:Pricing:FromRoot</c> holds (the Production default). Every silo of a cluster then
/// prices with the same on-chain parameters, and the client contracts the proxy creates carry that price. A root that
/// cannot be read leaves the configured prices in force until the next start, which is said at start; a root price
/// change reaches a running node at its next start (contracts linked under the old price are then skipped by
/// settlement with a clear error, see SettlementGrain).
/// </summary>
internal static class RootPricing
{
    public static async Task<NodeSettings> ApplyAsync(NodeSettings settings, Action<string>? progress, CancellationToken cancellationToken)
    {
        if (!settings.PricesFromRoot || settings.Chain.Endpoint is not { } endpoint || settings.Chain.RootAddress is not { } root)
        {
            return settings;
        }

        using var http = new HttpClient();
        var client = new ToncenterClient(http, new ToncenterOptions { Endpoint = endpoint, ApiKey = settings.Chain.ApiKey, MaxRetries = 1, Timeout = TimeSpan.FromSeconds(10) });
        try
        {
            var p = await RootContract.GetParamsAsync(client, root, cancellationToken).ConfigureAwait(false);
            var prices = RegistryGrain.PricesOf(p);
            progress?.Invoke($"pricing: from the root contract (params version {p.ParamsVersion}): {prices.PricePerToken} nanoTON per adjusted token, " +
                             $"workers earn {prices.WorkerFeePerToken}; multipliers prompt {prices.PromptMultiplier}, cached {prices.CachedMultiplier}, " +
                             $"completion {prices.CompletionMultiplier}, reasoning {prices.ReasoningMultiplier}");
            return settings with { Prices = prices };
        }
        catch (Exception e) when (e is ToncenterException or ContractGetMethodException or HttpRequestException or TaskCanceledException or OverflowException)
        {
            progress?.Invoke($"pricing: the root contract could not be read ({e.GetType().Name}: {e.Message}); the configured Cocoon:Pricing applies until the next start");
            return settings;
        }
    }
}
