using Cocoon.Abstractions.Settlement;
using Cocoon.Grains.Ledger;
using Cocoon.Node.Configuration;
using Cocoon.Ton.Toncenter;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Node.Chain;

/// <summary>Registers the proxy key and, when an endpoint is configured, the chain services settlement uses.</summary>
public static class ChainWiring
{
    /// <summary>Loads the proxy key (refusing a Production proxy without one) and registers what settlement needs.</summary>
    /// <exception cref="CocoonConfigurationException">No proxy key in Production, or a bad chain setting.</exception>
    public static void Register(IServiceCollection services, NodeSettings settings, Action<string>? progress)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        var signer = settings.Chain.LoadProxyKey(settings, progress);
        services.AddSingleton(_ => signer);
        services.AddSingleton(settings.Chain.Settlement);
        if (settings.Chain.Endpoint is not { } endpoint || !settings.Roles.HasFlag(SiloRoles.Proxy))
        {
            return;
        }

        services.AddSingleton(_ => new ToncenterClient(new HttpClient(), new ToncenterOptions
        {
            Endpoint = endpoint,
            ApiKey = settings.Chain.ApiKey,
            // The settlement grain has its own retry loop with backoff; one quick retry here is enough.
            MaxRetries = 1,
            Timeout = TimeSpan.FromSeconds(10),
        }));
        services.AddSingleton<ProxyChain>();
        services.AddHostedService<SettlementStarter>();
        progress?.Invoke($"chain: settling on {endpoint} (charge past {settings.Chain.Settlement.ChargeThresholdNanoTon} nanoTON, " +
                         $"pay workers past {settings.Chain.Settlement.PayoutThresholdNanoTon} nanoTON)");
    }
}

/// <summary>
/// Activates the settlement grain once the host has started (the silo is up by then), so its timer watches deposits
/// and thresholds without waiting for a first call. A frozen settlement state is logged by the grain itself.
/// </summary>
internal sealed partial class SettlementStarter(IGrainFactory grains, IHostApplicationLifetime lifetime, ILogger<SettlementStarter> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() => _ = ActivateAsync());
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task ActivateAsync()
    {
        try
        {
            await grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey).GetStatusAsync();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogNotStarted(e.GetType().Name, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The settlement grain did not start ({Error}: {Message}); it starts on the next settlement call.")]
    private partial void LogNotStarted(string error, string message);
}
