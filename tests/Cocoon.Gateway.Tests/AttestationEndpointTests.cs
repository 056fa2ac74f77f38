using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.Providers;
using Cocoon.Attestation.Quotes;
using Cocoon.Attestation.RaTls;
using Cocoon.Attestation.Verification;
using Cocoon.Client;
using Cocoon.Node.Hosting;
using Cocoon.Testing;

namespace Cocoon.Gateway.Tests;

/// <summary>
/// Two devnet proxy silos (in-memory, simulated attestation, the devnet default), one serving its gateway over http
/// and one over https with its RA-TLS certificate. They are separate one-silo clusters: the shared
/// <see cref="GatewayCluster"/> runs in Production mode, where simulated quotes are refused, on machines without TDX.
/// </summary>
public sealed class DevnetGateways : IAsyncLifetime
{
    public CocoonTestNode Http { get; private set; } = null!;

    public CocoonTestNode Https { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Http = await CocoonTestNode.StartAsync("att-http-" + Guid.NewGuid().ToString("N")[..8], "proxy", null, "attested-http");
        Https = await CocoonTestNode.StartAsync("att-https-" + Guid.NewGuid().ToString("N")[..8], "proxy", null, "attested-https",
            extra: new Dictionary<string, string?> { ["Cocoon:Gateway:Url"] = "https://127.0.0.1:0" });
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in new[] { Http, Https })
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }
        }
    }
}

public sealed class AttestationEndpointTests(GatewayCluster cluster, DevnetGateways devnet) : IClassFixture<DevnetGateways>
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static readonly GatewayAttestationOptions DevnetOptions = new() { Devnet = true };

    private async Task<(JsonDocument Json, GatewayAttestationDocument Document)> FetchDocumentAsync()
    {
        using var http = new HttpClient();
        var body = await http.GetByteArrayAsync(new Uri(devnet.Http.GatewayUrl!, "/v1/attestation"), Token);
        return (JsonDocument.Parse(body), GatewayAttestationDocument.Parse(body));
    }

    [Fact]
    public async Task The_endpoint_needs_no_key_and_shows_quote_claims_certificate_image_hash_and_mode()
    {
        var (json, document) = await FetchDocumentAsync();
        using var _ = json;
        var root = json.RootElement;

        Assert.Equal("cocoon.attestation", root.GetProperty("object").GetString());
        Assert.Equal("Devnet", root.GetProperty("mode").GetString());
        Assert.True(root.GetProperty("simulated").GetBoolean());
        Assert.Equal("attested-http", root.GetProperty("claims").GetProperty("silo").GetString());
        Assert.Equal("Devnet", root.GetProperty("claims").GetProperty("mode").GetString());
        Assert.Equal("proxy", root.GetProperty("claims").GetProperty("role").GetString());
        Assert.StartsWith("att-http-", root.GetProperty("claims").GetProperty("cluster").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", document.CertificatePem, StringComparison.Ordinal);

        var quote = TdxQuote.Parse(document.Quote);
        Assert.True(quote.IsSimulated);
        var measurements = SimulatedTdMeasurements.ForImage(NodeAttestation.SimulatedImage);
        var expectedImageHash = Convert.ToHexStringLower(ImageHash.Compute(
            measurements.MrTd, measurements.MrConfigId, measurements.MrOwner, measurements.MrOwnerConfig,
            measurements.Rtmr0, measurements.Rtmr1, measurements.Rtmr2, measurements.Rtmr3));
        Assert.Equal(expectedImageHash, root.GetProperty("image_hash").GetString());
    }

    [Fact]
    public async Task The_quote_verifies_in_devnet_mode()
    {
        var result = await GatewayAttestation.FetchAsync(devnet.Http.GatewayUrl!, DevnetOptions, Token);

        Assert.True(result.IsValid, result.Message);
        Assert.True(result.IsSimulated);
        Assert.Equal("attested-http", result.Claims!["silo"]);
        Assert.False(result.PresentedCertificateMatches); // plain http: nothing binds the connection
    }

    [Fact]
    public async Task The_quote_is_refused_in_production_mode()
    {
        var result = await GatewayAttestation.FetchAsync(devnet.Http.GatewayUrl!, new GatewayAttestationOptions(), Token);

        Assert.False(result.IsValid);
        Assert.Equal(GatewayAttestationStep.Certificate, result.FailedStep);
        Assert.Equal(VerificationStep.SimulatedQuote, result.VerificationStep);
    }

    [Fact]
    public async Task A_policy_that_does_not_allow_the_image_hash_is_refused()
    {
        var options = DevnetOptions with { Policy = new AttestationPolicy { AllowedImageHashes = [new string('0', 64)] } };

        var result = await GatewayAttestation.FetchAsync(devnet.Http.GatewayUrl!, options, Token);

        Assert.Equal(GatewayAttestationStep.Certificate, result.FailedStep);
        Assert.Equal(VerificationStep.Policy, result.VerificationStep);
    }

    [Fact]
    public async Task REPORTDATA_is_SHA512_of_the_certificate_key_and_the_claims()
    {
        var (json, document) = await FetchDocumentAsync();
        json.Dispose();
        using var certificate = X509Certificate2.CreateFromPem(document.CertificatePem);

        var expected = SHA512.HashData([.. certificate.PublicKey.ExportSubjectPublicKeyInfo(), .. document.Claims]);

        Assert.Equal(expected, TdxQuote.Parse(document.Quote).Body.ReportData.ToArray());
        Assert.Equal(document.Claims, RaTlsClaims.Parse(document.Claims).ToCanonicalBytes());
    }

    [Fact]
    public async Task Tampered_claims_in_the_document_are_refused()
    {
        var (json, document) = await FetchDocumentAsync();
        json.Dispose();
        var claims = RaTlsClaims.Parse(document.Claims).Values.ToDictionary();
        claims["silo"] = "someone-else";
        var tampered = document with { Claims = new RaTlsClaims(claims).ToCanonicalBytes() };

        var result = GatewayAttestation.Verify(tampered, null, DevnetOptions);

        Assert.Equal(GatewayAttestationStep.DocumentMismatch, result.FailedStep);
        Assert.True(GatewayAttestation.Verify(document, null, DevnetOptions).IsValid);
    }

    [Fact]
    public async Task A_certificate_with_another_key_or_other_claims_around_the_real_quote_is_refused()
    {
        var (json, document) = await FetchDocumentAsync();
        json.Dispose();
        var claims = RaTlsClaims.Parse(document.Claims).Values.ToDictionary();
        claims["mode"] = "Production";

        foreach (var forgedClaims in new[] { document.Claims, new RaTlsClaims(claims).ToCanonicalBytes() })
        {
            using var forged = Forge(document.Quote, forgedClaims);
            var result = GatewayAttestation.Verify(document with { CertificatePem = forged.ExportCertificatePem(), Claims = forgedClaims }, null, DevnetOptions);

            Assert.Equal(GatewayAttestationStep.Certificate, result.FailedStep);
            Assert.Equal(VerificationStep.ReportDataBinding, result.VerificationStep);
        }
    }

    [Fact]
    public async Task Over_https_the_server_presents_the_attested_certificate()
    {
        var url = devnet.Https.GatewayUrl!;
        Assert.Equal(Uri.UriSchemeHttps, url.Scheme);

        var result = await GatewayAttestation.FetchAsync(url, DevnetOptions, Token);

        Assert.True(result.IsValid, result.Message);
        Assert.True(result.PresentedCertificateMatches);
        Assert.Equal("attested-https", result.Claims!["silo"]);

        // The same document, as if another certificate had been presented in TLS: refused.
        using var other = Forge(result.Document!.Quote, result.Document.Claims);
        var mismatch = GatewayAttestation.Verify(result.Document, other, DevnetOptions);
        Assert.Equal(GatewayAttestationStep.PresentedCertificate, mismatch.FailedStep);
    }

    [Fact]
    public async Task A_production_gateway_without_attestation_says_so_instead_of_serving_unattested()
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(cluster.Gateway, "/v1/attestation"), Token);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("Cocoon:Attestation:Provider=None", await response.Content.ReadAsStringAsync(Token), StringComparison.Ordinal);
        var result = await GatewayAttestation.FetchAsync(cluster.Gateway, DevnetOptions, Token);
        Assert.Equal(GatewayAttestationStep.Fetch, result.FailedStep);
    }

    /// <summary>A self-signed certificate with a fresh key carrying <paramref name="quote"/> and <paramref name="claims"/>.</summary>
    private static X509Certificate2 Forge(byte[] quote, byte[] claims)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=cocoon-ra-tls", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509Extension(RaTlsOids.Quote, OctetString(quote), false));
        request.CertificateExtensions.Add(new X509Extension(RaTlsOids.Claims, OctetString(claims), false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
    }

    private static byte[] OctetString(byte[] value)
    {
        var writer = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
        writer.WriteOctetString(value);
        return writer.Encode();
    }
}
