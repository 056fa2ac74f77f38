using System.Security.Cryptography;
using System.Text;

namespace Cocoon.Abstractions.Accounts;

/// <summary>
/// An API key, keyed by the lower-case hex SHA-256 of the key (<see cref="ApiKeys.Hash"/>): the key itself is never
/// stored or sent to a grain. Maps the key to its escrow account.
/// </summary>
[Alias("cocoon.accounts.IApiKeyGrain")]
public interface IApiKeyGrain : IGrainWithStringKey
{
    /// <summary>Binds the key to <paramref name="accountId"/>; idempotent for the same account, refused for another.</summary>
    [Alias("Create")]
    Task<ApiKeyInfo> CreateAsync(string accountId, string label);

    /// <summary>
    /// The key's account, or null when the key is unknown or revoked. Each call is one request against the key's
    /// limits: refused with 429 (and <see cref="CocoonApiException.RetryAfterSeconds"/>) beyond its request rate, and
    /// with 402 once its spend limit is reached.
    /// </summary>
    [Alias("Resolve")]
    Task<ApiKeyInfo?> ResolveAsync();

    /// <summary>Adds <paramref name="nanoTon"/> charged for a request made with this key to its spend total.</summary>
    [Alias("RecordCharge")]
    Task RecordChargeAsync(long nanoTon);

    /// <summary>
    /// Holds <paramref name="nanoTon"/> of the key's spend limit for <paramref name="requestId"/> (its escrow
    /// reservation) until it is settled or released, or <paramref name="timeToLive"/> passes, so concurrent requests
    /// cannot together overshoot the limit: refused with 402 <c>key_spend_limit_reached</c> when spent + held + this
    /// would exceed it. Nothing is held for a key without a spend limit. Holding the same request again is a no-op.
    /// </summary>
    [Alias("Hold")]
    Task HoldAsync(string requestId, long nanoTon, TimeSpan timeToLive);

    /// <summary>
    /// Replaces the hold of <paramref name="requestId"/> by what it was charged, added to the spend total (like
    /// <see cref="RecordChargeAsync"/> when nothing was held). A repeat for a recently settled request changes nothing.
    /// </summary>
    [Alias("SettleHold")]
    Task SettleHoldAsync(string requestId, long chargedNanoTon);

    /// <summary>Drops the hold of a request that was not charged. Idempotent.</summary>
    [Alias("ReleaseHold")]
    Task ReleaseHoldAsync(string requestId);

    /// <summary>Revokes the key: it resolves to nothing from now on.</summary>
    [Alias("Revoke")]
    Task RevokeAsync();
}

/// <summary>What a key grants.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.accounts.ApiKeyInfo")]
public sealed record ApiKeyInfo(
    [property: Id(0)] string AccountId,
    [property: Id(1)] string Label,
    [property: Id(2)] DateTimeOffset CreatedAt)
{
    /// <summary>The key's spend limit in nanoTON (0: none): requests through a limited key hold against it.</summary>
    [Id(3)] public long SpendLimitNanoTon { get; init; }
}

/// <summary>API key helpers.</summary>
public static class ApiKeys
{
    /// <summary>The grain key of an API key: lower-case hex SHA-256 of its UTF-8 bytes.</summary>
    public static string Hash(string apiKey) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)));

    /// <summary>A new random key: <c>sk-cocoon-</c> and 40 hex digits (160 bits).</summary>
    public static string Generate() => "sk-cocoon-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
}
