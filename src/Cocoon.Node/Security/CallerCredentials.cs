using System.Security.Cryptography;
using System.Text;
using Cocoon.Node.Configuration;
using Microsoft.Extensions.Configuration;

namespace Cocoon.Node.Security;

/// <summary>
/// What tells a call from another silo and a call from an operator apart from a call by an app backend (README
/// "Who may call what"). Orleans itself cannot tell: a silo's client gateway forwards a client's message as it came, and
/// the message's sender grain id and <see cref="RequestContext"/> are written by the client. So every silo stamps its own
/// outgoing calls with a <see cref="SiloMarker"/> derived from a secret only silos hold (<c>Cocoon:Security:SiloSecret</c>),
/// and an operator proves itself with a token whose SHA-256 the cluster is configured with
/// (<c>Cocoon:Operators:TokenSha256</c>).
/// </summary>
public sealed class CallerCredentials
{
    /// <summary>The <see cref="RequestContext"/> key of the silo marker.</summary>
    public const string SiloMarkerKey = "cocoon.silo";

    /// <summary>The <see cref="RequestContext"/> key of the operator token (<c>Cocoon.Client</c> sends it under the same key).</summary>
    public const string OperatorTokenKey = "cocoon.operator-token";

    /// <summary>The setting holding the secret silos derive their marker from.</summary>
    public const string SiloSecretSetting = "Cocoon:Security:SiloSecret";

    /// <summary>The setting holding the SHA-256 (64 hex digits) of the operator token.</summary>
    public const string OperatorTokenSetting = "Cocoon:Operators:TokenSha256";

    // Longer tokens are refused before hashing: the CLI's are 43 characters.
    private const int MaxTokenLength = 512;

    private readonly byte[] _marker;
    private readonly byte[]? _operatorTokenSha256;

    /// <summary>Creates credentials from a silo secret and an optional operator token hash.</summary>
    /// <param name="siloSecret">The secret every silo of the cluster shares.</param>
    /// <param name="clusterId">The cluster id: a marker is valid in one cluster only.</param>
    /// <param name="operatorTokenSha256">The operator token's SHA-256, or null when no operator is configured.</param>
    /// <param name="siloSecretSource">Where the secret came from, for the start-up line.</param>
    public CallerCredentials(ReadOnlySpan<byte> siloSecret, string clusterId, byte[]? operatorTokenSha256, string siloSecretSource = "configured")
    {
        if (operatorTokenSha256 is not null && operatorTokenSha256.Length != SHA256.HashSizeInBytes)
        {
            throw new ArgumentException("An operator token hash is 32 bytes.", nameof(operatorTokenSha256));
        }

        var marker = HMACSHA256.HashData(siloSecret, Encoding.UTF8.GetBytes("cocoon.silo-call.v1|" + clusterId));
        _marker = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(marker));
        SiloMarker = Encoding.ASCII.GetString(_marker);
        _operatorTokenSha256 = operatorTokenSha256;
        SiloSecretSource = siloSecretSource;
    }

    /// <summary>The value silos put under <see cref="SiloMarkerKey"/> on every call they make to a grain.</summary>
    public string SiloMarker { get; }

    /// <summary>Where the silo secret came from (<c>configured</c>, <c>derived from the database connection string</c>, ...).</summary>
    public string SiloSecretSource { get; }

    /// <summary>Whether an operator token is configured at all.</summary>
    public bool HasOperator => _operatorTokenSha256 is not null;

    /// <summary>Whether <paramref name="value"/> (from the call's request context) is this cluster's silo marker; constant time.</summary>
    public bool IsSiloMarker(object? value) =>
        value is string text && text.Length == _marker.Length && Ascii.IsValid(text) &&
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(text), _marker);

    /// <summary>Whether <paramref name="value"/> is the operator token (its SHA-256 compared in constant time).</summary>
    public bool IsOperatorToken(object? value)
    {
        if (_operatorTokenSha256 is null || value is not string token || token.Length is 0 or > MaxTokenLength)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(token)), _operatorTokenSha256);
    }

    /// <summary>
    /// Reads <see cref="SiloSecretSetting"/> and <see cref="OperatorTokenSetting"/>. Without a configured secret a
    /// PostgreSQL cluster derives one from its connection string (every silo has it; give app backends their own
    /// database role, or set the secret), and a memory-storage node (one silo) takes a random one.
    /// </summary>
    /// <exception cref="CocoonConfigurationException">A setting is malformed.</exception>
    public static CallerCredentials From(IConfiguration configuration, NodeSettings settings)
    {
        byte[]? operatorHash = null;
        var hashText = configuration[OperatorTokenSetting]?.Trim();
        if (!string.IsNullOrEmpty(hashText))
        {
            if (hashText.Length != 64 || !hashText.All(char.IsAsciiHexDigit))
            {
                throw new CocoonConfigurationException(OperatorTokenSetting, "expected the operator token's SHA-256 as 64 hex digits (sha256sum of the token).");
            }

            operatorHash = Convert.FromHexString(hashText);
        }

        var secret = configuration[SiloSecretSetting];
        if (!string.IsNullOrEmpty(secret))
        {
            if (secret.Length < 32)
            {
                throw new CocoonConfigurationException(SiloSecretSetting, "too short: use at least 32 random characters (e.g. 64 hex digits), the same on every silo.");
            }

            return new CallerCredentials(Encoding.UTF8.GetBytes(secret), settings.ClusterId, operatorHash);
        }

        if (settings.ConnectionString is { Length: > 0 } connectionString)
        {
            return new CallerCredentials(
                SHA256.HashData(Encoding.UTF8.GetBytes("cocoon.silo-secret.v1|" + settings.ServiceId + "|" + connectionString)),
                settings.ClusterId, operatorHash, "derived from the database connection string");
        }

        return new CallerCredentials(RandomNumberGenerator.GetBytes(32), settings.ClusterId, operatorHash, "random (single-silo memory storage)");
    }
}
