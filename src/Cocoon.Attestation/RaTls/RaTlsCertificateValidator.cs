using System.Formats.Asn1;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cocoon.Attestation.Collateral;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.Quotes;
using Cocoon.Attestation.Verification;

namespace Cocoon.Attestation.RaTls;

/// <summary>The outcome of validating an RA-TLS certificate.</summary>
public sealed record RaTlsValidationResult
{
    public bool IsValid => FailedStep is null;

    /// <summary>The first failing step (certificate, binding, quote or policy), or null.</summary>
    public VerificationStep? FailedStep { get; init; }

    public required string Message { get; init; }

    /// <summary>The claims, once they parsed.</summary>
    public RaTlsClaims? Claims { get; init; }

    /// <summary>The quote verification (with policy applied), once it ran.</summary>
    public QuoteVerificationResult? Quote { get; init; }
}

/// <summary>
/// Validates RA-TLS certificates: format and extensions, self-signature, validity at the verifier's clock, REPORTDATA
/// = SHA-512(SubjectPublicKeyInfo ‖ claims), quote verification, then the policy. Use
/// <see cref="RemoteCertificateValidationCallback"/> as an SslStream/Kestrel/Orleans TLS callback.
/// </summary>
public sealed class RaTlsCertificateValidator
{
    private readonly Func<TdxQuote, QuoteCollateral?, QuoteVerificationResult> _verify;
    private readonly TimeProvider _time;
    private readonly AttestationPolicy _policy;
    private readonly Func<TdxQuote, QuoteCollateral?>? _collateral;

    /// <param name="verifier">Verifies the embedded quote; its clock and mode apply.</param>
    /// <param name="policy">Applied to the verified quote.</param>
    /// <param name="collateral">Supplies collateral for a quote (e.g. from a PCCS cache); null: steps 1-4 only.</param>
    /// <param name="cache">Optional verification cache shared across connections.</param>
    public RaTlsCertificateValidator(QuoteVerifier verifier, AttestationPolicy policy, Func<TdxQuote, QuoteCollateral?>? collateral = null, QuoteVerificationCache? cache = null)
    {
        _verify = cache is null ? verifier.Verify : cache.Verify;
        _time = verifier.TimeProvider;
        _policy = policy;
        _collateral = collateral;
    }

    /// <summary>Validates <paramref name="certificate"/> completely. Never throws for a malformed certificate.</summary>
    public RaTlsValidationResult Validate(X509Certificate2 certificate)
    {
        try
        {
            return ValidateCore(certificate);
        }
        catch (CryptographicException e)
        {
            return Fail(VerificationStep.CertificateFormat, "certificate does not decode: " + e.Message);
        }
    }

    private RaTlsValidationResult ValidateCore(X509Certificate2 certificate)
    {
        var quoteExtension = certificate.Extensions[RaTlsOids.Quote];
        var claimsExtension = certificate.Extensions[RaTlsOids.Claims];
        if (quoteExtension is null || claimsExtension is null)
        {
            return Fail(VerificationStep.CertificateFormat, "certificate lacks the RA-TLS quote or claims extension");
        }

        byte[] quoteBytes, claimsBytes;
        RaTlsClaims claims;
        try
        {
            quoteBytes = ReadOctetString(quoteExtension.RawData);
            claimsBytes = ReadOctetString(claimsExtension.RawData);
            claims = RaTlsClaims.Parse(claimsBytes);
        }
        catch (Exception e) when (e is AsnContentException or FormatException)
        {
            return Fail(VerificationStep.CertificateFormat, "RA-TLS extension does not decode: " + e.Message);
        }

        using (var key = certificate.GetECDsaPublicKey())
        {
            if (key is null || key.KeySize != 256)
            {
                return Fail(VerificationStep.CertificateFormat, "certificate key is not ECDSA P-256", claims);
            }
        }

        if (!certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData) || !Asn1.IsCertificateSignedBy(certificate, certificate))
        {
            return Fail(VerificationStep.CertificateSignature, "certificate is not validly self-signed", claims);
        }

        var now = _time.GetUtcNow();
        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime());
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
        if (now < notBefore || now > notAfter)
        {
            return Fail(VerificationStep.CertificateValidity, $"certificate is valid from {notBefore:O} to {notAfter:O}, not at {now:O}", claims);
        }

        if (!TdxQuote.TryParse(quoteBytes, out var quote, out var error))
        {
            return Fail(VerificationStep.Parse, "embedded quote: " + error!.Message, claims);
        }

        var expected = RaTlsCertificateFactory.ComputeReportData(certificate.PublicKey.ExportSubjectPublicKeyInfo(), claimsBytes);
        if (!quote!.Body.ReportData.Span.SequenceEqual(expected))
        {
            return Fail(VerificationStep.ReportDataBinding, "REPORTDATA is not SHA-512(SubjectPublicKeyInfo ‖ claims)", claims);
        }

        var verified = _policy.Apply(_verify(quote, _collateral?.Invoke(quote)));
        return verified.IsValid
            ? new RaTlsValidationResult { Message = "RA-TLS certificate valid: " + verified.Message, Claims = claims, Quote = verified }
            : new RaTlsValidationResult { FailedStep = verified.FailedStep, Message = verified.Message, Claims = claims, Quote = verified };
    }

    /// <summary>
    /// A TLS callback that ignores the platform's chain verdict (RA-TLS certificates are self-signed by design) and
    /// admits the peer only if <see cref="Validate"/> passes.
    /// </summary>
    public bool RemoteCertificateValidationCallback(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return false;
        }

        if (certificate is X509Certificate2 cert2)
        {
            return Validate(cert2).IsValid;
        }

        using var copy = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return Validate(copy).IsValid;
    }

    private static byte[] ReadOctetString(byte[] der)
    {
        var reader = new AsnReader(der, AsnEncodingRules.DER);
        var value = reader.ReadOctetString();
        reader.ThrowIfNotEmpty();
        return value;
    }

    private static RaTlsValidationResult Fail(VerificationStep step, string message, RaTlsClaims? claims = null) =>
        new() { FailedStep = step, Message = step + ": " + message, Claims = claims };
}
