using Cocoon.Attestation.Collateral;
using Cocoon.Attestation.Policy;
using Cocoon.Node.Configuration;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Toncenter;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Node.Hosting;

/// <summary>
/// Where silo TLS takes the image hashes it admits (DESIGN sections 2, 3 and 7). The root contract on chain is the
/// authority: every silo (workers too) reads the root's proxy and worker image-hash maps straight from the root's
/// account data through toncenter, once before Orleans starts and then every <c>Cocoon:Attestation:AllowListRefreshSeconds</c>,
/// and publishes them into an <see cref="ImageAllowList"/> the TLS callback reads at each handshake.
/// <para>
/// Why not the registry grain: a silo must validate its peers before it can join the cluster and call any grain, so
/// the allow-list cannot come through Orleans. The registry grain mirrors the same root for pricing and model checks;
/// both read the same contract state.
/// </para>
/// <para>
/// Precedence: (1) the root's lists once read (a failed re-read keeps the last good read, logged); (2) before the first
/// successful read (root unreachable at start), <c>Cocoon:Attestation:AllowedImageHashes</c> as the bootstrap/offline
/// fallback; (3) without a root (Devnet only; Production requires one, see <see cref="NodeSettings.RequireAllowedImageHashes"/>),
/// the configured hashes, else the node's own image hash. From the root, a peer must be on the list of each role its
/// attested claims name: a proxy silo's image on the proxy list, a worker's on the worker list, a silo with both roles on
/// both. In Devnet the node's own image hash is always admitted too (a devnet root usually lists no
/// images, and the devnet's silos all run the devnet image); in Production only what the root lists.
/// </para>
/// </summary>
public sealed partial class RootImageAllowList : IHostedService, IDisposable
{
    private readonly ToncenterClient? _client;
    private readonly TonAddress? _root;
    private readonly TimeSpan _period;
    private readonly TimeProvider _time;
    private readonly string[] _alwaysAdmitted;
    private HttpClient? _http;
    private readonly BackgroundLoop _loop = new();
    private int _disposed;

    private RootImageAllowList(ImageAllowList list, ToncenterClient? client, TonAddress? root, TimeSpan period, TimeProvider time, CollateralStore? collateral, string[] alwaysAdmitted)
    {
        _alwaysAdmitted = alwaysAdmitted;
        List = list;
        _client = client;
        _root = root;
        _period = period;
        _time = time;
        Collateral = collateral;
    }

    /// <summary>The list silo TLS reads.</summary>
    public ImageAllowList List { get; }

    /// <summary>Peers' collateral (<c>Cocoon:Attestation:CollateralPath</c>), re-read with the allow-list; null when not configured.</summary>
    public CollateralStore? Collateral { get; }

    /// <summary>Whether the list follows a root contract.</summary>
    public bool FollowsRoot => _root is not null;

    /// <summary>Where refresh failures are logged.</summary>
    public ILogger? Logger { get; set; }

    /// <summary>
    /// Builds the list for a node: reads the root now when one is configured (falling back to the configured hashes
    /// when it cannot be read), and loads the collateral.
    /// </summary>
    /// <exception cref="CocoonConfigurationException">The collateral path does not hold readable collateral.</exception>
    public static async Task<RootImageAllowList> CreateAsync(NodeSettings settings, string ownImageHash, Action<string>? progress,
        TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        time ??= TimeProvider.System;
        CollateralStore? collateral = null;
        if (settings.CollateralPath is { } path)
        {
            try
            {
                collateral = CollateralStore.Load(path);
            }
            catch (FormatException e)
            {
                throw new CocoonConfigurationException("Cocoon:Attestation:CollateralPath", e.Message, e);
            }
        }

        IReadOnlyList<string> configured = settings.AllowedImageHashes.Count > 0 || settings.Mode == NodeMode.Production
            ? settings.AllowedImageHashes
            : [ownImageHash];
        var fallback = new ImageAllowList(configured, "configuration (Cocoon:Attestation:AllowedImageHashes)", time.GetUtcNow());
        if (settings.Chain.Endpoint is not { } endpoint || settings.Chain.RootAddress is not { } root)
        {
            return new RootImageAllowList(fallback, null, null, settings.AllowListRefresh, time, collateral, []);
        }

        var http = new HttpClient();
        var client = new ToncenterClient(http, new ToncenterOptions
        {
            Endpoint = endpoint,
            ApiKey = settings.Chain.ApiKey,
            MaxRetries = 1,
            Timeout = TimeSpan.FromSeconds(10),
        }, time);
        var list = new RootImageAllowList(fallback, client, root, settings.AllowListRefresh, time, collateral,
            settings.Mode == NodeMode.Devnet && ownImageHash.Length == 64 ? [ownImageHash] : [])
        {
            _http = http,
        };
        try
        {
            await list.RefreshAsync(cancellationToken).ConfigureAwait(false);
            progress?.Invoke($"silo TLS: image allow-list from the root contract {root.ToFriendlyString()} ({list.List.Current.Hashes.Count} hashes)");
        }
        catch (Exception e) when (e is ToncenterException or FormatException or HttpRequestException)
        {
            progress?.Invoke($"silo TLS: the root contract could not be read ({e.Message}); admitting the configured " +
                             $"Cocoon:Attestation:AllowedImageHashes ({configured.Count}) until it can");
        }

        return list;
    }

    /// <summary>Reads the root now and publishes its lists; returns whether the admitted set changed.</summary>
    /// <exception cref="ToncenterException">The chain could not be read (the list is unchanged).</exception>
    /// <exception cref="FormatException">The root's account data is not a root's (the list is unchanged).</exception>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken = default)
    {
        if (_client is null || _root is null)
        {
            return false;
        }

        var (proxies, workers) = await ReadAsync(_client, _root, cancellationToken).ConfigureAwait(false);
        return List.Replace(new Dictionary<string, IEnumerable<string>>
        {
            ["proxy"] = proxies.Concat(_alwaysAdmitted),
            ["worker"] = workers.Concat(_alwaysAdmitted),
        }, "root contract " + _root.ToFriendlyString(), _time.GetUtcNow());
    }

    /// <summary>The root's allowed proxy and worker image hashes (lower-case hex), from its account data.</summary>
    /// <exception cref="ToncenterException">The chain could not be read.</exception>
    /// <exception cref="FormatException">The account is not an active root contract.</exception>
    public static async Task<(IReadOnlyList<string> ProxyImages, IReadOnlyList<string> WorkerImages)> ReadAsync(ToncenterClient client, TonAddress root, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(root);
        var info = await client.GetAddressInformationAsync(root, cancellationToken).ConfigureAwait(false);
        if (info.Data is not { } data)
        {
            throw new FormatException($"the root contract {root.ToFriendlyString()} has no data (account state '{info.State}')");
        }

        try
        {
            // RootStorage: owner ^RootData ^RootParams; RootData: proxyHashes workerHashes modelHashes proxies (root.tolk).
            var storage = data.BeginParse();
            storage.LoadAddress();
            var maps = storage.LoadRef().BeginParse();
            var proxies = maps.LoadHashmapE(256, v => v.LoadBit());
            var workers = maps.LoadHashmapE(256, v => v.LoadBit());
            static IReadOnlyList<string> Hex(Dictionary<System.Numerics.BigInteger, bool> map) =>
                map.Keys.Select(k => Convert.ToHexStringLower(ContractGetMethods.ToBytes256(k))).Order(StringComparer.Ordinal).ToArray();
            return (Hex(proxies), Hex(workers));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or OverflowException)
        {
            throw new FormatException($"the account data of {root.ToFriendlyString()} is not a root contract's: {e.Message}", e);
        }
    }

    /// <summary>Starts the refresh loop (when a root is configured, or collateral is to be re-read).</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_root is not null || Collateral is not null)
        {
            _loop.Start(LoopAsync);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => _loop.StopAsync(cancellationToken);

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_period, _time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                if (await RefreshAsync(cancellationToken).ConfigureAwait(false) && Logger is { } logger)
                {
                    LogChanged(logger, List.Current.Source, List.Current.Hashes.Count);
                }
            }
            catch (Exception e) when (e is ToncenterException or FormatException or HttpRequestException)
            {
                if (Logger is { } logger)
                {
                    LogRefreshFailed(logger, e.Message, List.Current.Source, List.Current.ReadAt);
                }
            }

            try
            {
                Collateral?.Reload();
            }
            catch (FormatException e)
            {
                if (Logger is { } logger)
                {
                    LogCollateralFailed(logger, e.Message);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo TLS allow-list changed: {Count} image hashes from {Source}")]
    private static partial void LogChanged(ILogger logger, string source, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not re-read the root's image allow-list ({Error}); keeping the list from {Source} read at {ReadAt}")]
    private static partial void LogRefreshFailed(ILogger logger, string error, string source, DateTimeOffset readAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not re-read the collateral ({Error}); keeping the previous collateral")]
    private static partial void LogCollateralFailed(ILogger logger, string error);

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _loop.Dispose();
        _http?.Dispose();
    }
}
