using System.Formats.Asn1;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.RaTls;
using Cocoon.Attestation.Verification;

namespace Cocoon.Client;

/// <summary>The steps of checking a gateway's attestation, in order; a failed check names the first that failed.</summary>
public enum GatewayAttestationStep
{
    /// <summary><c>GET /v1/attestation</c> did not answer 200 (unreachable, TLS error, not attested).</summary>
    Fetch,

    /// <summary>The answer is not a well-formed attestation document.</summary>
    Document,

    /// <summary>
    /// The RA-TLS certificate does not validate: format, self-signature, validity, REPORTDATA binding of key and
    /// claims, quote verification or policy; <see cref="GatewayAttestationResult.VerificationStep"/> says which.
    /// </summary>
    Certificate,

    /// <summary>The document's quote, claims or image hash are not the ones the certificate carries.</summary>
    DocumentMismatch,

    /// <summary>Over https: the certificate the server presented in TLS is not the attested one.</summary>
    PresentedCertificate,
}

/// <summary>What <see cref="GatewayAttestation"/> checks against.</summary>
public sealed record GatewayAttestationOptions
{
    /// <summary>
    /// Accept simulated (devnet) quotes. False by default: only genuine Intel-signed TDX quotes pass. A simulated
    /// quote proves nothing about the machine; use this only with a devnet you run yourself.
    /// </summary>
    public bool Devnet { get; init; }

    /// <summary>
    /// The devnet authority's root to check simulated quotes against. Null: the root the gateway publishes with the
    /// document is used, which only shows the document is self-consistent (a devnet convenience, not security).
    /// </summary>
    public X509Certificate2? SimulatedRoot { get; init; }

    /// <summary>Allowed image hashes, measurements, debug and TCB requirements.</summary>
    public AttestationPolicy Policy { get; init; } = new();

    /// <summary>The clock certificates and quotes are checked at.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Collateral for the gateway's platform (e.g. <c>CollateralStore.Load(path).Find</c>); with it the TCB status is
    /// evaluated and <see cref="AttestationPolicy.MinimumTcbStatus"/> can be enforced. Null: checked up to the quote signature.
    /// </summary>
    public Func<Cocoon.Attestation.Quotes.TdxQuote, Cocoon.Attestation.Collateral.QuoteCollateral?>? Collateral { get; init; }
}

/// <summary>The attestation document of <c>GET /v1/attestation</c>, as read from the wire.</summary>
public sealed record GatewayAttestationDocument
{
    /// <summary>The node's mode (<c>Devnet</c> or <c>Production</c>), as the node says.</summary>
    public string? Mode { get; init; }

    /// <summary>Whether the node says its quotes are simulated.</summary>
    public bool Simulated { get; init; }

    /// <summary>The image hash (hex) as the node states it.</summary>
    public string? ImageHash { get; init; }

    /// <summary>The raw quote.</summary>
    public required byte[] Quote { get; init; }

    /// <summary>The canonical claims bytes.</summary>
    public required byte[] Claims { get; init; }

    /// <summary>The RA-TLS certificate, PEM.</summary>
    public required string CertificatePem { get; init; }

    /// <summary>The devnet authority's root, PEM, when the node publishes one.</summary>
    public string? SimulatedRootPem { get; init; }

    /// <summary>Parses the JSON document; throws <see cref="FormatException"/> when it is malformed.</summary>
    public static GatewayAttestationDocument Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            return new GatewayAttestationDocument
            {
                Mode = root.TryGetProperty("mode", out var mode) ? mode.GetString() : null,
                Simulated = root.TryGetProperty("simulated", out var simulated) && simulated.GetBoolean(),
                ImageHash = root.TryGetProperty("image_hash", out var hash) ? hash.GetString() : null,
                Quote = Convert.FromBase64String(Required(root, "quote")),
                Claims = Convert.FromBase64String(Required(root, "claims_base64")),
                CertificatePem = Required(root, "certificate"),
                SimulatedRootPem = root.TryGetProperty("simulated_root", out var simulatedRoot) ? simulatedRoot.GetString() : null,
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new FormatException("not an attestation document: " + e.Message, e);
        }
    }

    private static string Required(JsonElement root, string name) =>
        root.GetProperty(name).GetString() ?? throw new FormatException($"'{name}' is null");
}

/// <summary>The outcome of checking a gateway's attestation.</summary>
public sealed record GatewayAttestationResult
{
    /// <summary>True when every step passed.</summary>
    public bool IsValid => FailedStep is null;

    /// <summary>The first failing step, or null.</summary>
    public GatewayAttestationStep? FailedStep { get; init; }

    /// <summary>Within <see cref="GatewayAttestationStep.Certificate"/>: the RA-TLS or quote verification step that failed.</summary>
    public VerificationStep? VerificationStep { get; init; }

    /// <summary>What failed and why, or a summary on success.</summary>
    public required string Message { get; init; }

    /// <summary>The document, once fetched and parsed.</summary>
    public GatewayAttestationDocument? Document { get; init; }

    /// <summary>The attested claims, once the certificate's claims parsed.</summary>
    public RaTlsClaims? Claims { get; init; }

    /// <summary>The image hash (hex) of the verified quote.</summary>
    public string? ImageHash { get; init; }

    /// <summary>True when the verified quote is simulated (accepted only with <see cref="GatewayAttestationOptions.Devnet"/>).</summary>
    public bool IsSimulated { get; init; }

    /// <summary>True when the attested certificate is the one the server presented in TLS (https only).</summary>
    public bool PresentedCertificateMatches { get; init; }

    internal static GatewayAttestationResult Fail(GatewayAttestationStep step, string message, GatewayAttestationDocument? document = null, VerificationStep? verificationStep = null, RaTlsClaims? claims = null) =>
        new() { FailedStep = step, VerificationStep = verificationStep, Message = step + ": " + message, Document = document, Claims = claims };
}

/// <summary>
/// Checks what a Cocoon gateway is before sending it prompts: fetches <c>GET /v1/attestation</c>, validates the RA-TLS
/// certificate (REPORTDATA = SHA-512(key ‖ claims), the quote with <see cref="QuoteVerifier"/> and an
/// <see cref="AttestationPolicy"/>), checks the document's quote and claims are the certificate's, and over https that
/// the server's TLS certificate is the attested one (so the TLS key lives in the attested TD).
/// </summary>
public static class GatewayAttestation
{
    /// <summary>Fetches and checks the attestation of the gateway at <paramref name="gateway"/> (its base URL).</summary>
    public static async Task<GatewayAttestationResult> FetchAsync(Uri gateway, GatewayAttestationOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new GatewayAttestationOptions();
        X509Certificate2? presented = null;
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                // RA-TLS certificates are self-signed by design: record what the server presents and accept it for
                // this one request; it is trusted only if it is byte for byte the certificate that validates below.
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    if (certificate is not null)
                    {
                        presented ??= X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                    }

                    return certificate is not null;
                },
            },
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        byte[] body;
        try
        {
            using var response = await http.GetAsync(new Uri(gateway, "/v1/attestation"), cancellationToken).ConfigureAwait(false);
            body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return GatewayAttestationResult.Fail(GatewayAttestationStep.Fetch, $"{gateway} answered {(int)response.StatusCode}: {Truncate(System.Text.Encoding.UTF8.GetString(body))}");
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return GatewayAttestationResult.Fail(GatewayAttestationStep.Fetch, $"{gateway}: {e.Message}");
        }

        try
        {
            GatewayAttestationDocument document;
            try
            {
                document = GatewayAttestationDocument.Parse(body);
            }
            catch (FormatException e)
            {
                return GatewayAttestationResult.Fail(GatewayAttestationStep.Document, e.Message);
            }

            if (gateway.Scheme == Uri.UriSchemeHttps && presented is null)
            {
                return GatewayAttestationResult.Fail(GatewayAttestationStep.PresentedCertificate, "the TLS connection presented no certificate", document);
            }

            return Verify(document, presented, options);
        }
        finally
        {
            presented?.Dispose();
        }
    }

    /// <summary>
    /// Checks a fetched document. <paramref name="presented"/> is the certificate the server presented in TLS; null
    /// when the document came over plain http (then nothing ties the connection to the attested key).
    /// </summary>
    public static GatewayAttestationResult Verify(GatewayAttestationDocument document, X509Certificate2? presented, GatewayAttestationOptions? options = null)
    {
        options ??= new GatewayAttestationOptions();
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPem(document.CertificatePem);
        }
        catch (CryptographicException e)
        {
            return GatewayAttestationResult.Fail(GatewayAttestationStep.Document, "certificate PEM does not decode: " + e.Message, document);
        }

        X509Certificate2? publishedRoot = null;
        try
        {
            if (options.Devnet && options.SimulatedRoot is null && document.SimulatedRootPem is { } rootPem)
            {
                try
                {
                    publishedRoot = X509Certificate2.CreateFromPem(rootPem);
                }
                catch (CryptographicException e)
                {
                    return GatewayAttestationResult.Fail(GatewayAttestationStep.Document, "simulated root PEM does not decode: " + e.Message, document);
                }
            }

            var verifier = new QuoteVerifier(new QuoteVerifierOptions
            {
                Mode = options.Devnet ? AttestationMode.Devnet : AttestationMode.Production,
                TimeProvider = options.TimeProvider,
                SimulatedRoot = options.Devnet ? options.SimulatedRoot ?? publishedRoot : null,
            });
            var validation = new RaTlsCertificateValidator(verifier, options.Policy, options.Collateral).Validate(certificate);
            if (!validation.IsValid)
            {
                return GatewayAttestationResult.Fail(GatewayAttestationStep.Certificate, validation.Message, document, validation.FailedStep, validation.Claims);
            }

            var quote = ReadExtension(certificate, RaTlsOids.Quote);
            var claims = ReadExtension(certificate, RaTlsOids.Claims);
            var imageHash = Convert.ToHexStringLower(ImageHash.Compute(validation.Quote!.Quote!.Body));
            if (!quote.AsSpan().SequenceEqual(document.Quote))
            {
                return GatewayAttestationResult.Fail(GatewayAttestationStep.DocumentMismatch, "the document's quote is not the certificate's", document, claims: validation.Claims);
            }

            if (!claims.AsSpan().SequenceEqual(document.Claims))
            {
                return GatewayAttestationResult.Fail(GatewayAttestationStep.DocumentMismatch, "the document's claims are not the certificate's", document, claims: validation.Claims);
            }

            if (document.ImageHash is { } stated && !string.Equals(stated, imageHash, StringComparison.OrdinalIgnoreCase))
            {
                return GatewayAttestationResult.Fail(GatewayAttestationStep.DocumentMismatch, $"the document states image hash {stated}, the quote measures {imageHash}", document, claims: validation.Claims);
            }

            if (document.Simulated != validation.Quote.IsSimulated)
            {
                return GatewayAttestationResult.Fail(GatewayAttestationStep.DocumentMismatch, $"the document says simulated={document.Simulated}, the quote is {(validation.Quote.IsSimulated ? "simulated" : "not simulated")}", document, claims: validation.Claims);
            }

            var matches = presented is not null && presented.RawData.AsSpan().SequenceEqual(certificate.RawData);
            if (presented is not null && !matches)
            {
                return GatewayAttestationResult.Fail(GatewayAttestationStep.PresentedCertificate,
                    $"the server's TLS certificate ({presented.Subject}, {presented.Thumbprint}) is not the attested RA-TLS certificate ({certificate.Thumbprint})", document, claims: validation.Claims);
            }

            return new GatewayAttestationResult
            {
                Message = (validation.Quote.IsSimulated ? "attested (SIMULATED quote, devnet only): " : "attested: ")
                    + $"image hash {imageHash}; " + (matches ? "the TLS certificate is the attested one" : "plain http: the connection itself is not bound to the attested key"),
                Document = document,
                Claims = validation.Claims,
                ImageHash = imageHash,
                IsSimulated = validation.Quote.IsSimulated,
                PresentedCertificateMatches = matches,
            };
        }
        finally
        {
            certificate.Dispose();
            publishedRoot?.Dispose();
        }
    }

    private static byte[] ReadExtension(X509Certificate2 certificate, string oid) =>
        new AsnReader(certificate.Extensions[oid]!.RawData, AsnEncodingRules.DER).ReadOctetString();

    private static string Truncate(string text) => text.Length <= 300 ? text : text[..300] + "...";
}
