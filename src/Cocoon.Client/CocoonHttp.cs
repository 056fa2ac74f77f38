using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cocoon.Attestation.RaTls;
using Cocoon.Attestation.Verification;

namespace Cocoon.Client;

/// <summary>A gateway failed verification; nothing but the TLS handshake (and at most the attestation fetch) reached it.</summary>
public sealed class GatewayAttestationException : Exception
{
    public GatewayAttestationException()
        : base("the gateway did not attest")
    {
    }

    public GatewayAttestationException(string message)
        : base(message)
    {
    }

    public GatewayAttestationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a failed check.</summary>
    public GatewayAttestationException(GatewayAttestationResult result)
        : base((result ?? throw new ArgumentNullException(nameof(result))).Message) => Result = result;

    /// <summary>The failed check, when there is one.</summary>
    public GatewayAttestationResult? Result { get; }
}

/// <summary>
/// HTTP clients for app backends that send prompts to a Cocoon gateway over the OpenAI HTTP API (directly or through
/// the OpenAI .NET SDK with <c>HttpClientPipelineTransport</c>) and must know what they talk to before anything is
/// sent. The check runs inside every TLS handshake: the certificate the server presents must be an RA-TLS certificate
/// whose REPORTDATA binds its key and claims, whose quote verifies (simulated quotes only with
/// <see cref="GatewayAttestationOptions.Devnet"/>, under <see cref="GatewayAttestationOptions.SimulatedRoot"/>) and which
/// satisfies <see cref="GatewayAttestationOptions.Policy"/>. A server that fails aborts the handshake, so it never
/// receives a request line, a header or a body; a connection opened after the gateway rotated its certificate is
/// checked again. Only https: over plain http nothing ties the connection to the attested key.
/// </summary>
public static class CocoonHttp
{
    /// <summary>
    /// Verifies the gateway at <paramref name="gateway"/> (https), then returns an <see cref="HttpClient"/> whose base
    /// address is the gateway and whose every connection is verified as described on <see cref="CocoonHttp"/>. The
    /// first verification fetches <c>GET /v1/attestation</c> over a verified connection and checks the document is the
    /// presented certificate's (quote, claims, image hash, simulated flag).
    /// </summary>
    /// <param name="gateway">The gateway's base URL, https.</param>
    /// <param name="options">
    /// What to accept. In Devnet without <see cref="GatewayAttestationOptions.SimulatedRoot"/> the root the gateway
    /// publishes is used (trust on first use, fetched over an unverified connection: a devnet convenience only).
    /// </param>
    /// <param name="cancellationToken">Cancels the verification.</param>
    /// <exception cref="GatewayAttestationException">The gateway does not attest as required; nothing was sent to it.</exception>
    /// <exception cref="ArgumentException">The URL is not https.</exception>
    public static async Task<HttpClient> CreateVerifiedHttpClientAsync(Uri gateway, GatewayAttestationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        ArgumentNullException.ThrowIfNull(options);
        if (gateway.Scheme != Uri.UriSchemeHttps)
        {
            throw new ArgumentException($"{gateway} is not https: over plain http nothing binds the connection to the attested key.", nameof(gateway));
        }

        X509Certificate2? publishedRoot = null;
        if (options.Devnet && options.SimulatedRoot is null)
        {
            var first = await GatewayAttestation.FetchAsync(gateway, options, cancellationToken).ConfigureAwait(false);
            if (!first.IsValid || first.Document?.SimulatedRootPem is not { } pem)
            {
                throw new GatewayAttestationException(first.IsValid
                    ? GatewayAttestationResult.Fail(GatewayAttestationStep.Document, "the devnet gateway publishes no simulated root; pass GatewayAttestationOptions.SimulatedRoot", first.Document)
                    : first);
            }

            publishedRoot = X509Certificate2.CreateFromPem(pem);
            options = options with { SimulatedRoot = publishedRoot };
        }

        var handler = CreateVerifiedHandler(options);
        var client = new HttpClient(handler, disposeHandler: true) { BaseAddress = gateway };
        try
        {
            using var response = await client.GetAsync(new Uri(gateway, "/v1/attestation"), cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new GatewayAttestationException(GatewayAttestationResult.Fail(GatewayAttestationStep.Fetch, $"{gateway} answered {(int)response.StatusCode} to /v1/attestation"));
            }

            GatewayAttestationDocument document;
            try
            {
                document = GatewayAttestationDocument.Parse(body);
            }
            catch (FormatException e)
            {
                throw new GatewayAttestationException(GatewayAttestationResult.Fail(GatewayAttestationStep.Document, e.Message));
            }

            using var presented = handler.LastPresented();
            var result = GatewayAttestation.Verify(document, presented, options);
            if (!result.IsValid)
            {
                throw new GatewayAttestationException(result);
            }

            return client;
        }
        catch (HttpRequestException e) when (handler.LastRefusal is { } refusal)
        {
            client.Dispose();
            throw new GatewayAttestationException(refusal, e);
        }
        catch
        {
            client.Dispose();
            throw;
        }
        finally
        {
            publishedRoot?.Dispose();
        }
    }

    /// <summary>
    /// A handler that verifies every TLS connection's certificate before the handshake completes (see
    /// <see cref="CocoonHttp"/>); for callers that build their own <see cref="HttpClient"/>. Devnet needs
    /// <see cref="GatewayAttestationOptions.SimulatedRoot"/> here.
    /// </summary>
    public static VerifyingHttpHandler CreateVerifiedHandler(GatewayAttestationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Devnet && options.SimulatedRoot is null)
        {
            throw new ArgumentException("Devnet verification needs GatewayAttestationOptions.SimulatedRoot (or use CreateVerifiedHttpClientAsync).", nameof(options));
        }

        return new VerifyingHttpHandler(options);
    }
}

/// <summary>
/// A <see cref="DelegatingHandler"/> over a <see cref="SocketsHttpHandler"/> whose TLS callback admits only servers
/// whose RA-TLS certificate validates (<see cref="CocoonHttp"/>). Verdicts are cached per certificate until the
/// certificate expires; a refused certificate is refused again at the next connection.
/// </summary>
public sealed class VerifyingHttpHandler : DelegatingHandler
{
    private const int MaxCached = 64;
    private readonly RaTlsCertificateValidator _validator;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _accepted = new(StringComparer.Ordinal);
    private byte[]? _lastPresented;
    private string? _lastRefusal;

    internal VerifyingHttpHandler(GatewayAttestationOptions options)
    {
        _time = options.TimeProvider;
        var verifier = new QuoteVerifier(new QuoteVerifierOptions
        {
            Mode = options.Devnet ? AttestationMode.Devnet : AttestationMode.Production,
            TimeProvider = options.TimeProvider,
            SimulatedRoot = options.Devnet ? options.SimulatedRoot : null,
        });
        _validator = new RaTlsCertificateValidator(verifier, options.Policy, options.Collateral);
        InnerHandler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = Check },
        };
    }

    /// <summary>Why the last refused server was refused, or null.</summary>
    public string? LastRefusal => Volatile.Read(ref _lastRefusal);

    /// <summary>How many certificates were checked in full (not from the cache), for tests and diagnostics.</summary>
    public int Validations { get; private set; }

    /// <inheritdoc />
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.RequestUri is { } uri && uri.IsAbsoluteUri && uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new HttpRequestException($"refusing to send to {uri.GetLeftPart(UriPartial.Authority)}: only https connections can be verified");
        }

        return base.SendAsync(request, cancellationToken);
    }

    /// <summary>The certificate the last verified connection presented (a copy), or null.</summary>
    internal X509Certificate2? LastPresented() =>
        Volatile.Read(ref _lastPresented) is { } raw ? X509CertificateLoader.LoadCertificate(raw) : null;

    private bool Check(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            Volatile.Write(ref _lastRefusal, "the server presented no certificate");
            return false;
        }

        var raw = certificate.GetRawCertData();
        var key = Convert.ToHexStringLower(SHA256.HashData(raw));
        if (_accepted.TryGetValue(key, out var notAfter) && _time.GetUtcNow() <= notAfter)
        {
            Volatile.Write(ref _lastPresented, raw);
            return true;
        }

        using var copy = X509CertificateLoader.LoadCertificate(raw);
        var result = _validator.Validate(copy);
        Validations++;
        if (!result.IsValid)
        {
            _accepted.TryRemove(key, out _);
            Volatile.Write(ref _lastRefusal, "the server's certificate does not attest: " + result.Message);
            return false;
        }

        if (_accepted.Count >= MaxCached)
        {
            _accepted.Clear();
        }

        _accepted[key] = new DateTimeOffset(copy.NotAfter.ToUniversalTime());
        Volatile.Write(ref _lastPresented, raw);
        return true;
    }
}
