using Cocoon.Abstractions.Pricing;

namespace Cocoon.Abstractions.Settlement;

/// <summary>
/// A mirror of the root contract (DESIGN section 3), keyed by the root's address: its pricing parameters and its
/// allow-lists (proxy and worker image hashes, model hashes), refreshed from the chain periodically. The attestation
/// allow-list and pricing can read it; a stale mirror says how old it is.
/// </summary>
[Alias("cocoon.settlement.IRegistryGrain")]
public interface IRegistryGrain : IGrainWithStringKey
{
    /// <summary>The root's parameters as last read (read now if never read). Fails with 503 when the chain cannot be reached and nothing was read yet.</summary>
    [Alias("GetParams")]
    Task<RegistryParams> GetParamsAsync();

    /// <summary>Whether the root allows <paramref name="hashHex"/> (64 hex characters) of <paramref name="kind"/>; cached per hash for the refresh period.</summary>
    [Alias("IsAllowed")]
    Task<bool> IsAllowedAsync(RegistryHashKind kind, string hashHex);

    /// <summary>Reads the root again now and forgets cached hash answers.</summary>
    [Alias("Refresh")]
    Task<RegistryParams> RefreshAsync();
}

/// <summary>Which allow-list of the root.</summary>
public enum RegistryHashKind
{
    /// <summary>Proxy image hashes.</summary>
    ProxyImage,

    /// <summary>Worker image hashes.</summary>
    WorkerImage,

    /// <summary>Model hashes (SHA-256 of the model name).</summary>
    Model,
}

/// <summary>The root's parameters (DESIGN section 5) with when they were read.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.settlement.RegistryParams")]
public sealed record RegistryParams
{
    /// <summary>Incremented by the root on every price change.</summary>
    [Id(0)] public long ParamsVersion { get; init; }

    /// <summary>Prices and multipliers.</summary>
    [Id(1)] public required PriceList Prices { get; init; }

    /// <summary>Seconds a proxy waits before closing.</summary>
    [Id(2)] public long ProxyDelayBeforeClose { get; init; }

    /// <summary>Seconds a client waits before closing without the proxy.</summary>
    [Id(3)] public long ClientDelayBeforeClose { get; init; }

    /// <summary>Minimum proxy stake, nanoTON.</summary>
    [Id(4)] public long MinProxyStake { get; init; }

    /// <summary>Minimum client stake, nanoTON.</summary>
    [Id(5)] public long MinClientStake { get; init; }

    /// <summary>When they were read from the chain.</summary>
    [Id(6)] public DateTimeOffset ReadAt { get; init; }
}
