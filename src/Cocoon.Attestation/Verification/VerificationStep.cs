namespace Cocoon.Attestation.Verification;

/// <summary>
/// The verification steps, in the order they run (shared/reference/ton-and-tdx.md section 5 "Verification steps";
/// go-tdx-guest verify/verify.go). A failed result names the first step that failed.
/// </summary>
public enum VerificationStep
{
    /// <summary>The quote bytes do not parse (<see cref="Quotes.QuoteFormatException"/>).</summary>
    Parse,

    /// <summary>Version, TEE type or attestation key type is not one this verifier accepts.</summary>
    QuoteHeader,

    /// <summary>A simulated (devnet) quote reached a verifier in production mode, or a devnet verifier has no simulated root.</summary>
    SimulatedQuote,

    /// <summary>Step 1: PCK certificate chain to the pinned root, validity times, and (with collateral) root and PCK CRLs.</summary>
    PckCertificateChain,

    /// <summary>Step 2: ECDSA-P256/SHA-256 by the PCK leaf key over the 384-byte QE report.</summary>
    QeReportSignature,

    /// <summary>Step 3: QE report data = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes.</summary>
    AttestationKeyBinding,

    /// <summary>Step 4: the attestation key's signature over header ‖ body.</summary>
    QuoteSignature,

    /// <summary>Collateral is malformed, or its CRLs do not verify or are out of date.</summary>
    Collateral,

    /// <summary>Step 5: TCB info issuer chain, signature, validity window, FMSPC and PCE-ID.</summary>
    TcbInfo,

    /// <summary>Step 6: QE identity issuer chain, signature, validity window and the QE report's match with it.</summary>
    QeIdentity,

    /// <summary>Step 7: platform TCB level and TDX module identity; a Revoked status fails here.</summary>
    TcbLevel,

    /// <summary>Step 8: the policy (image hash, MRTD/RTMR allow-lists, debug, minimum TCB status).</summary>
    Policy,

    /// <summary>RA-TLS: the certificate is malformed or lacks the quote/claims extensions.</summary>
    CertificateFormat,

    /// <summary>RA-TLS: the self-signature does not verify.</summary>
    CertificateSignature,

    /// <summary>RA-TLS: the clock is outside the certificate's validity.</summary>
    CertificateValidity,

    /// <summary>RA-TLS: REPORTDATA ≠ SHA-512(SubjectPublicKeyInfo ‖ claims).</summary>
    ReportDataBinding,
}
