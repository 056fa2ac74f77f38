using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cocoon.Abstractions.Accounts;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.Providers;
using Cocoon.Attestation.RaTls;
using Cocoon.Client;
using Cocoon.Node.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;

namespace Cocoon.Gateway.Tests;

/// <summary>
/// <see cref="CocoonHttp"/>: the verified HTTP client works with the OpenAI .NET SDK against a devnet https gateway,
/// and refuses, before any request reaches it, a server whose certificate does not attest or whose image the policy
/// does not allow. The impostor servers are plain Kestrel servers in this test that count every request they get.
/// </summary>
public sealed class VerifiedHttpClientTests(DevnetGateways devnet) : IClassFixture<DevnetGateways>
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private X509Certificate2 DevnetRoot => devnet.Https.Host.Services.GetRequiredService<NodeAttestation>().SimulatedRoot!;

    private static string DevnetImageHash
    {
        get
        {
            var m = SimulatedTdMeasurements.ForImage(NodeAttestation.SimulatedImage);
            return Convert.ToHexStringLower(ImageHash.Compute(m.MrTd, m.MrConfigId, m.MrOwner, m.MrOwnerConfig, m.Rtmr0, m.Rtmr1, m.Rtmr2, m.Rtmr3));
        }
    }

    [Fact]
    public async Task The_openai_sdk_over_a_verified_client_talks_to_an_attested_https_gateway()
    {
        var apiKey = "sk-cocoon-test-" + Guid.NewGuid().ToString("N");
        await devnet.Https.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(apiKey)).CreateAsync("verified-" + Guid.NewGuid().ToString("N")[..8], "verified");
        var options = new GatewayAttestationOptions
        {
            Devnet = true,
            SimulatedRoot = DevnetRoot,
            Policy = AttestationPolicy.Production with { AllowedImageHashes = [DevnetImageHash] },
        };

        using var http = await CocoonHttp.CreateVerifiedHttpClientAsync(devnet.Https.GatewayUrl!, options, Token);
        var sdk = new OpenAIClient(new ApiKeyCredential(apiKey), new OpenAIClientOptions
        {
            Endpoint = new Uri(devnet.Https.GatewayUrl!, "/v1"),
            Transport = new HttpClientPipelineTransport(http),
        });
        var models = await sdk.GetOpenAIModelClient().GetModelsAsync(Token);

        Assert.NotNull(models.Value);
        Assert.Equal(HttpStatusCode.OK, (HttpStatusCode)models.GetRawResponse().Status);

        // Trust on first use of the published devnet root works too; plain http is refused outright.
        using var tofu = await CocoonHttp.CreateVerifiedHttpClientAsync(devnet.Https.GatewayUrl!, options with { SimulatedRoot = null }, Token);
        await Assert.ThrowsAsync<ArgumentException>(() => CocoonHttp.CreateVerifiedHttpClientAsync(devnet.Http.GatewayUrl!, options, Token));
    }

    [Fact]
    public async Task A_policy_that_does_not_allow_the_gateways_image_refuses_it()
    {
        var options = new GatewayAttestationOptions
        {
            Devnet = true,
            SimulatedRoot = DevnetRoot,
            Policy = new AttestationPolicy { AllowedImageHashes = [new string('a', 64)] },
        };

        var e = await Assert.ThrowsAsync<GatewayAttestationException>(() => CocoonHttp.CreateVerifiedHttpClientAsync(devnet.Https.GatewayUrl!, options, Token));

        Assert.Contains("image hash " + DevnetImageHash + " is not allowed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Collateral_is_asked_for_the_gateways_quote_and_a_minimum_tcb_status_refuses_one_without_it()
    {
        var asked = 0;
        var options = new GatewayAttestationOptions
        {
            Devnet = true,
            SimulatedRoot = DevnetRoot,
            Policy = AttestationPolicy.Production with { AllowedImageHashes = [DevnetImageHash], MinimumTcbStatus = Cocoon.Attestation.Collateral.TcbStatus.UpToDate },
            Collateral = quote =>
            {
                Interlocked.Increment(ref asked);
                Assert.True(quote.IsSimulated);
                return null; // a simulated quote has no platform collateral
            },
        };

        var e = await Assert.ThrowsAsync<GatewayAttestationException>(() => CocoonHttp.CreateVerifiedHttpClientAsync(devnet.Https.GatewayUrl!, options, Token));

        Assert.Contains("requires a TCB status", e.Message, StringComparison.Ordinal);
        Assert.True(asked > 0);
    }

    [Fact]
    public async Task A_server_presenting_another_certificate_or_a_disallowed_image_sees_no_request()
    {
        // An attested image the policy does not allow, signed under the same devnet root the client trusts.
        using var authority = SimulatedAttestationAuthority.Create(DateTimeOffset.UtcNow);
        using var provider = new SimulatedQuoteProvider(authority, SimulatedTdMeasurements.ForImage("cocoon-impostor"));
        using var otherImage = await new RaTlsCertificateFactory(provider).CreateAsync(new RaTlsClaims(new Dictionary<string, string> { ["silo"] = "impostor" }), cancellationToken: Token);
        using var plainKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var plain = new CertificateRequest("CN=127.0.0.1", plainKey, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));

        foreach (var certificate in new[] { otherImage, plain })
        {
            await using var impostor = await Impostor.StartAsync(certificate);
            var options = new GatewayAttestationOptions
            {
                Devnet = true,
                SimulatedRoot = authority.RootCertificate,
                Policy = AttestationPolicy.Production with { AllowedImageHashes = [DevnetImageHash] },
            };

            var e = await Assert.ThrowsAsync<GatewayAttestationException>(() => CocoonHttp.CreateVerifiedHttpClientAsync(impostor.Url, options, Token));

            // A caller with its own HttpClient over the handler: the POST with a prompt never reaches the server.
            using var http = new HttpClient(CocoonHttp.CreateVerifiedHandler(options)) { BaseAddress = impostor.Url };
            await Assert.ThrowsAsync<HttpRequestException>(() => http.PostAsJsonAsync("/v1/chat/completions", new { model = "m", messages = new[] { new { role = "user", content = "secret prompt" } } }, Token));

            Assert.Equal(0, impostor.Requests);
            Assert.Contains(certificate == plain ? "lacks the RA-TLS" : "is not allowed", e.Message, StringComparison.Ordinal);

            // The impostor does count: an unverified client's request reaches it.
            using var unverified = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == certificate.GetCertHashString() } });
            (await unverified.GetAsync(impostor.Url, Token)).Dispose();
            Assert.Equal(1, impostor.Requests);
        }
    }

    /// <summary>A Kestrel https server presenting <c>certificate</c> that answers 200 to anything and counts requests.</summary>
    private sealed class Impostor : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _requests;

        private Impostor(WebApplication app) => _app = app;

        public Uri Url { get; private set; } = null!;

        public int Requests => Volatile.Read(ref _requests);

        public static async Task<Impostor> StartAsync(X509Certificate2 certificate)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate)));
            var app = builder.Build();
            var impostor = new Impostor(app);
            app.Run(async context =>
            {
                Interlocked.Increment(ref impostor._requests);
                await context.Response.WriteAsync("{}");
            });
            await app.StartAsync();
            var address = app.Urls.First();
            impostor.Url = new Uri(address.Replace("http://", "https://", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
            return impostor;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
