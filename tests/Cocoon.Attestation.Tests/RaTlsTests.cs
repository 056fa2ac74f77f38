using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.Providers;
using Cocoon.Attestation.Quotes;
using Cocoon.Attestation.RaTls;
using Cocoon.Attestation.Verification;
using Microsoft.Extensions.Time.Testing;

namespace Cocoon.Attestation.Tests;

public sealed class RaTlsTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Start);
    private readonly SimulatedAttestationAuthority _authority = SimulatedAttestationAuthority.Create(Start);
    private readonly SimulatedQuoteProvider _provider;
    private readonly RaTlsCertificateFactory _factory;
    private readonly RaTlsClaims _claims = new(new Dictionary<string, string> { ["role"] = "worker", ["node"] = "w-1", ["model"] = "qwen3-0.6b" });

    public RaTlsTests()
    {
        _provider = new SimulatedQuoteProvider(_authority, SimulatedTdMeasurements.ForImage("worker"));
        _factory = new RaTlsCertificateFactory(_provider, TimeSpan.FromHours(1), _time);
    }

    public void Dispose()
    {
        _provider.Dispose();
        _authority.Dispose();
    }

    private QuoteVerifier Verifier(AttestationMode mode = AttestationMode.Devnet) =>
        new(new QuoteVerifierOptions { Mode = mode, TimeProvider = _time, SimulatedRoot = _authority.RootCertificate });

    private AttestationPolicy AllowThisImage() =>
        new() { AllowedImageHashes = [Convert.ToHexStringLower(ImageHash.Compute(_provider.Measurements.MrTd, _provider.Measurements.MrConfigId, _provider.Measurements.MrOwner, _provider.Measurements.MrOwnerConfig, _provider.Measurements.Rtmr0, _provider.Measurements.Rtmr1, _provider.Measurements.Rtmr2, _provider.Measurements.Rtmr3))] };

    [Fact]
    public async Task Certificate_round_trips_with_quote_and_claims()
    {
        using var cert = await _factory.CreateAsync(_claims, cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(cert.HasPrivateKey);
        Assert.Equal("1.2.840.10045.2.1", cert.PublicKey.Oid.Value); // id-ecPublicKey
        using (var publicKey = cert.GetECDsaPublicKey())
        {
            Assert.Equal(256, publicKey!.KeySize);
        }

        Assert.Equal(Start.AddHours(1), new DateTimeOffset(cert.NotAfter.ToUniversalTime()));
        Assert.False(cert.Extensions[RaTlsOids.Quote]!.Critical);

        var result = new RaTlsCertificateValidator(Verifier(), AllowThisImage()).Validate(cert);
        Assert.True(result.IsValid, result.Message);
        Assert.Equal("worker", result.Claims!["role"]);
        Assert.Equal("qwen3-0.6b", result.Claims["model"]);
        Assert.True(result.Quote!.IsSimulated);

        // REPORTDATA really is SHA-512(SPKI ‖ canonical claims), computed here independently.
        var quote = TdxQuote.Parse(result.Quote.Quote!.Bytes.Span);
        var expected = SHA512.HashData([.. cert.PublicKey.ExportSubjectPublicKeyInfo(), .. """{"model":"qwen3-0.6b","node":"w-1","role":"worker"}"""u8]);
        Assert.Equal(expected, quote.Body.ReportData.ToArray());
    }

    [Fact]
    public async Task Production_validator_refuses_a_simulated_certificate_even_with_the_image_allowed()
    {
        using var cert = await _factory.CreateAsync(_claims, cancellationToken: TestContext.Current.CancellationToken);
        var result = new RaTlsCertificateValidator(Verifier(AttestationMode.Production), AllowThisImage()).Validate(cert);
        Assert.Equal(VerificationStep.SimulatedQuote, result.FailedStep);
    }

    [Fact]
    public async Task Policy_refusal_is_reported()
    {
        using var cert = await _factory.CreateAsync(_claims, cancellationToken: TestContext.Current.CancellationToken);
        var result = new RaTlsCertificateValidator(Verifier(), new AttestationPolicy { AllowedImageHashes = [new string('0', 64)] }).Validate(cert);
        Assert.Equal(VerificationStep.Policy, result.FailedStep);
    }

    [Fact]
    public async Task Expired_certificate_is_refused()
    {
        using var cert = await _factory.CreateAsync(_claims, cancellationToken: TestContext.Current.CancellationToken);
        var validator = new RaTlsCertificateValidator(Verifier(), AllowThisImage());
        _time.Advance(TimeSpan.FromMinutes(61));
        Assert.Equal(VerificationStep.CertificateValidity, validator.Validate(cert).FailedStep);
    }

    [Fact]
    public async Task Claims_swapped_under_a_valid_self_signature_break_the_binding()
    {
        // A certificate that is validly self-signed, but whose claims are not the ones the quote binds.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=cocoon-ra-tls", key, HashAlgorithmName.SHA256);
        var honest = _claims.ToCanonicalBytes();
        var quote = await _provider.GetQuoteAsync(RaTlsCertificateFactory.ComputeReportData(request.PublicKey.ExportSubjectPublicKeyInfo(), honest), TestContext.Current.CancellationToken);
        var forged = new RaTlsClaims(new Dictionary<string, string> { ["role"] = "proxy", ["node"] = "w-1", ["model"] = "qwen3-0.6b" });
        request.CertificateExtensions.Add(new X509Extension(RaTlsOids.Quote, RaTlsCertificateFactory.OctetString(quote), false));
        request.CertificateExtensions.Add(new X509Extension(RaTlsOids.Claims, RaTlsCertificateFactory.OctetString(forged.ToCanonicalBytes()), false));
        using var cert = request.CreateSelfSigned(Start.AddMinutes(-1), Start.AddMinutes(30));

        var result = new RaTlsCertificateValidator(Verifier(), AllowThisImage()).Validate(cert);
        Assert.Equal(VerificationStep.ReportDataBinding, result.FailedStep);
    }

    [Fact]
    public async Task Quote_moved_to_another_key_breaks_the_binding()
    {
        using var original = await _factory.CreateAsync(_claims, cancellationToken: TestContext.Current.CancellationToken);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=cocoon-ra-tls", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(original.Extensions[RaTlsOids.Quote]!);
        request.CertificateExtensions.Add(original.Extensions[RaTlsOids.Claims]!);
        using var stolen = request.CreateSelfSigned(Start.AddMinutes(-1), Start.AddMinutes(30));
        Assert.Equal(VerificationStep.ReportDataBinding, new RaTlsCertificateValidator(Verifier(), AllowThisImage()).Validate(stolen).FailedStep);
    }

    [Fact]
    public async Task Tampered_certificate_bytes_fail_the_self_signature()
    {
        using var cert = await _factory.CreateAsync(_claims, cancellationToken: TestContext.Current.CancellationToken);
        var der = cert.RawData;
        var at = der.AsSpan().IndexOf("cocoon-ra-tls"u8);
        Assert.True(at > 0);
        der[at] = (byte)'C'; // subject CN changes, the signature no longer covers the bytes
        using var tampered = X509CertificateLoader.LoadCertificate(der);
        Assert.Equal(VerificationStep.CertificateSignature, new RaTlsCertificateValidator(Verifier(), AllowThisImage()).Validate(tampered).FailedStep);
    }

    [Fact]
    public async Task Tampered_quote_inside_a_resigned_certificate_fails_quote_verification()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=cocoon-ra-tls", key, HashAlgorithmName.SHA256);
        var claims = _claims.ToCanonicalBytes();
        var quote = await _provider.GetQuoteAsync(RaTlsCertificateFactory.ComputeReportData(request.PublicKey.ExportSubjectPublicKeyInfo(), claims), TestContext.Current.CancellationToken);
        quote[0x100] ^= 1; // MRTD byte: the quote signature breaks, the binding does not
        request.CertificateExtensions.Add(new X509Extension(RaTlsOids.Quote, RaTlsCertificateFactory.OctetString(quote), false));
        request.CertificateExtensions.Add(new X509Extension(RaTlsOids.Claims, RaTlsCertificateFactory.OctetString(claims), false));
        using var cert = request.CreateSelfSigned(Start.AddMinutes(-1), Start.AddMinutes(30));
        Assert.Equal(VerificationStep.QuoteSignature, new RaTlsCertificateValidator(Verifier(), new AttestationPolicy()).Validate(cert).FailedStep);
    }

    [Fact]
    public void Plain_certificate_without_extensions_is_refused()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var cert = new CertificateRequest("CN=plain", key, HashAlgorithmName.SHA256).CreateSelfSigned(Start.AddMinutes(-1), Start.AddMinutes(30));
        Assert.Equal(VerificationStep.CertificateFormat, new RaTlsCertificateValidator(Verifier(), new AttestationPolicy()).Validate(cert).FailedStep);
    }

    [Fact]
    public void Non_canonical_claims_are_refused()
    {
        Assert.Throws<FormatException>(() => RaTlsClaims.Parse("""{ "role":"worker"}"""u8));
        Assert.Throws<FormatException>(() => RaTlsClaims.Parse("""{"role":"worker","node":"w"}"""u8)); // keys out of order
        Assert.Throws<FormatException>(() => RaTlsClaims.Parse("""{"role":1}"""u8));
        Assert.Equal("w", RaTlsClaims.Parse("""{"node":"w","role":"worker"}"""u8)["node"]);
    }

    [Fact]
    public async Task Rotator_renews_before_expiry_and_not_earlier()
    {
        using var rotator = new RaTlsCertificateRotator(_factory, _claims, TimeSpan.FromMinutes(10), _time);
        var first = await rotator.GetCertificateAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1, rotator.Generation);

        _time.Advance(TimeSpan.FromMinutes(49));
        Assert.Same(first, await rotator.GetCertificateAsync(TestContext.Current.CancellationToken));

        _time.Advance(TimeSpan.FromMinutes(2)); // 51 min: inside the last 10 minutes of the first certificate
        var second = await rotator.GetCertificateAsync(TestContext.Current.CancellationToken);
        Assert.NotSame(first, second);
        Assert.Equal(2, rotator.Generation);
        Assert.NotEqual(first.Thumbprint, second.Thumbprint);
        Assert.Equal(_time.GetUtcNow().AddHours(1), new DateTimeOffset(second.NotAfter.ToUniversalTime()));
        Assert.True(new RaTlsCertificateValidator(Verifier(), AllowThisImage()).Validate(second).IsValid);
        Assert.Same(second, rotator.Current);
    }

    [Fact]
    public async Task Cache_reuses_verdicts_for_the_same_quote_until_they_expire()
    {
        var verifier = Verifier();
        var cache = new QuoteVerificationCache(verifier);
        var quote = await _provider.GetQuoteAsync(new byte[64], TestContext.Current.CancellationToken);
        Assert.True(cache.Verify(quote).IsValid);
        Assert.True(cache.Verify(quote).IsValid);
        Assert.Equal(1, cache.Hits);
        Assert.Equal(1, cache.Misses);

        var tampered = (byte[])quote.Clone();
        tampered[0x100] ^= 1;
        Assert.Equal(VerificationStep.QuoteSignature, cache.Verify(tampered).FailedStep);
        Assert.Equal(VerificationStep.QuoteSignature, cache.Verify(tampered).FailedStep);
        Assert.Equal(1, cache.Count); // failures are not cached

        // Past the dev root's validity the cached verdict must not be reused: the chain now fails.
        _time.Advance(TimeSpan.FromDays(365 * 11));
        Assert.Equal(VerificationStep.PckCertificateChain, cache.Verify(quote).FailedStep);
    }

    [Fact]
    public void Cache_separates_verdicts_with_and_without_collateral()
    {
        var cache = new QuoteVerificationCache(VerificationTests.VerifierAt(Vectors.PhalaClock));
        var quote = Vectors.Read(Vectors.Phala.File);
        Assert.Null(cache.Verify(quote).TcbStatus);
        Assert.Equal(Collateral.TcbStatus.UpToDate, cache.Verify(quote, VerificationTests.PhalaCollateral()).TcbStatus);
        Assert.Equal(Collateral.TcbStatus.UpToDate, cache.Verify(quote, VerificationTests.PhalaCollateral()).TcbStatus);
        Assert.Equal(1, cache.Hits);
    }

    [Fact]
    public async Task Tls_handshake_admits_an_attested_peer_through_the_callback()
    {
        // The TLS stack checks NotBefore/NotAfter against the real clock, so this certificate uses real time.
        var realFactory = new RaTlsCertificateFactory(_provider, TimeSpan.FromMinutes(30));
        using var liveCert = await realFactory.CreateAsync(_claims, cancellationToken: TestContext.Current.CancellationToken);
        var validator = new RaTlsCertificateValidator(
            new QuoteVerifier(new QuoteVerifierOptions { Mode = AttestationMode.Devnet, SimulatedRoot = _authority.RootCertificate }),
            AllowThisImage());

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serverTask = Task.Run(async () =>
        {
            using var socket = await listener.AcceptTcpClientAsync(TestContext.Current.CancellationToken);
            await using var ssl = new SslStream(socket.GetStream());
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = liveCert }, TestContext.Current.CancellationToken);
            await ssl.WriteAsync("ok"u8.ToArray(), TestContext.Current.CancellationToken);
        }, TestContext.Current.CancellationToken);

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, TestContext.Current.CancellationToken);
        await using var clientSsl = new SslStream(client.GetStream(), false, validator.RemoteCertificateValidationCallback);
        await clientSsl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "cocoon-ra-tls" }, TestContext.Current.CancellationToken);
        var buffer = new byte[2];
        await clientSsl.ReadExactlyAsync(buffer, TestContext.Current.CancellationToken);
        Assert.Equal("ok"u8.ToArray(), buffer);
        await serverTask;
    }
}
