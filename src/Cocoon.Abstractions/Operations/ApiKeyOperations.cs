using Cocoon.Abstractions.Accounts;

namespace Cocoon.Abstractions.Operations;

/// <summary>
/// Operator-only management of one API key, keyed like <see cref="IApiKeyGrain"/> by the key's SHA-256
/// (<see cref="ApiKeys.Hash"/>): the key itself never reaches a grain, so the caller (the <c>cocoon</c> CLI) makes the
/// key, shows it once, and sends only its hash. Everything in <c>Cocoon.Abstractions.Operations</c> is for operators,
/// never for app backends.
/// </summary>
[Alias("cocoon.operations.IApiKeyAdminGrain")]
public interface IApiKeyAdminGrain : IGrainWithStringKey
{
    /// <summary>
    /// Creates the key for <paramref name="accountId"/> with <paramref name="limits"/>; for a key that already exists
    /// for that account, sets its label and limits. Refused (409) for another account or a revoked key, (400) for
    /// negative limits.
    /// </summary>
    [Alias("Create")]
    Task<ApiKeyDetails> CreateAsync(string accountId, string label, ApiKeyLimits limits);

    /// <summary>The key's record, or null when no key has this hash.</summary>
    [Alias("GetDetails")]
    Task<ApiKeyDetails?> GetDetailsAsync();

    /// <summary>Revokes the key (the next request with it gets 401) and returns its record; idempotent.</summary>
    [Alias("Revoke")]
    Task<ApiKeyDetails> RevokeAsync();
}

/// <summary>
/// The operators' index of API keys: public key id to key hash and account, so a key can be listed and revoked by its
/// id. One activation, called only by operator commands and when a key is created, never per request.
/// </summary>
[Alias("cocoon.operations.IApiKeyDirectoryGrain")]
public interface IApiKeyDirectoryGrain : IGrainWithStringKey
{
    /// <summary>The directory's one key.</summary>
    public const string Key = "keys";

    /// <summary>Records a key; idempotent.</summary>
    [Alias("Add")]
    Task AddAsync(ApiKeyDirectoryEntry entry);

    /// <summary>The entry of <paramref name="keyId"/>, or null.</summary>
    [Alias("Find")]
    Task<ApiKeyDirectoryEntry?> FindAsync(string keyId);

    /// <summary>Every key (of <paramref name="accountId"/> when given), by key id.</summary>
    [Alias("List")]
    Task<IReadOnlyList<ApiKeyDirectoryEntry>> ListAsync(string? accountId);
}

/// <summary>A key in the directory.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.operations.ApiKeyDirectoryEntry")]
public sealed record ApiKeyDirectoryEntry(
    [property: Id(0)] string KeyId,
    [property: Id(1)] string KeyHash,
    [property: Id(2)] string AccountId);

/// <summary>What one key may do. Zero means no limit.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.operations.ApiKeyLimits")]
public sealed record ApiKeyLimits
{
    /// <summary>No limits.</summary>
    public static ApiKeyLimits None { get; } = new();

    /// <summary>
    /// The most this key may have charged in total, in nanoTON: once reached, requests with it are refused (402). A
    /// request is let in while the total is below the limit, so concurrent requests can pass it by at most their cost.
    /// </summary>
    [Id(0)] public long SpendLimitNanoTon { get; init; }

    /// <summary>Requests per minute, as a token bucket holding a minute's worth; beyond it requests get 429 with <c>Retry-After</c>.</summary>
    [Id(1)] public int RequestsPerMinute { get; init; }
}

/// <summary>An API key as operators see it (never the key itself).</summary>
[GenerateSerializer, Immutable, Alias("cocoon.operations.ApiKeyDetails")]
public sealed record ApiKeyDetails
{
    /// <summary>The public key id (<see cref="ApiKeyIds.FromHash"/>).</summary>
    [Id(0)] public required string KeyId { get; init; }

    /// <summary>The escrow account it spends from.</summary>
    [Id(1)] public required string AccountId { get; init; }

    /// <summary>A label for people.</summary>
    [Id(2)] public required string Label { get; init; }

    /// <summary>When it was created.</summary>
    [Id(3)] public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it was revoked, or null.</summary>
    [Id(4)] public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>Its limits.</summary>
    [Id(5)] public required ApiKeyLimits Limits { get; init; }

    /// <summary>nanoTON charged through it so far.</summary>
    [Id(6)] public long SpentNanoTon { get; init; }
}

/// <summary>Public ids of API keys.</summary>
public static class ApiKeyIds
{
    /// <summary>
    /// The key id of a key hash: <c>key_</c> and the hash's first 16 hex digits. It names the key in lists and
    /// commands; it reveals 64 bits of a hash of a 160-bit random key, which helps nobody guess the key.
    /// </summary>
    public static string FromHash(string keyHash) => "key_" + keyHash[..16];
}
