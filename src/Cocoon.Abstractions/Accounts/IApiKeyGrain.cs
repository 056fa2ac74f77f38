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

    /// <summary>Revokes the key: it resolves to nothing from now on.</summary>
    [Alias("Revoke")]
    Task RevokeAsync();
}

/// <summary>What a key grants.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.accounts.ApiKeyInfo")]
public sealed record ApiKeyInfo(
    [property: Id(0)] string AccountId,
    [property: Id(1)] string Label,
    [property: Id(2)] DateTimeOffset CreatedAt);

/// <summary>API key helpers.</summary>
public static class ApiKeys
{
    /// <summary>The grain key of an API key: lower-case hex SHA-256 of its UTF-8 bytes.</summary>
    public static string Hash(string apiKey) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)));

    /// <summary>A new random key: <c>sk-cocoon-</c> and 40 hex digits (160 bits).</summary>
    public static string Generate() => "sk-cocoon-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
}
