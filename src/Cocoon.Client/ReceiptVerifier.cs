using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Cocoon.Abstractions.Receipts;
using NSec.Cryptography;

namespace Cocoon.Client;

/// <summary>The checks of a receipt, in order; a failed verification names the first that failed.</summary>
public enum ReceiptCheck
{
    /// <summary>The receipt does not parse (<see cref="InferenceReceipt.Parse"/>).</summary>
    Format,

    /// <summary>The Ed25519 signature does not verify under the receipt's worker key.</summary>
    Signature,

    /// <summary>The response given is not the one the receipt's response hash covers.</summary>
    Response,

    /// <summary>The worker's attestation could not be fetched, or its RA-TLS certificate/quote does not verify.</summary>
    WorkerAttestation,

    /// <summary>The worker's attested claims do not carry the receipt's key (<c>receipt-key</c>).</summary>
    KeyBinding,
}

/// <summary>What <see cref="ReceiptVerifier"/> found.</summary>
public sealed record ReceiptVerificationResult
{
    /// <summary>Every check passed.</summary>
    public bool IsValid => FailedCheck is null;

    /// <summary>The first failed check, or null.</summary>
    public ReceiptCheck? FailedCheck { get; init; }

    /// <summary>What was found, in one line.</summary>
    public required string Message { get; init; }

    /// <summary>The receipt, once parsed.</summary>
    public InferenceReceipt? Receipt { get; init; }

    /// <summary>Whether the response was compared (a response was given).</summary>
    public bool ResponseChecked { get; init; }

    /// <summary>The worker's attestation, once checked.</summary>
    public GatewayAttestationResult? Attestation { get; init; }

    internal static ReceiptVerificationResult Fail(ReceiptCheck check, string message, InferenceReceipt? receipt = null, GatewayAttestationResult? attestation = null) =>
        new() { FailedCheck = check, Message = message, Receipt = receipt, Attestation = attestation };
}

/// <summary>
/// Checks a worker's receipt: its signature; optionally that it covers the response the client received; and that the
/// signing key is the one the worker's attested RA-TLS claims carry (its certificate, quote and policy verified with
/// <see cref="GatewayAttestation.Verify"/>, so a receipt from a worker outside the allowed images, or signed by any
/// other key, fails). Simulated (devnet) quotes pass only with <see cref="GatewayAttestationOptions.Devnet"/>.
/// </summary>
public static class ReceiptVerifier
{
    /// <summary>Whether the signature verifies under the receipt's own worker key (no attestation).</summary>
    public static bool SignatureIsValid(InferenceReceipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        try
        {
            return PublicKey.TryImport(SignatureAlgorithm.Ed25519, receipt.WorkerKeyBytes(), KeyBlobFormat.RawPublicKey, out var key) && key is not null
                && SignatureAlgorithm.Ed25519.Verify(key, receipt.SignedBytes(), receipt.SignatureBytes());
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// Fetches the worker's attestation from the gateway (<c>GET /v1/attestation/workers/{id}</c>) and verifies the
    /// receipt against it and, when given, against the response hash (<see cref="ResponseHashOf"/>).
    /// </summary>
    public static async Task<ReceiptVerificationResult> VerifyAsync(Uri gateway, InferenceReceipt receipt, GatewayAttestationOptions? options = null,
        string? responseHash = null, HttpClient? http = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        ArgumentNullException.ThrowIfNull(receipt);

        // The offline checks first: a receipt that fails them needs no round trip.
        if (OfflineFailure(receipt, responseHash) is { } offline)
        {
            return offline;
        }

        var own = http is null;
        http ??= new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            string document;
            try
            {
                using var response = await http.GetAsync(new Uri(gateway, "/v1/attestation/workers/" + Uri.EscapeDataString(receipt.WorkerId)), cancellationToken).ConfigureAwait(false);
                var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    return ReceiptVerificationResult.Fail(ReceiptCheck.WorkerAttestation, $"{gateway} has no attestation for worker '{receipt.WorkerId}' ({(int)response.StatusCode}).", receipt);
                }

                document = body;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                return ReceiptVerificationResult.Fail(ReceiptCheck.WorkerAttestation, $"{gateway}: {e.Message}", receipt);
            }

            return Verify(receipt, document, options, responseHash);
        }
        finally
        {
            if (own)
            {
                http.Dispose();
            }
        }
    }

    /// <summary>
    /// Verifies <paramref name="receipt"/> against the worker attestation answer <paramref name="workerAttestationJson"/>
    /// (the JSON <c>GET /v1/attestation/workers/{id}</c> serves).
    /// </summary>
    public static ReceiptVerificationResult Verify(InferenceReceipt receipt, string workerAttestationJson, GatewayAttestationOptions? options = null, string? responseHash = null)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        ArgumentNullException.ThrowIfNull(workerAttestationJson);
        if (OfflineFailure(receipt, responseHash) is { } offline)
        {
            return offline;
        }

        string? publishedKey;
        GatewayAttestationDocument? document;
        try
        {
            using var json = JsonDocument.Parse(workerAttestationJson);
            var root = json.RootElement;
            publishedKey = root.TryGetProperty("receipt_key", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;
            document = root.TryGetProperty("attestation", out var a) && a.ValueKind == JsonValueKind.Object
                ? GatewayAttestationDocument.Parse(Encoding.UTF8.GetBytes(a.GetRawText()))
                : null;
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            return ReceiptVerificationResult.Fail(ReceiptCheck.WorkerAttestation, "the worker attestation answer is malformed: " + e.Message, receipt);
        }

        if (document is null)
        {
            return ReceiptVerificationResult.Fail(ReceiptCheck.WorkerAttestation, $"worker '{receipt.WorkerId}' runs without attestation: nothing binds its key to an attested image", receipt);
        }

        var attestation = GatewayAttestation.Verify(document, presented: null, options);
        if (!attestation.IsValid)
        {
            return ReceiptVerificationResult.Fail(ReceiptCheck.WorkerAttestation, $"worker '{receipt.WorkerId}': {attestation.Message}", receipt, attestation);
        }

        var attestedKey = attestation.Claims?["receipt-key"];
        if (!string.Equals(attestedKey, receipt.WorkerKey, StringComparison.OrdinalIgnoreCase))
        {
            return ReceiptVerificationResult.Fail(ReceiptCheck.KeyBinding,
                $"the receipt is signed by {receipt.WorkerKey}, but worker '{receipt.WorkerId}' attests the key {attestedKey ?? "(none)"}", receipt, attestation);
        }

        if (publishedKey is not null && !string.Equals(publishedKey, attestedKey, StringComparison.OrdinalIgnoreCase))
        {
            return ReceiptVerificationResult.Fail(ReceiptCheck.KeyBinding, $"the published key {publishedKey} is not the attested {attestedKey}", receipt, attestation);
        }

        return new ReceiptVerificationResult
        {
            Message = $"valid: signed by worker '{receipt.WorkerId}' with its attested key ({attestation.Message})"
                      + (responseHash is null ? "; response not compared" : "; the response matches"),
            Receipt = receipt,
            ResponseChecked = responseHash is not null,
            Attestation = attestation,
        };
    }

    private static ReceiptVerificationResult? OfflineFailure(InferenceReceipt receipt, string? responseHash)
    {
        if (!SignatureIsValid(receipt))
        {
            return ReceiptVerificationResult.Fail(ReceiptCheck.Signature, $"the signature does not verify under the receipt's worker key {receipt.WorkerKey}", receipt);
        }

        if (responseHash is not null && !string.Equals(responseHash, receipt.ResponseHash, StringComparison.OrdinalIgnoreCase))
        {
            return ReceiptVerificationResult.Fail(ReceiptCheck.Response, $"the response hashes to {responseHash}; the receipt covers {receipt.ResponseHash}", receipt);
        }

        return null;
    }

    /// <summary>
    /// The response hash of an OpenAI-format answer as the client received it: embeddings (float arrays or base64),
    /// a chat completion's message content, or a completion's text. For a stream, hash the concatenated text with
    /// <see cref="ReceiptHashes.GenerationResponse"/>.
    /// </summary>
    /// <exception cref="FormatException">Not an embeddings list, chat completion or completion.</exception>
    public static string ResponseHashOf(JsonElement response)
    {
        if (response.ValueKind != JsonValueKind.Object || !response.TryGetProperty("object", out var kind) || kind.ValueKind != JsonValueKind.String)
        {
            throw new FormatException("Not an OpenAI response object (no 'object').");
        }

        try
        {
            return HashOf(response, kind.GetString()!);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or ArgumentException)
        {
            throw new FormatException($"A malformed '{kind.GetString()}' response: {e.Message}", e);
        }
    }

    private static string HashOf(JsonElement response, string kind)
    {
        switch (kind)
        {
            case "list":
                var vectors = new List<float[]>();
                foreach (var item in response.GetProperty("data").EnumerateArray())
                {
                    var embedding = item.GetProperty("embedding");
                    vectors.Add(embedding.ValueKind == JsonValueKind.String ? FromBase64(embedding.GetString()!) : [.. embedding.EnumerateArray().Select(v => v.GetSingle())]);
                }

                return ReceiptHashes.EmbeddingsResponse(vectors);
            case "chat.completion":
                return ReceiptHashes.GenerationResponse(response.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString() ?? "");
            case "text_completion":
                return ReceiptHashes.GenerationResponse(response.GetProperty("choices")[0].GetProperty("text").GetString() ?? "");
            default:
                throw new FormatException($"'{kind}' responses carry no receipt.");
        }
    }

    private static float[] FromBase64(string base64)
    {
        var bytes = Convert.FromBase64String(base64);
        if (bytes.Length % 4 != 0)
        {
            throw new FormatException("A base64 embedding is float32 values: a multiple of 4 bytes.");
        }

        var values = new float[bytes.Length / 4];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
        }

        return values;
    }
}
