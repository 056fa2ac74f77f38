using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Cocoon.Attestation.Collateral;
using Cocoon.Attestation.Quotes;

namespace Cocoon.Attestation.Verification;

/// <summary>
/// Verifies TDX DCAP quotes: PCK chain to the pinned Intel SGX Root CA, QE report signature, attestation key
/// binding, quote signature and, given collateral, CRLs, TCB info, QE identity and the TCB level
/// (shared/reference/ton-and-tdx.md section 5 "Verification steps"; go-tdx-guest verify/verify.go; Intel DCAP QVL).
/// Stateless and thread-safe; never throws for bad input: every failure is a <see cref="QuoteVerificationResult"/>
/// naming the step.
/// </summary>
public sealed class QuoteVerifier
{
    private static readonly byte[] ZeroHalf = new byte[32];

    private readonly QuoteVerifierOptions _options;
    private readonly byte[] _rootDer;
    private readonly byte[]? _simulatedRootDer;

    public QuoteVerifier(QuoteVerifierOptions? options = null)
    {
        _options = options ?? new QuoteVerifierOptions();
        if (_options.TrustedRoot is { } root)
        {
            _rootDer = root.RawData;
        }
        else
        {
            using var intel = IntelSgxRootCa.Load();
            _rootDer = intel.RawData;
        }

        _simulatedRootDer = _options.SimulatedRoot?.RawData;
    }

    /// <summary>Production or devnet.</summary>
    public AttestationMode Mode => _options.Mode;

    /// <summary>The clock verification runs at.</summary>
    public TimeProvider TimeProvider => _options.TimeProvider;

    /// <summary>Parses and verifies <paramref name="quote"/>.</summary>
    public QuoteVerificationResult Verify(ReadOnlySpan<byte> quote, QuoteCollateral? collateral = null)
    {
        if (!TdxQuote.TryParse(quote, out var parsed, out var error))
        {
            return QuoteVerificationResult.Fail(VerificationStep.Parse, error!.Message, null, _options.TimeProvider.GetUtcNow());
        }

        return Verify(parsed!, collateral);
    }

    /// <summary>Verifies an already parsed quote.</summary>
    public QuoteVerificationResult Verify(TdxQuote quote, QuoteCollateral? collateral = null)
    {
        var now = _options.TimeProvider.GetUtcNow();
        byte[] anchorDer;
        if (quote.IsSimulated)
        {
            if (_options.Mode == AttestationMode.Production)
            {
                return QuoteVerificationResult.Fail(VerificationStep.SimulatedQuote, "simulated quote refused: the verifier runs in production mode", quote, now);
            }

            if (_simulatedRootDer is null)
            {
                return QuoteVerificationResult.Fail(VerificationStep.SimulatedQuote, "devnet verifier has no simulated root to check the simulated quote against", quote, now);
            }

            anchorDer = _simulatedRootDer;
        }
        else if (quote.Header.AttestationKeyType != TdxQuote.EcdsaP256AttestationKeyType)
        {
            return QuoteVerificationResult.Fail(VerificationStep.QuoteHeader, $"attestation key type {quote.Header.AttestationKeyType} is not ECDSA-P256 (2)", quote, now);
        }
        else
        {
            anchorDer = _rootDer;
        }

        using var anchor = X509CertificateLoader.LoadCertificate(anchorDer);
        var qe = quote.SignatureData.QeReportCertificationData;

        // Step 1: PCK chain (leaf, Platform/Processor CA, root) to the pinned root at the injected clock.
        var pem = qe.CertificationData.PckCertificateChainPem;
        if (pem is null)
        {
            return QuoteVerificationResult.Fail(VerificationStep.PckCertificateChain, $"certification data type {(ushort)qe.CertificationData.Type} carries no PCK certificate chain (type 5 expected)", quote, now);
        }

        var chainCerts = new X509Certificate2Collection();
        try
        {
            chainCerts.ImportFromPem(pem);
        }
        catch (CryptographicException e)
        {
            return QuoteVerificationResult.Fail(VerificationStep.PckCertificateChain, "PCK certificate chain does not decode: " + e.Message, quote, now);
        }

        try
        {
            if (chainCerts.Count < 2)
            {
                return QuoteVerificationResult.Fail(VerificationStep.PckCertificateChain, $"PCK certificate chain has {chainCerts.Count} certificates, at least 2 expected", quote, now);
            }

            var leaf = chainCerts[0];
            byte[]? fmspc = null;
            PckCertificateExtensions? pckExtensions = null;
            if (!quote.IsSimulated)
            {
                try
                {
                    pckExtensions = PckCertificateExtensions.Read(leaf);
                    fmspc = pckExtensions.Fmspc;
                }
                catch (CryptographicException e)
                {
                    return QuoteVerificationResult.Fail(VerificationStep.PckCertificateChain, e.Message, quote, now);
                }
            }

            var chainError = CertificateChains.Validate(leaf, chainCerts, anchor, now, out var pckChain, out var validUntil);
            if (chainError is not null)
            {
                return QuoteVerificationResult.Fail(VerificationStep.PckCertificateChain, "PCK " + chainError, quote, now, fmspc);
            }

            // Step 2: the PCK leaf signs the QE report.
            if (!Asn1.VerifyEcdsaSha256Raw(leaf, qe.QeReport.Raw.Span, qe.QeReportSignature.Span))
            {
                return QuoteVerificationResult.Fail(VerificationStep.QeReportSignature, "QE report signature does not verify with the PCK leaf key", quote, now, fmspc);
            }

            // Step 3: QE report data = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes.
            var expected = SHA256.HashData([.. quote.SignatureData.AttestationKey.Span, .. qe.QeAuthData.Span]);
            var reportData = qe.QeReport.ReportData.Span;
            if (!reportData[..32].SequenceEqual(expected) || !reportData[32..].SequenceEqual(ZeroHalf))
            {
                return QuoteVerificationResult.Fail(VerificationStep.AttestationKeyBinding, "QE report data is not SHA-256(attestation key ‖ QE auth data) ‖ zeros", quote, now, fmspc);
            }

            // Step 4: the attestation key signs header ‖ body.
            if (!VerifyQuoteSignature(quote))
            {
                return QuoteVerificationResult.Fail(VerificationStep.QuoteSignature, $"quote signature over bytes [0, 0x{quote.SignedLength:x}) does not verify with the attestation key", quote, now, fmspc);
            }

            if (collateral is null || quote.IsSimulated)
            {
                return new QuoteVerificationResult
                {
                    Message = quote.IsSimulated ? "simulated quote verified (devnet)" : "quote verified (steps 1-4, no collateral)",
                    Quote = quote,
                    Fmspc = fmspc,
                    IsSimulated = quote.IsSimulated,
                    VerifiedAt = now,
                    ValidUntil = validUntil,
                };
            }

            return new CollateralCheck(quote, collateral, anchor, pckChain, pckExtensions!, now, validUntil).Run();
        }
        finally
        {
            foreach (var cert in chainCerts)
            {
                cert.Dispose();
            }
        }
    }

    private static bool VerifyQuoteSignature(TdxQuote quote)
    {
        var key = quote.SignatureData.AttestationKey.Span;
        try
        {
            using var ecdsa = ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = key[..32].ToArray(), Y = key[32..].ToArray() },
            });
            return ecdsa.VerifyData(quote.SignedBytes.Span, quote.SignatureData.Signature.Span, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }
        catch (CryptographicException)
        {
            return false; // not a point on P-256
        }
    }

    /// <summary>Steps 1 (CRLs) and 5-7 of a real quote against its collateral.</summary>
    private sealed class CollateralCheck(
        TdxQuote quote,
        QuoteCollateral collateral,
        X509Certificate2 anchor,
        IReadOnlyList<X509Certificate2> pckChain,
        PckCertificateExtensions pck,
        DateTimeOffset now,
        DateTimeOffset validUntil)
    {
        private DateTimeOffset _validUntil = validUntil;
        private bool _collateralExpired;

        public QuoteVerificationResult Run()
        {
            // CRLs: the root CA CRL is signed by the root, the PCK CRL by the CA that issued the PCK leaf.
            CertificateRevocationList rootCrl, pckCrl;
            try
            {
                rootCrl = CertificateRevocationList.Parse(collateral.RootCaCrl);
                pckCrl = CertificateRevocationList.Parse(collateral.PckCrl);
            }
            catch (CryptographicException e)
            {
                return Fail(VerificationStep.Collateral, e.Message);
            }

            if (CheckCrl(rootCrl, anchor, "root CA CRL") is { } rootCrlError)
            {
                return Fail(VerificationStep.Collateral, rootCrlError);
            }

            var pckIssuer = pckChain[1];
            if (CheckCrl(pckCrl, pckIssuer, "PCK CRL") is { } pckCrlError)
            {
                return Fail(VerificationStep.Collateral, pckCrlError);
            }

            if (pckCrl.Revokes(pckChain[0]))
            {
                return Fail(VerificationStep.PckCertificateChain, "PCK leaf certificate is revoked by the PCK CRL");
            }

            for (var i = 1; i < pckChain.Count - 1; i++)
            {
                if (rootCrl.Revokes(pckChain[i]))
                {
                    return Fail(VerificationStep.PckCertificateChain, $"{pckChain[i].Subject} is revoked by the root CA CRL");
                }
            }

            // Step 5: TCB info.
            if (CheckSignedCollateral(collateral.TcbInfoJson, collateral.TcbInfoSignature, collateral.TcbInfoIssuerChainPem, rootCrl, "TCB info") is { } tcbError)
            {
                return Fail(VerificationStep.TcbInfo, tcbError);
            }

            TcbInfo tcbInfo;
            try
            {
                tcbInfo = TcbInfo.Parse(collateral.TcbInfoJson);
            }
            catch (FormatException e)
            {
                return Fail(VerificationStep.TcbInfo, e.Message);
            }

            if (tcbInfo.Id != "TDX" || tcbInfo.Version < 3)
            {
                return Fail(VerificationStep.TcbInfo, $"TCB info id '{tcbInfo.Id}' version {tcbInfo.Version} is not TDX v3");
            }

            if (Window(tcbInfo.IssueDate, tcbInfo.NextUpdate, "TCB info") is { } tcbWindow)
            {
                return Fail(VerificationStep.TcbInfo, tcbWindow);
            }

            if (!tcbInfo.Fmspc.AsSpan().SequenceEqual(pck.Fmspc))
            {
                return Fail(VerificationStep.TcbInfo, $"TCB info FMSPC {Convert.ToHexStringLower(tcbInfo.Fmspc)} differs from the PCK certificate's {Convert.ToHexStringLower(pck.Fmspc)}");
            }

            if (!tcbInfo.PceId.AsSpan().SequenceEqual(pck.PceId))
            {
                return Fail(VerificationStep.TcbInfo, "TCB info PCE-ID differs from the PCK certificate's");
            }

            // Step 6: QE identity.
            if (CheckSignedCollateral(collateral.QeIdentityJson, collateral.QeIdentitySignature, collateral.QeIdentityIssuerChainPem, rootCrl, "QE identity") is { } qeError)
            {
                return Fail(VerificationStep.QeIdentity, qeError);
            }

            QeIdentity identity;
            try
            {
                identity = QeIdentity.Parse(collateral.QeIdentityJson);
            }
            catch (FormatException e)
            {
                return Fail(VerificationStep.QeIdentity, e.Message);
            }

            var qeStatus = MatchQeIdentity(identity, out var qeAdvisories, out var qeMismatch);
            if (qeMismatch is not null)
            {
                return Fail(VerificationStep.QeIdentity, qeMismatch);
            }

            // Step 7: TCB level and TDX module identity.
            var level = TcbEvaluation.MatchPlatformLevel(tcbInfo, pck, quote.Body.TeeTcbSvn.Span);
            if (level is null)
            {
                return Fail(VerificationStep.TcbLevel, "no TCB level matches the platform's SGX components, PCESVN and TEE_TCB_SVN");
            }

            var module = TcbEvaluation.MatchTdxModule(tcbInfo, quote.Body, out var moduleAdvisories, out var moduleError);
            if (moduleError is not null)
            {
                return Fail(VerificationStep.TcbLevel, moduleError);
            }

            var status = TcbStatuses.Converge(TcbStatuses.Converge(level.Status, module!.Value), qeStatus!.Value);
            var advisories = level.AdvisoryIds.Concat(moduleAdvisories).Concat(qeAdvisories).Distinct(StringComparer.Ordinal).ToArray();
            if (status == TcbStatus.Revoked)
            {
                return Fail(VerificationStep.TcbLevel, "TCB status is Revoked");
            }

            return new QuoteVerificationResult
            {
                Message = $"quote verified with collateral: TCB {status} (level {level.TcbDate:yyyy-MM-dd})",
                Quote = quote,
                TcbStatus = status,
                AdvisoryIds = advisories,
                Fmspc = pck.Fmspc,
                VerifiedAt = now,
                ValidUntil = _validUntil,
                CollateralExpired = _collateralExpired,
            };
        }

        private QuoteVerificationResult Fail(VerificationStep step, string message) =>
            QuoteVerificationResult.Fail(step, message, quote, now, pck.Fmspc);

        private string? Window(DateTimeOffset from, DateTimeOffset until, string what)
        {
            if (now < from || now > until)
            {
                return $"{what} is valid from {from:O} to {until:O}, not at {now:O}";
            }

            if (until < _validUntil)
            {
                _validUntil = until;
            }

            return null;
        }

        private string? CheckCrl(CertificateRevocationList crl, X509Certificate2 issuer, string what)
        {
            if (!crl.Issuer.RawData.AsSpan().SequenceEqual(issuer.SubjectName.RawData))
            {
                return $"{what} issuer '{crl.Issuer.Name}' is not '{issuer.Subject}'";
            }

            if (!crl.IsSignedBy(issuer))
            {
                return $"{what} signature does not verify with {issuer.Subject}";
            }

            if (now < crl.ThisUpdate)
            {
                return $"{what} is issued at {crl.ThisUpdate:O}, after {now:O}";
            }

            // A CRL past nextUpdate is reported, not fatal, as Intel's QVL does (collateral_expiration_status of
            // sgx_qv_verify_quote); Phala dcap-qvl ignores CRL times altogether. Policy decides (RequireFreshCollateral).
            if (crl.NextUpdate is { } next && now > next)
            {
                _collateralExpired = true;
            }

            return null;
        }

        private string? CheckSignedCollateral(string json, byte[] signature, string chainPem, CertificateRevocationList rootCrl, string what)
        {
            var certs = new X509Certificate2Collection();
            try
            {
                certs.ImportFromPem(chainPem);
                if (certs.Count < 1)
                {
                    return what + " issuer chain is empty";
                }

                var chainError = CertificateChains.Validate(certs[0], certs, anchor, now, out var chain, out var chainUntil);
                if (chainError is not null)
                {
                    return what + " signing " + chainError;
                }

                if (chainUntil < _validUntil)
                {
                    _validUntil = chainUntil;
                }

                if (rootCrl.Revokes(certs[0]))
                {
                    return what + " signing certificate is revoked by the root CA CRL";
                }

                // The signature covers the exact bytes of the inner JSON object (Intel PCS API v4).
                if (signature.Length != 64 || !Asn1.VerifyEcdsaSha256Raw(certs[0], Encoding.UTF8.GetBytes(json), signature))
                {
                    return what + " signature does not verify with " + certs[0].Subject;
                }

                return null;
            }
            catch (CryptographicException e)
            {
                return what + " issuer chain does not decode: " + e.Message;
            }
            finally
            {
                foreach (var cert in certs)
                {
                    cert.Dispose();
                }
            }
        }

        private TcbStatus? MatchQeIdentity(QeIdentity identity, out IReadOnlyList<string> advisories, out string? mismatch)
        {
            advisories = [];
            var report = quote.SignatureData.QeReportCertificationData.QeReport;
            mismatch = null;
            if (identity.Id != "TD_QE" || identity.Version is not (2 or 3))
            {
                mismatch = $"QE identity id '{identity.Id}' version {identity.Version} is not TD_QE v2";
            }
            else if (Window(identity.IssueDate, identity.NextUpdate, "QE identity") is { } window)
            {
                mismatch = window;
            }
            else if (!report.MrSigner.Span.SequenceEqual(identity.MrSigner))
            {
                mismatch = "QE MRSIGNER " + Convert.ToHexStringLower(report.MrSigner.Span) + " is not the identity's";
            }
            else if (report.IsvProdId != identity.IsvProdId)
            {
                mismatch = $"QE ISVPRODID {report.IsvProdId} is not {identity.IsvProdId}";
            }
            else if ((report.MiscSelect & identity.MiscSelectMask) != (identity.MiscSelect & identity.MiscSelectMask))
            {
                mismatch = "QE MISCSELECT does not match the identity under its mask";
            }
            else if (!MaskedEqual(report.Attributes.Span, identity.Attributes, identity.AttributesMask))
            {
                mismatch = "QE ATTRIBUTES do not match the identity under its mask";
            }
            else if ((report.Attributes.Span[0] & 0x02) != 0)
            {
                mismatch = "QE is a debug enclave";
            }

            if (mismatch is not null)
            {
                return null;
            }

            foreach (var (isvSvn, status, ids) in identity.Levels)
            {
                if (report.IsvSvn >= isvSvn)
                {
                    advisories = ids;
                    return status;
                }
            }

            mismatch = $"QE ISVSVN {report.IsvSvn} is below every level of the QE identity";
            return null;
        }

        private static bool MaskedEqual(ReadOnlySpan<byte> actual, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> mask)
        {
            if (expected.Length != mask.Length || actual.Length < mask.Length)
            {
                return false;
            }

            for (var i = 0; i < mask.Length; i++)
            {
                if ((actual[i] & mask[i]) != (expected[i] & mask[i]))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
