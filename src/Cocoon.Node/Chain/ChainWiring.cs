using Cocoon.Abstractions;
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
/// and thresholds without waiting for a first call, and then asks it every few seconds whether the stored ledger is
/// trusted: when the grain (wherever it runs) has found the database older than the proxy's commit on chain, this
/// silo's <see cref="LedgerIntegrity"/> is frozen too, so its escrow grains refuse to move money and its readiness
/// fails. A frozen settlement state is logged by the grain itself.
/// </summary>
internal sealed partial class SettlementStarter(
    IGrainFactory grains,
    IHostApplicationLifetime lifetime,
    LedgerIntegrity integrity,
    SettlementOptions options,
    ILogger<SettlementStarter> logger) : IHostedService, IDisposable
{
    private readonly Hosting.BackgroundLoop _loop = new();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() => _loop.Start(WatchAsync));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _loop.StopAsync(cancellationToken);

    public void Dispose() => _loop.Dispose();

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        var period = TimeSpan.FromTicks(Math.Clamp(options.PollInterval.Ticks, TimeSpan.FromSeconds(1).Ticks, TimeSpan.FromSeconds(5).Ticks));
        var reported = false;
        while (!cancellationToken.IsCancellationRequested && integrity.FrozenReason is null)
        {
            try
            {
                await grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey).GetStatusAsync().WaitAsync(cancellationToken);
            }
            catch (CocoonApiException e) when (e.Code == LedgerIntegrity.ErrorCode)
            {
                integrity.Freeze(e.Message);
                LogFrozen(e.Message);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException && e is not OutOfMemoryException)
            {
                if (!reported)
                {
                    reported = true;
                    LogNotStarted(e.GetType().Name, e.Message);
                }
            }

            try
            {
                await Task.Delay(period, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The settlement grain did not answer ({Error}: {Message}); it is asked again every few seconds.")]
    private partial void LogNotStarted(string error, string message);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Money movement on this silo is frozen: {Message}")]
    private partial void LogFrozen(string message);
}
