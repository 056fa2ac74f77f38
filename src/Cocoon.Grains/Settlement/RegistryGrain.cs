using Cocoon.Abstractions;
using Cocoon.Abstractions.Pricing;
using Cocoon.Abstractions.Settlement;
using Cocoon.Grains.Placement;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Toncenter;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cocoon.Grains.Ledger;

/// <summary>
/// See <see cref="IRegistryGrain"/>. Nothing is persisted: the chain is the source; the mirror is re-read every
/// <see cref="RefreshPeriod"/> (COCOON polls its root every 30-60 s) and on <see cref="RefreshAsync"/>. A failed refresh
/// keeps serving the last good read.
/// </summary>
[ProxyRole]
public sealed partial class RegistryGrain(
    IServiceProvider services,
    [FromKeyedServices(CocoonGrainsExtensions.ClockKey)] TimeProvider time,
    ILogger<RegistryGrain> logger) : Grain, IRegistryGrain
{
    /// <summary>How long a read of the root is used.</summary>
    public static readonly TimeSpan RefreshPeriod = TimeSpan.FromSeconds(60);

    private readonly ToncenterClient? _client = services.GetService<ToncenterClient>();
    private readonly Dictionary<(RegistryHashKind, string), (bool Allowed, DateTimeOffset At)> _hashes = [];
    private RegistryParams? _params;

    private TonAddress Root => TonAddress.TryParse(this.GetPrimaryKeyString(), out var a, out var error) ? a
        : throw new CocoonApiException(400, "invalid_address", $"'{this.GetPrimaryKeyString()}' is not a root contract address: {error}.");

    /// <inheritdoc />
    public async Task<RegistryParams> GetParamsAsync()
    {
        if (_params is not null && time.GetUtcNow() - _params.ReadAt < RefreshPeriod)
        {
            return _params;
        }

        try
        {
            return await RefreshAsync();
        }
        catch (CocoonApiException) when (_params is not null)
        {
            return _params; // stale beats nothing; ReadAt says how stale
        }
    }

    /// <inheritdoc />
    public async Task<bool> IsAllowedAsync(RegistryHashKind kind, string hashHex)
    {
        if (hashHex is not { Length: 64 } || !hashHex.All(Uri.IsHexDigit))
        {
            throw new CocoonApiException(400, "invalid_hash", "A hash is 64 hexadecimal characters.", "hash");
        }

        var key = (kind, hashHex.ToLowerInvariant());
        if (_hashes.TryGetValue(key, out var known) && time.GetUtcNow() - known.At < RefreshPeriod)
        {
            return known.Allowed;
        }

        var client = Client();
        var hash = Convert.FromHexString(hashHex);
        bool allowed;
        try
        {
            allowed = kind switch
            {
                RegistryHashKind.ProxyImage => await RootContract.HasProxyHashAsync(client, Root, hash),
                RegistryHashKind.WorkerImage => await RootContract.HasWorkerHashAsync(client, Root, hash),
                _ => await RootContract.HasModelHashAsync(client, Root, hash),
            };
        }
        catch (Exception e) when (e is ToncenterException or ContractGetMethodException)
        {
            if (known.At != default)
            {
                return known.Allowed;
            }

            throw Unavailable(e);
        }

        _hashes[key] = (allowed, time.GetUtcNow());
        return allowed;
    }

    /// <inheritdoc />
    public async Task<RegistryParams> RefreshAsync()
    {
        RootParams p;
        try
        {
            p = await RootContract.GetParamsAsync(Client(), Root);
        }
        catch (Exception e) when (e is ToncenterException or ContractGetMethodException)
        {
            var error = e.GetType().Name;
            LogRefreshFailed(this.GetPrimaryKeyString(), error, e.Message);
            throw Unavailable(e);
        }

        _hashes.Clear();
        _params = new RegistryParams
        {
            ParamsVersion = p.ParamsVersion,
            Prices = PricesOf(p),
            ProxyDelayBeforeClose = p.ProxyDelayBeforeClose,
            ClientDelayBeforeClose = p.ClientDelayBeforeClose,
            MinProxyStake = (long)p.MinProxyStake,
            MinClientStake = (long)p.MinClientStake,
            ReadAt = time.GetUtcNow(),
        };
        return _params;
    }

    /// <summary>The price list the root contract's parameters give (DESIGN section 5).</summary>
    public static PriceList PricesOf(RootParams p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return new PriceList
        {
            PricePerToken = checked((long)p.PricePerToken),
            WorkerFeePerToken = checked((long)p.WorkerFeePerToken),
            PromptMultiplier = p.PromptTokensPriceMultiplier,
            CachedMultiplier = p.CachedTokensPriceMultiplier,
            CompletionMultiplier = p.CompletionTokensPriceMultiplier,
            ReasoningMultiplier = p.ReasoningTokensPriceMultiplier,
        };
    }

    private ToncenterClient Client() => _client ?? throw new CocoonApiException(503, "chain_disabled",
        "This proxy runs without a chain (Cocoon:Chain:Endpoint is not set): there is no root contract to mirror.");

    private static CocoonApiException Unavailable(Exception e) =>
        new(503, "chain_unavailable", $"The root contract could not be read: {e.Message}");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the root contract {Root} failed ({Error}: {Message}); the last read is kept.")]
    private partial void LogRefreshFailed(string root, string error, string message);
}
