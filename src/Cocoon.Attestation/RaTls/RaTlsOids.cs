namespace Cocoon.Attestation.RaTls;

/// <summary>
/// Private X.509 extension OIDs of Cocoon RA-TLS certificates. They live under a UUID-derived arc
/// (ITU-T X.667 / RFC 4122 section 3: <c>2.25.&lt;UUID as integer&gt;</c>, which needs no registration), UUID
/// 1e080444-9646-4770-811e-a6fc6d5d7b8a. Both extensions are non-critical; their extnValue is a DER OCTET STRING.
/// </summary>
public static class RaTlsOids
{
    /// <summary>The Cocoon RA-TLS arc.</summary>
    public const string Arc = "2.25.39918464812076934028733569763555244938";

    /// <summary>The TDX quote (raw DCAP bytes) whose REPORTDATA binds the certificate key and claims.</summary>
    public const string Quote = Arc + ".1";

    /// <summary>The canonical claims bytes (<see cref="RaTlsClaims.ToCanonicalBytes"/>).</summary>
    public const string Claims = Arc + ".2";
}
