using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cocoon.Attestation.Providers;

namespace Cocoon.Attestation.RaTls;

/// <summary>
/// Makes RA-TLS certificates (DESIGN.md sections 2 and 7): a fresh ECDSA P-256 key, a quote whose REPORTDATA is
/// SHA-512(SubjectPublicKeyInfo ‖ canonical claims), and a short-lived self-signed certificate carrying the quote and
/// the claims in the <see cref="RaTlsOids"/> extensions.
/// </summary>
public sealed class RaTlsCertificateFactory
{
    private readonly IQuoteProvider _provider;
    private readonly TimeProvider _time;

    /// <param name="provider">configfs-tsm on TDX, simulated on devnet.</param>
    /// <param name="lifetime">Validity of each certificate; one hour by default.</param>
    /// <param name="timeProvider">The clock for NotBefore/NotAfter.</param>
    public RaTlsCertificateFactory(IQuoteProvider provider, TimeSpan? lifetime = null, TimeProvider? timeProvider = null)
    {
        _provider = provider;
        Lifetime = lifetime ?? TimeSpan.FromHours(1);
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Validity of each certificate.</summary>
    public TimeSpan Lifetime { get; }

    /// <summary>REPORTDATA for a key and claims: SHA-512(SubjectPublicKeyInfo DER ‖ claims bytes), 64 bytes.</summary>
    public static byte[] ComputeReportData(ReadOnlySpan<byte> subjectPublicKeyInfo, ReadOnlySpan<byte> claims)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
        hash.AppendData(subjectPublicKeyInfo);
        hash.AppendData(claims);
        return hash.GetHashAndReset();
    }

    /// <summary>Creates a certificate with its private key, valid from one minute ago for <see cref="Lifetime"/>.</summary>
    public async Task<X509Certificate2> CreateAsync(RaTlsClaims claims, string subject = "CN=cocoon-ra-tls", CancellationToken cancellationToken = default)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        var claimsBytes = claims.ToCanonicalBytes();
        var reportData = ComputeReportData(request.PublicKey.ExportSubjectPublicKeyInfo(), claimsBytes);
        var quote = await _provider.GetQuoteAsync(reportData, cancellationToken).ConfigureAwait(false);

        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // serverAuth, clientAuth
        request.CertificateExtensions.Add(new X509Extension(RaTlsOids.Quote, OctetString(quote), false));
        request.CertificateExtensions.Add(new X509Extension(RaTlsOids.Claims, OctetString(claimsBytes), false));

        var now = _time.GetUtcNow();
        return request.CreateSelfSigned(now.AddMinutes(-1), now.Add(Lifetime));
    }

    internal static byte[] OctetString(ReadOnlySpan<byte> value)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        writer.WriteOctetString(value);
        return writer.Encode();
    }
}
