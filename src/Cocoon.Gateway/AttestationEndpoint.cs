using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.Quotes;
using Cocoon.Attestation.RaTls;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Gateway;

/// <summary>
/// What the gateway attests with: the node's RA-TLS certificate rotator, its mode and whether its quotes are simulated.
/// The host registers one in the gateway's services; without one, <c>GET /v1/attestation</c> answers 503.
/// </summary>
public sealed class GatewayAttestationSource
{
    /// <param name="rotator">Holds the current RA-TLS certificate (quote and claims in its extensions).</param>
    /// <param name="mode">The node's mode, e.g. <c>Devnet</c> or <c>Production</c>.</param>
    /// <param name="simulatedRoot">The simulated authority's root for a devnet node; null for real TDX quotes.</param>
    public GatewayAttestationSource(RaTlsCertificateRotator rotator, string mode, X509Certificate2? simulatedRoot)
    {
        Rotator = rotator;
        Mode = mode;
        SimulatedRoot = simulatedRoot;
    }

    /// <summary>The certificate rotator; TLS presents its current certificate.</summary>
    public RaTlsCertificateRotator Rotator { get; }

    /// <summary>The node's mode.</summary>
    public string Mode { get; }

    /// <summary>The devnet authority's root (public); null for real quotes.</summary>
    public X509Certificate2? SimulatedRoot { get; }

    /// <summary>True when the quotes come from the simulated (devnet) provider.</summary>
    public bool IsSimulated => SimulatedRoot is not null;
}

/// <summary>
/// <c>GET /v1/attestation</c>: the gateway's current RA-TLS certificate (PEM), the quote and claims it carries, the
/// image hash of the quote's measurements, whether the quote is simulated, and the node's mode. No API key: anyone
/// may check what they are about to talk to. Clients verify it with <c>Cocoon.Client.GatewayAttestation</c>.
/// </summary>
internal static class AttestationEndpoint
{
    public static async Task HandleAsync(HttpContext context)
    {
        var source = context.RequestServices.GetService<GatewayAttestationSource>();
        if (source is null)
        {
            await OpenAiErrors.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "not_attested",
                "This gateway is not attested (Cocoon:Attestation:Provider=None): it has no quote to show.", type: "server_error");
            return;
        }

        var certificate = await source.Rotator.GetCertificateAsync(context.RequestAborted);
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        await using var writer = new Utf8JsonWriter(context.Response.Body, JsonWriting.Options);
        AttestationDocument.Write(writer, certificate, source.Mode, source.SimulatedRoot);
        await writer.FlushAsync(context.RequestAborted);
    }

    /// <summary>
    /// <c>GET /v1/attestation/workers/{workerId}</c>: the receipt key and attestation document a worker published (its
    /// RA-TLS certificate carries the key in its claims), so a client can check a receipt back to the worker's quote.
    /// </summary>
    public static async Task HandleWorkerAsync(HttpContext context, IGrainFactory grains, string workerId)
    {
        if (workerId.Length is 0 or > 256)
        {
            await OpenAiErrors.WriteAsync(context, StatusCodes.Status400BadRequest, "invalid_worker", "A worker id is 1 to 256 characters.", param: "worker");
            return;
        }

        var published = await grains.GetGrain<Cocoon.Abstractions.Workers.IWorkerLeaseGrain>(workerId).GetAttestationAsync();
        if (published is null)
        {
            await OpenAiErrors.WriteAsync(context, StatusCodes.Status404NotFound, "worker_not_found", $"No worker '{workerId}' has published a receipt key.", param: "worker");
            return;
        }

        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        await using var writer = new Utf8JsonWriter(context.Response.Body, JsonWriting.Options);
        writer.WriteStartObject();
        writer.WriteString("object", "cocoon.worker_attestation");
        writer.WriteString("worker_id", workerId);
        writer.WriteString("receipt_key", published.ReceiptKey);
        if (published.Document.Length > 0)
        {
            writer.WritePropertyName("attestation");
            writer.WriteRawValue(published.Document, skipInputValidation: false);
        }
        else
        {
            writer.WriteNull("attestation");
        }

        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }
}

/// <summary>The attestation document <c>GET /v1/attestation</c> serves, for any RA-TLS certificate.</summary>
public static class AttestationDocument
{
    /// <summary>The document of <paramref name="certificate"/> as JSON text.</summary>
    public static string Json(X509Certificate2 certificate, string mode, X509Certificate2? simulatedRoot)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, JsonWriting.Options))
        {
            Write(writer, certificate, mode, simulatedRoot);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Writes the document: mode, simulated, image hash, quote, claims, certificate PEM, expiry, simulated root.</summary>
    public static void Write(Utf8JsonWriter writer, X509Certificate2 certificate, string mode, X509Certificate2? simulatedRoot)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(certificate);
        var quote = ReadOctetString(certificate.Extensions[RaTlsOids.Quote]!.RawData);
        var claimsBytes = ReadOctetString(certificate.Extensions[RaTlsOids.Claims]!.RawData);
        var claims = RaTlsClaims.Parse(claimsBytes);
        var imageHash = TdxQuote.TryParse(quote, out var parsed, out _) ? Convert.ToHexStringLower(ImageHash.Compute(parsed!.Body)) : null;
        writer.WriteStartObject();
        writer.WriteString("object", "cocoon.attestation");
        writer.WriteString("mode", mode);
        writer.WriteBoolean("simulated", simulatedRoot is not null);
        writer.WriteString("image_hash", imageHash);
        writer.WriteString("quote", Convert.ToBase64String(quote));
        writer.WriteStartObject("claims");
        foreach (var (key, value) in claims.Values)
        {
            writer.WriteString(key, value);
        }

        writer.WriteEndObject();
        writer.WriteString("claims_base64", Convert.ToBase64String(claimsBytes));
        writer.WriteString("certificate", certificate.ExportCertificatePem());
        writer.WriteString("not_after", new DateTimeOffset(certificate.NotAfter.ToUniversalTime()).ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        if (simulatedRoot is { } root)
        {
            writer.WriteString("simulated_root", root.ExportCertificatePem());
        }

        writer.WriteEndObject();
    }

    private static byte[] ReadOctetString(byte[] der)
    {
        var reader = new AsnReader(der, AsnEncodingRules.DER);
        return reader.ReadOctetString();
    }
}
