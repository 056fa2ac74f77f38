using System.Security.Cryptography;
using Cocoon.Attestation.Collateral;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.Providers;
using Cocoon.Attestation.Quotes;
using Cocoon.Attestation.Verification;
using Microsoft.Extensions.Time.Testing;

namespace Cocoon.Attestation.Tests;

public sealed class SimulatedAndPolicyTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly SimulatedAttestationAuthority _authority = SimulatedAttestationAuthority.Create(Now);
    private readonly SimulatedQuoteProvider _provider;

    public SimulatedAndPolicyTests()
    {
        _provider = new SimulatedQuoteProvider(_authority, SimulatedTdMeasurements.ForImage("cocoon-worker-1"));
    }

    public void Dispose()
    {
        _provider.Dispose();
        _authority.Dispose();
    }

    private QuoteVerifier Verifier(AttestationMode mode) => new(new QuoteVerifierOptions
    {
        Mode = mode,
        TimeProvider = new FakeTimeProvider(Now),
        SimulatedRoot = _authority.RootCertificate,
    });

    private static byte[] ReportData(byte seed) => Enumerable.Range(0, 64).Select(i => (byte)(i + seed)).ToArray();

    [Fact]
    public async Task Simulated_quote_parses_with_its_markers_and_report_data()
    {
        var quote = TdxQuote.Parse(await _provider.GetQuoteAsync(ReportData(7), TestContext.Current.CancellationToken));
        Assert.True(quote.IsSimulated);
        Assert.Equal(TdxQuote.SimulatedAttestationKeyType, quote.Header.AttestationKeyType);
        Assert.Equal("COCOON-SIMULATED"u8.ToArray(), quote.Header.QeVendorId.ToArray());
        Assert.Equal(4, quote.Header.Version);
        Assert.Equal(TdxQuote.TdxTeeType, quote.Header.TeeType);
        Assert.Equal(ReportData(7), quote.Body.ReportData.ToArray());
        Assert.Equal(_provider.Measurements.MrTd, quote.Body.MrTd.ToArray());
        Assert.Equal(_provider.Measurements.Rtmr2, quote.Body.Rtmr2.ToArray());
        Assert.Equal(0, quote.TrailingLength);
        Assert.Contains("Cocoon Simulated TDX Root", quote.SignatureData.QeReportCertificationData.CertificationData.PckCertificateChainPem is { } pem ? System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(pem).Issuer : "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task Simulated_quote_verifies_in_devnet_mode()
    {
        var bytes = await _provider.GetQuoteAsync(ReportData(1), TestContext.Current.CancellationToken);
        var result = Verifier(AttestationMode.Devnet).Verify(bytes);
        Assert.True(result.IsValid, result.Message);
        Assert.True(result.IsSimulated);
        Assert.Null(result.TcbStatus);
    }

    [Fact]
    public async Task Simulated_quote_is_refused_in_production_even_with_its_image_hash_allowed()
    {
        var bytes = await _provider.GetQuoteAsync(ReportData(1), TestContext.Current.CancellationToken);
        var imageHash = Convert.ToHexStringLower(ImageHash.Compute(TdxQuote.Parse(bytes).Body));
        var policy = new AttestationPolicy { AllowedImageHashes = [imageHash] };

        Assert.True(policy.Apply(Verifier(AttestationMode.Devnet).Verify(bytes)).IsValid);
        var production = policy.Apply(Verifier(AttestationMode.Production).Verify(bytes));
        Assert.Equal(VerificationStep.SimulatedQuote, production.FailedStep);
        Assert.Contains("production", production.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Simulated_vendor_id_alone_is_refused_in_production()
    {
        var bytes = await _provider.GetQuoteAsync(ReportData(1), TestContext.Current.CancellationToken);
        bytes[2] = 2; // attestation key type back to ECDSA P-256: the vendor id still marks it
        bytes[3] = 0;
        Assert.Equal(VerificationStep.SimulatedQuote, Verifier(AttestationMode.Production).Verify(bytes).FailedStep);
    }

    [Fact]
    public async Task Devnet_verifier_without_a_simulated_root_refuses_simulated_quotes()
    {
        var bytes = await _provider.GetQuoteAsync(ReportData(1), TestContext.Current.CancellationToken);
        var verifier = new QuoteVerifier(new QuoteVerifierOptions { Mode = AttestationMode.Devnet, TimeProvider = new FakeTimeProvider(Now) });
        Assert.Equal(VerificationStep.SimulatedQuote, verifier.Verify(bytes).FailedStep);
    }

    [Fact]
    public async Task Simulated_quote_under_another_dev_root_fails_the_chain()
    {
        using var other = SimulatedAttestationAuthority.Create(Now);
        using var provider = new SimulatedQuoteProvider(other, SimulatedTdMeasurements.ForImage("x"));
        var bytes = await provider.GetQuoteAsync(ReportData(1), TestContext.Current.CancellationToken);
        Assert.Equal(VerificationStep.PckCertificateChain, Verifier(AttestationMode.Devnet).Verify(bytes).FailedStep);
    }

    [Theory]
    [InlineData(100, VerificationStep.QuoteSignature)]
    [InlineData(0x238 + 5, VerificationStep.QuoteSignature)]
    [InlineData(0x27C + 3, VerificationStep.QuoteSignature)]
    [InlineData(0x27C + 64 + 3, VerificationStep.AttestationKeyBinding)]
    [InlineData(0x302 + 10, VerificationStep.QeReportSignature)]
    [InlineData(0x4C4 + 1, VerificationStep.AttestationKeyBinding)]
    public async Task Tampered_simulated_quote_fails_at_the_covering_step(int offset, VerificationStep step)
    {
        var bytes = await _provider.GetQuoteAsync(ReportData(1), TestContext.Current.CancellationToken);
        bytes[offset] ^= 0x01;
        Assert.Equal(step, Verifier(AttestationMode.Devnet).Verify(bytes).FailedStep);
    }

    [Fact]
    public void Ca_certificate_as_pck_leaf_fails_the_chain()
    {
        // A quote whose "PCK" leaf is the CA itself: signatures are all fine, the chain is not.
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=dev ca", caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = request.CreateSelfSigned(Now.AddDays(-1), Now.AddDays(1));
        using var attestationKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var quote = QuoteBuilder.Build(
            TdxQuote.SimulatedAttestationKeyType, TdxQuote.SimulatedQeVendorId, new TdReportFields(), attestationKey, caKey,
            new byte[EnclaveReport.Size], new byte[32], ca.ExportCertificatePem() + "\n" + ca.ExportCertificatePem());
        var verifier = new QuoteVerifier(new QuoteVerifierOptions { Mode = AttestationMode.Devnet, TimeProvider = new FakeTimeProvider(Now), SimulatedRoot = ca });
        var result = verifier.Verify(quote);
        Assert.Equal(VerificationStep.PckCertificateChain, result.FailedStep);
        Assert.Contains("CA certificate used as an end entity", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Authority_round_trips_through_pem()
    {
        var (cert, key) = _authority.ExportRootPem();
        using var loaded = SimulatedAttestationAuthority.FromPem(cert, key);
        using var provider = new SimulatedQuoteProvider(loaded, SimulatedTdMeasurements.ForImage("y"));
        var bytes = await provider.GetQuoteAsync(ReportData(2), TestContext.Current.CancellationToken);
        Assert.True(Verifier(AttestationMode.Devnet).Verify(bytes).IsValid);
    }

    [Fact]
    public void Image_hash_is_sha256_over_the_eight_registers_in_order()
    {
        var quote = TdxQuote.Parse(Vectors.Read(Vectors.V4.File));
        var b = quote.Body;
        byte[] concatenated = [.. b.MrTd.Span, .. b.MrConfigId.Span, .. b.MrOwner.Span, .. b.MrOwnerConfig.Span, .. b.Rtmr0.Span, .. b.Rtmr1.Span, .. b.Rtmr2.Span, .. b.Rtmr3.Span];
        Assert.Equal(384, concatenated.Length);
        Assert.Equal(SHA256.HashData(concatenated), ImageHash.Compute(b));
        // Independent check: the same bytes straight from the file at their DCAP offsets (MRTD 0x0B8..0x0E8,
        // MRCONFIGID..RTMR3 contiguous up to 0x238).
        var raw = Vectors.Read(Vectors.V4.File);
        Assert.Equal(SHA256.HashData(raw.AsSpan(0xB8, 0x238 - 0xB8)), ImageHash.Compute(b));
    }

    [Fact]
    public void Image_hash_changes_with_any_register_but_not_with_report_data()
    {
        var raw = Vectors.Read(Vectors.Phala.File);
        var baseline = ImageHash.Compute(TdxQuote.Parse(raw).Body);
        foreach (var offset in new[] { 0xB8, 0xE8, 0x118, 0x148, 0x178, 0x1A8, 0x1D8, 0x208 })
        {
            var changed = (byte[])raw.Clone();
            changed[offset + 47] ^= 1;
            Assert.NotEqual(baseline, ImageHash.Compute(TdxQuote.Parse(changed).Body));
        }

        var reportData = (byte[])raw.Clone();
        reportData[0x238] ^= 1;
        Assert.Equal(baseline, ImageHash.Compute(TdxQuote.Parse(reportData).Body));
    }

    [Fact]
    public async Task Policy_refuses_unlisted_image_hash_mrtd_and_rtmr()
    {
        var result = Verifier(AttestationMode.Devnet).Verify(await _provider.GetQuoteAsync(ReportData(3), TestContext.Current.CancellationToken));
        Assert.True(result.IsValid);
        var other = new string('a', 64);
        Assert.Equal(VerificationStep.Policy, new AttestationPolicy { AllowedImageHashes = [other] }.Apply(result).FailedStep);
        Assert.Equal(VerificationStep.Policy, new AttestationPolicy { AllowedMrTds = [new string('b', 96)] }.Apply(result).FailedStep);
        Assert.True(new AttestationPolicy { AllowedMrTds = [Convert.ToHexString(_provider.Measurements.MrTd)] }.Apply(result).IsValid);
        var rtmr = new AttestationPolicy { AllowedRtmrs = new Dictionary<int, IReadOnlyCollection<string>> { [2] = [new string('c', 96)] } }.Apply(result);
        Assert.Equal(VerificationStep.Policy, rtmr.FailedStep);
        Assert.Contains("RTMR2", rtmr.Message, StringComparison.Ordinal);
        Assert.True(new AttestationPolicy { AllowedRtmrs = new Dictionary<int, IReadOnlyCollection<string>> { [2] = [Convert.ToHexStringLower(_provider.Measurements.Rtmr2)] } }.Apply(result).IsValid);
    }

    [Fact]
    public async Task Policy_refuses_debug_tds_unless_allowed()
    {
        using var debug = new SimulatedQuoteProvider(_authority, SimulatedTdMeasurements.ForImage("dbg") with { Debug = true });
        var result = Verifier(AttestationMode.Devnet).Verify(await debug.GetQuoteAsync(ReportData(4), TestContext.Current.CancellationToken));
        Assert.True(result.IsValid);
        Assert.True(result.Quote!.Body.IsDebug);
        var refused = new AttestationPolicy().Apply(result);
        Assert.Equal(VerificationStep.Policy, refused.FailedStep);
        Assert.Contains("debug", refused.Message, StringComparison.Ordinal);
        Assert.True(new AttestationPolicy { AllowDebug = true }.Apply(result).IsValid);
    }

    [Fact]
    public void Policy_minimum_tcb_status_on_the_phala_vector()
    {
        var result = VerificationTests.VerifierAt(Vectors.PhalaClock).Verify(Vectors.Read(Vectors.Phala.File), VerificationTests.PhalaCollateral());
        Assert.Equal(TcbStatus.UpToDate, result.TcbStatus);
        Assert.True(new AttestationPolicy { MinimumTcbStatus = TcbStatus.UpToDate }.Apply(result).IsValid);
        Assert.Equal(VerificationStep.Policy, new AttestationPolicy { RequireFreshCollateral = true }.Apply(result).FailedStep);

        var outOfDate = result with { TcbStatus = TcbStatus.OutOfDate };
        Assert.Equal(VerificationStep.Policy, new AttestationPolicy { MinimumTcbStatus = TcbStatus.SWHardeningNeeded }.Apply(outOfDate).FailedStep);
        Assert.True(new AttestationPolicy { MinimumTcbStatus = TcbStatus.OutOfDate }.Apply(outOfDate).IsValid);

        var noCollateral = VerificationTests.VerifierAt(Vectors.PhalaClock).Verify(Vectors.Read(Vectors.Phala.File));
        Assert.Equal(VerificationStep.Policy, new AttestationPolicy { MinimumTcbStatus = TcbStatus.OutOfDate }.Apply(noCollateral).FailedStep);
    }

    [Fact]
    public void Policy_leaves_failed_results_unchanged()
    {
        var failed = VerificationTests.VerifierAt(Vectors.PhalaClock).Verify(Vectors.Read(Vectors.Phala.File).AsSpan(0, 100));
        Assert.Same(failed, new AttestationPolicy { AllowedImageHashes = ["00"] }.Apply(failed));
    }

    [Theory]
    [InlineData(TcbStatus.UpToDate, TcbStatus.OutOfDate, TcbStatus.OutOfDate)]
    [InlineData(TcbStatus.ConfigurationNeeded, TcbStatus.OutOfDate, TcbStatus.OutOfDateConfigurationNeeded)]
    [InlineData(TcbStatus.SWHardeningNeeded, TcbStatus.UpToDate, TcbStatus.SWHardeningNeeded)]
    [InlineData(TcbStatus.UpToDate, TcbStatus.Revoked, TcbStatus.Revoked)]
    [InlineData(TcbStatus.UpToDate, TcbStatus.UpToDate, TcbStatus.UpToDate)]
    public void Tcb_statuses_converge_as_intel_qvl_does(TcbStatus platform, TcbStatus component, TcbStatus expected) =>
        Assert.Equal(expected, TcbStatuses.Converge(platform, component));

    [Fact]
    public async Task ConfigFs_provider_writes_inblob_and_returns_outblob()
    {
        var root = Directory.CreateTempSubdirectory("tsm-");
        try
        {
            // A stand-in for the kernel: the entry exists with its outblob before the provider writes inblob.
            var entry = Path.Combine(root.FullName, "entry");
            Directory.CreateDirectory(entry);
            await File.WriteAllTextAsync(Path.Combine(entry, "provider"), "tdx_guest\n", TestContext.Current.CancellationToken);
            var quote = Vectors.Read(Vectors.Phala.File);
            await File.WriteAllBytesAsync(Path.Combine(entry, "outblob"), quote, TestContext.Current.CancellationToken);
            var provider = new ConfigFsTsmQuoteProvider(root.FullName, () => "entry");
            Assert.True(provider.IsAvailable);
            Assert.False(provider.IsSimulated);

            var result = await provider.GetQuoteAsync(ReportData(9), TestContext.Current.CancellationToken);
            Assert.Equal(quote, result);
            Assert.Equal(ReportData(9), await File.ReadAllBytesAsync(Path.Combine(entry, "inblob"), TestContext.Current.CancellationToken));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task ConfigFs_provider_says_why_it_is_unavailable()
    {
        var provider = new ConfigFsTsmQuoteProvider("/nonexistent/tsm/report");
        Assert.False(provider.IsAvailable);
        var e = await Assert.ThrowsAsync<QuoteProviderException>(async () => await provider.GetQuoteAsync(new byte[64], TestContext.Current.CancellationToken));
        Assert.Contains("/nonexistent/tsm/report", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(async () => await provider.GetQuoteAsync(new byte[32], TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ConfigFs_provider_refuses_a_non_tdx_provider()
    {
        var root = Directory.CreateTempSubdirectory("tsm-");
        try
        {
            Directory.CreateDirectory(Path.Combine(root.FullName, "e"));
            await File.WriteAllTextAsync(Path.Combine(root.FullName, "e", "provider"), "sev_guest\n", TestContext.Current.CancellationToken);
            var provider = new ConfigFsTsmQuoteProvider(root.FullName, () => "e");
            var e = await Assert.ThrowsAsync<QuoteProviderException>(async () => await provider.GetQuoteAsync(new byte[64], TestContext.Current.CancellationToken));
            Assert.Contains("sev_guest", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}
