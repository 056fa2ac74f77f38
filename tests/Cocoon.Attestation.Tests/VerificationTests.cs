using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cocoon.Attestation.Collateral;
using Cocoon.Attestation.Quotes;
using Cocoon.Attestation.Verification;
using Microsoft.Extensions.Time.Testing;

namespace Cocoon.Attestation.Tests;

public sealed class VerificationTests
{
    internal static QuoteVerifier VerifierAt(DateTimeOffset at, X509Certificate2? root = null) =>
        new(new QuoteVerifierOptions { TimeProvider = new FakeTimeProvider(at), TrustedRoot = root });

    internal static QuoteCollateral PhalaCollateral() =>
        QuoteCollateral.Parse(File.ReadAllText(Vectors.PathOf("phala-v4-quote.collateral.json")));

    [Theory]
    [MemberData(nameof(Vectors.Names), MemberType = typeof(Vectors))]
    public void Steps_1_to_4_pass_at_a_clock_inside_validity(string name)
    {
        var v = Vectors.ByName(name);
        var result = VerifierAt(v.Clock).Verify(Vectors.Read(v.File));
        Assert.True(result.IsValid, result.Message);
        Assert.Null(result.FailedStep);
        Assert.Null(result.TcbStatus);
        Assert.Equal(v.Fmspc, Convert.ToHexStringLower(result.Fmspc!));
        Assert.False(result.IsSimulated);
    }

    [Fact]
    public void Phala_quote_with_collateral_is_up_to_date_at_next_update_minus_one_second()
    {
        var result = VerifierAt(Vectors.PhalaClock).Verify(Vectors.Read(Vectors.Phala.File), PhalaCollateral());
        Assert.True(result.IsValid, result.Message);
        Assert.Equal(TcbStatus.UpToDate, result.TcbStatus);
        Assert.Empty(result.AdvisoryIds);
        // The PCK CRL's nextUpdate (10:00:35) is before the clock: reported, as Intel's QVL does, not fatal.
        Assert.True(result.CollateralExpired);
        // The PCK CRL and TCB info expire first; the verdict must not outlive them.
        Assert.True(result.ValidUntil <= DateTimeOffset.Parse("2025-07-19T10:16:03Z", System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Collateral_after_next_update_fails_at_tcb_info_or_crl()
    {
        var at = Vectors.PhalaClock.AddDays(2);
        var result = VerifierAt(at).Verify(Vectors.Read(Vectors.Phala.File), PhalaCollateral());
        Assert.False(result.IsValid);
        Assert.Contains(result.FailedStep, new VerificationStep?[] { VerificationStep.Collateral, VerificationStep.TcbInfo });
    }

    [Fact]
    public void Tcb_info_for_another_fmspc_fails_at_tcb_info()
    {
        // The Phala collateral (FMSPC b0c06f000000) against the SPR quote (50806f000000). The TCB info signature
        // and window are fine at the Phala clock, but the SPR PCK leaf must also be valid: use the Phala clock only
        // if it lies inside its validity, else this is a chain failure, which is still not UpToDate.
        var result = VerifierAt(Vectors.PhalaClock).Verify(Vectors.Read(Vectors.V5.File), PhalaCollateral());
        Assert.False(result.IsValid);
        Assert.Contains(result.FailedStep, new VerificationStep?[] { VerificationStep.TcbInfo, VerificationStep.PckCertificateChain, VerificationStep.Collateral });
    }

    [Fact]
    public void Tampered_tcb_info_text_fails_its_signature()
    {
        var c = PhalaCollateral();
        var tampered = c with { TcbInfoJson = c.TcbInfoJson.Replace("\"pcesvn\":11", "\"pcesvn\":10", StringComparison.Ordinal) };
        Assert.NotEqual(c.TcbInfoJson, tampered.TcbInfoJson);
        var result = VerifierAt(Vectors.PhalaClock).Verify(Vectors.Read(Vectors.Phala.File), tampered);
        Assert.Equal(VerificationStep.TcbInfo, result.FailedStep);
        Assert.Contains("signature", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tampered_qe_identity_fails_its_signature()
    {
        var c = PhalaCollateral();
        var tampered = c with { QeIdentityJson = c.QeIdentityJson.Replace("\"isvsvn\":4", "\"isvsvn\":5", StringComparison.Ordinal) };
        Assert.NotEqual(c.QeIdentityJson, tampered.QeIdentityJson);
        var result = VerifierAt(Vectors.PhalaClock).Verify(Vectors.Read(Vectors.Phala.File), tampered);
        Assert.Equal(VerificationStep.QeIdentity, result.FailedStep);
    }

    [Theory]
    [InlineData(-10)]
    [InlineData(0)]
    public void Tampered_pck_crl_fails_at_collateral(int fromEnd)
    {
        // -10: inside the signature value; 0: the middle of the revoked-certificates list.
        var c = PhalaCollateral();
        var crl = (byte[])c.PckCrl.Clone();
        crl[fromEnd < 0 ? crl.Length + fromEnd : crl.Length / 2] ^= 0x01;
        var result = VerifierAt(Vectors.PhalaClock).Verify(Vectors.Read(Vectors.Phala.File), c with { PckCrl = crl });
        Assert.Equal(VerificationStep.Collateral, result.FailedStep);
    }

    [Fact]
    public void Tampered_tcb_info_signature_fails()
    {
        var c = PhalaCollateral();
        var sig = (byte[])c.TcbInfoSignature.Clone();
        sig[10] ^= 0x80;
        var result = VerifierAt(Vectors.PhalaClock).Verify(Vectors.Read(Vectors.Phala.File), c with { TcbInfoSignature = sig });
        Assert.Equal(VerificationStep.TcbInfo, result.FailedStep);
    }

    [Theory]
    [MemberData(nameof(Vectors.Names), MemberType = typeof(Vectors))]
    public void Truncated_file_fails_at_parse(string name)
    {
        var v = Vectors.ByName(name);
        var bytes = Vectors.Read(v.File);
        var result = VerifierAt(v.Clock).Verify(bytes.AsSpan(0, v.Length - 1));
        Assert.Equal(VerificationStep.Parse, result.FailedStep);
        Assert.Null(result.Quote);
    }

    [Theory]
    [MemberData(nameof(Vectors.Names), MemberType = typeof(Vectors))]
    public void Wrong_root_fails_the_pck_chain(string name)
    {
        var v = Vectors.ByName(name);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, S=CA, C=US", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var fake = request.CreateSelfSigned(new DateTimeOffset(2018, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2049, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var result = VerifierAt(v.Clock, fake).Verify(Vectors.Read(v.File));
        Assert.Equal(VerificationStep.PckCertificateChain, result.FailedStep);
    }

    [Theory]
    [InlineData("V4", "2017-01-01T00:00:00Z")]
    [InlineData("V4", "2040-01-01T00:00:00Z")]
    [InlineData("V5", "2020-01-01T00:00:00Z")]
    [InlineData("V5", "2035-01-01T00:00:00Z")]
    [InlineData("Phala", "2019-01-01T00:00:00Z")]
    [InlineData("Phala", "2033-06-01T00:00:00Z")]
    public void Clock_outside_certificate_validity_fails_the_pck_chain(string name, string at)
    {
        var v = Vectors.ByName(name);
        var result = VerifierAt(DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture)).Verify(Vectors.Read(v.File));
        Assert.Equal(VerificationStep.PckCertificateChain, result.FailedStep);
        Assert.Contains("NotTimeValid", result.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, int> SignedRegionBits()
    {
        // (vector, region, offset): one position at the start, middle and end of every signed region.
        var data = new TheoryData<string, string, int>();
        foreach (var name in new[] { "V4", "V5", "Phala" })
        {
            var v = Vectors.ByName(name);
            var q = TdxQuote.Parse(Vectors.Read(v.File));
            var sigData = q.SignedLength + 4;
            var qeReport = sigData + 128 + 6;
            var qeSig = qeReport + 384;
            var auth = qeSig + 64 + 2;
            var chain = auth + q.SignatureData.QeReportCertificationData.QeAuthData.Length + 6;
            foreach (var o in new[] { 0, 2, 8, 12, 28, 47, 48, q.SignedLength / 2, q.SignedLength - 1 })
            {
                data.Add(name, "header-body", o);
            }

            foreach (var o in new[] { sigData, sigData + 31, sigData + 63 })
            {
                data.Add(name, "quote-signature", o);
            }

            foreach (var o in new[] { sigData + 64, sigData + 100, sigData + 127 })
            {
                data.Add(name, "attestation-key", o);
            }

            foreach (var o in new[] { qeReport, qeReport + 128, qeReport + 256, qeReport + 383 })
            {
                data.Add(name, "qe-report", o);
            }

            foreach (var o in new[] { qeSig, qeSig + 63 })
            {
                data.Add(name, "qe-report-signature", o);
            }

            foreach (var o in new[] { auth, auth + 31 })
            {
                data.Add(name, "qe-auth-data", o);
            }

            foreach (var o in new[] { chain + 100, chain + 1000, chain + 2500 })
            {
                data.Add(name, "pck-chain", o);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SignedRegionBits))]
    public void One_flipped_bit_fails_at_the_step_that_covers_it(string name, string region, int offset)
    {
        var v = Vectors.ByName(name);
        var bytes = Vectors.Read(v.File);
        bytes[offset] ^= 0x04;
        var result = VerifierAt(v.Clock).Verify(bytes);
        Assert.False(result.IsValid);
        var expected = region switch
        {
            "header-body" when offset < 8 || (name == "V5" && offset is >= 48 and < 54) => new[] { VerificationStep.Parse, VerificationStep.QuoteHeader },
            "header-body" => [VerificationStep.QuoteSignature],
            "quote-signature" => [VerificationStep.QuoteSignature],
            "attestation-key" => [VerificationStep.AttestationKeyBinding],
            "qe-report" => [VerificationStep.QeReportSignature],
            "qe-report-signature" => [VerificationStep.QeReportSignature],
            "qe-auth-data" => [VerificationStep.AttestationKeyBinding],
            "pck-chain" => [VerificationStep.PckCertificateChain],
            _ => throw new ArgumentOutOfRangeException(nameof(region)),
        };
        Assert.Contains(result.FailedStep!.Value, expected);
    }

    [Fact]
    public void Every_bit_of_the_phala_header_and_body_is_covered_by_the_quote_signature()
    {
        // Exhaustive over the signed region of one vector (632 bytes), one bit per byte.
        var verifier = VerifierAt(Vectors.PhalaClock);
        var original = Vectors.Read(Vectors.Phala.File);
        for (var offset = 12; offset < Vectors.Phala.SignedLength; offset++)
        {
            var bytes = (byte[])original.Clone();
            bytes[offset] ^= (byte)(1 << (offset % 8));
            var result = verifier.Verify(bytes);
            Assert.True(result.FailedStep == VerificationStep.QuoteSignature, $"offset {offset}: {result.Message}");
        }
    }
}
