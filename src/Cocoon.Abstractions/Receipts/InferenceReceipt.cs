using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Cocoon.Abstractions.Receipts;

/// <summary>
/// What a worker signs for every request it served (DESIGN section 6, receipts): hashes of the request it ran and of
/// the output it produced, the model it loaded, the usage and the price, signed with the worker's receipt key, an
/// Ed25519 key generated inside the worker whose public half is in the worker's RA-TLS claims (<c>receipt-key</c>), so
/// the quote binds it to the attested image. It carries hashes only: no prompt and no output.
/// </summary>
/// <remarks>
/// Signed bytes (<see cref="SignedBytes"/>): the ASCII tag <c>cocoon-receipt-v1</c>, then every field in declaration
/// order, strings as a 4-byte big-endian length and UTF-8, integers as 8-byte big-endian two's complement, hashes and
/// the key as their 32 raw bytes. The wire form (<see cref="Encode"/>): base64url (no padding) of the JSON object
/// <see cref="ToJson"/> writes, with snake_case names and hex hashes, key and signature.
/// </remarks>
[GenerateSerializer, Immutable, Alias("cocoon.receipts.InferenceReceipt")]
public sealed record InferenceReceipt
{
    /// <summary>The signed form's tag.</summary>
    public const string Tag = "cocoon-receipt-v1";

    /// <summary>The longest encoded receipt <see cref="Parse"/> accepts.</summary>
    public const int MaxEncodedLength = 8192;

    /// <summary>The format version (1).</summary>
    [Id(0)] public int Version { get; init; } = 1;

    /// <summary>The worker that served the request.</summary>
    [Id(1)] public required string WorkerId { get; init; }

    /// <summary>The model name.</summary>
    [Id(2)] public required string Model { get; init; }

    /// <summary>The model's manifest hash the worker loaded (hex).</summary>
    [Id(3)] public required string ModelHash { get; init; }

    /// <summary><c>embeddings</c> or <c>generation</c>.</summary>
    [Id(4)] public required string Kind { get; init; }

    /// <summary>SHA-256 of the request as the worker ran it (<see cref="ReceiptHashes"/>), hex.</summary>
    [Id(5)] public required string RequestHash { get; init; }

    /// <summary>SHA-256 of the output (<see cref="ReceiptHashes"/>), hex.</summary>
    [Id(6)] public required string ResponseHash { get; init; }

    /// <summary>Prompt (input) tokens.</summary>
    [Id(7)] public long PromptTokens { get; init; }

    /// <summary>Completion tokens (0 for embeddings).</summary>
    [Id(8)] public long CompletionTokens { get; init; }

    /// <summary>The worker's coefficient (1000 = 1.0x).</summary>
    [Id(9)] public long Coefficient { get; init; }

    /// <summary>nanoTON per adjusted token.</summary>
    [Id(10)] public long PricePerToken { get; init; }

    /// <summary>Adjusted tokens (DESIGN section 5).</summary>
    [Id(11)] public long AdjustedTokens { get; init; }

    /// <summary>The cost in nanoTON: adjusted tokens times the price per token.</summary>
    [Id(12)] public long CostNanoTon { get; init; }

    /// <summary>When it was signed, Unix seconds.</summary>
    [Id(13)] public long IssuedAt { get; init; }

    /// <summary>The worker's receipt key (Ed25519 public key, hex).</summary>
    [Id(14)] public required string WorkerKey { get; init; }

    /// <summary>The Ed25519 signature over <see cref="SignedBytes"/>, hex; empty before signing.</summary>
    [Id(15)] public string Signature { get; init; } = "";

    /// <summary>The bytes the signature covers.</summary>
    /// <exception cref="FormatException">A hash or the key is not 32 bytes of hex.</exception>
    public byte[] SignedBytes()
    {
        using var stream = new MemoryStream();
        stream.Write(Encoding.ASCII.GetBytes(Tag));
        WriteInt(stream, Version);
        WriteString(stream, WorkerId);
        WriteString(stream, Model);
        WriteString(stream, ModelHash);
        WriteString(stream, Kind);
        stream.Write(Hash32(RequestHash, "request_hash"));
        stream.Write(Hash32(ResponseHash, "response_hash"));
        foreach (var value in new[] { PromptTokens, CompletionTokens, Coefficient, PricePerToken, AdjustedTokens, CostNanoTon, IssuedAt })
        {
            WriteInt(stream, value);
        }

        stream.Write(Hash32(WorkerKey, "worker_key"));
        return stream.ToArray();
    }

    /// <summary>The JSON object (snake_case) the gateway returns as <c>cocoon_receipt</c>.</summary>
    public void ToJson(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteNumber("version", Version);
        writer.WriteString("worker_id", WorkerId);
        writer.WriteString("model", Model);
        writer.WriteString("model_hash", ModelHash);
        writer.WriteString("kind", Kind);
        writer.WriteString("request_hash", RequestHash);
        writer.WriteString("response_hash", ResponseHash);
        writer.WriteNumber("prompt_tokens", PromptTokens);
        writer.WriteNumber("completion_tokens", CompletionTokens);
        writer.WriteNumber("coefficient", Coefficient);
        writer.WriteNumber("price_per_token", PricePerToken);
        writer.WriteNumber("adjusted_tokens", AdjustedTokens);
        writer.WriteNumber("cost_nanoton", CostNanoTon);
        writer.WriteNumber("issued_at", IssuedAt);
        writer.WriteString("worker_key", WorkerKey);
        writer.WriteString("signature", Signature);
        writer.WriteEndObject();
    }

    /// <summary>The JSON object as UTF-8.</summary>
    public byte[] ToJsonBytes()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            ToJson(writer);
        }

        return buffer.ToArray();
    }

    /// <summary>The wire form: base64url of the JSON (the <c>Cocoon-Receipt</c> header).</summary>
    public string Encode() => Base64Url.EncodeToString(ToJsonBytes());

    /// <summary>
    /// Reads a receipt from its wire form (base64url) or its JSON object (as in a response body or a file).
    /// </summary>
    /// <exception cref="FormatException">Not a receipt: names what is wrong.</exception>
    public static InferenceReceipt Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        if (text.Length == 0 || text.Length > MaxEncodedLength)
        {
            throw new FormatException($"A receipt is 1 to {MaxEncodedLength} characters; this is {text.Length}.");
        }

        byte[] json;
        if (text[0] == '{')
        {
            json = Encoding.UTF8.GetBytes(text);
        }
        else
        {
            try
            {
                json = Base64Url.DecodeFromChars(text);
            }
            catch (FormatException e)
            {
                throw new FormatException("The receipt is neither a JSON object nor base64url: " + e.Message, e);
            }
        }

        // System.Text.Json finds bad UTF-8 inside a string only when the string is read (an InvalidOperationException
        // there): found by fuzzing (tests/Cocoon.Gateway.Fuzz, target 'receipt').
        if (!System.Text.Unicode.Utf8.IsValid(json))
        {
            throw new FormatException("The receipt's JSON is not valid UTF-8.");
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            return FromJson(document.RootElement);
        }
        catch (JsonException e)
        {
            throw new FormatException("The receipt is not valid JSON: " + e.Message, e);
        }
    }

    /// <summary>As <see cref="Parse"/>, without throwing: false and the reason when <paramref name="text"/> is not a receipt.</summary>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out InferenceReceipt? receipt, out string? error)
    {
        receipt = null;
        error = null;
        if (text is null)
        {
            error = "No receipt.";
            return false;
        }

        try
        {
            receipt = Parse(text);
            return true;
        }
        catch (FormatException e)
        {
            error = e.Message;
            return false;
        }
    }

    /// <summary>Reads the JSON object <see cref="ToJson"/> writes.</summary>
    /// <exception cref="FormatException">A field is missing, of the wrong type, or malformed.</exception>
    public static InferenceReceipt FromJson(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("A receipt is a JSON object.");
        }

        var version = Number(e, "version");
        if (version != 1)
        {
            throw new FormatException($"Receipt version {version} is not supported (1 is).");
        }

        var receipt = new InferenceReceipt
        {
            Version = 1,
            WorkerId = Text(e, "worker_id"),
            Model = Text(e, "model"),
            ModelHash = Text(e, "model_hash"),
            Kind = Text(e, "kind"),
            RequestHash = Text(e, "request_hash"),
            ResponseHash = Text(e, "response_hash"),
            PromptTokens = Number(e, "prompt_tokens"),
            CompletionTokens = Number(e, "completion_tokens"),
            Coefficient = Number(e, "coefficient"),
            PricePerToken = Number(e, "price_per_token"),
            AdjustedTokens = Number(e, "adjusted_tokens"),
            CostNanoTon = Number(e, "cost_nanoton"),
            IssuedAt = Number(e, "issued_at"),
            WorkerKey = Text(e, "worker_key"),
            Signature = Text(e, "signature"),
        };
        if (receipt.Signature.Length != 128 || !IsHex(receipt.Signature))
        {
            throw new FormatException("signature: 64 bytes of hex expected.");
        }

        _ = receipt.SignedBytes(); // hashes and key are 32 bytes of hex
        return receipt;
    }

    /// <summary>The signature's bytes.</summary>
    public byte[] SignatureBytes() => Convert.FromHexString(Signature);

    /// <summary>The worker key's bytes.</summary>
    public byte[] WorkerKeyBytes() => Hash32(WorkerKey, "worker_key");

    private static byte[] Hash32(string hex, string field) =>
        hex.Length == 64 && IsHex(hex) ? Convert.FromHexString(hex) : throw new FormatException($"{field}: 32 bytes of hex expected.");

    private static bool IsHex(string s) => s.All(char.IsAsciiHexDigit);

    private static string Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new FormatException($"{name}: a string is required.");

    private static long Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : throw new FormatException($"{name}: an integer is required.");

    private static void WriteInt(Stream stream, long value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(b, value);
        stream.Write(b);
    }

    private static void WriteString(Stream stream, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b, bytes.Length);
        stream.Write(b);
        stream.Write(bytes);
    }
}

/// <summary>
/// The hashes a receipt carries, computed the same way by the worker and by a verifier. Request hashes cover what the
/// worker ran; response hashes cover what the client received, so a client recomputes them from its response.
/// </summary>
public static class ReceiptHashes
{
    /// <summary>Embeddings request: the model, the truncate flag and each input (length-prefixed UTF-8), in order.</summary>
    public static string EmbeddingsRequest(string model, IReadOnlyList<string> inputs, bool truncate)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Append(hash, "embeddings");
        Append(hash, model);
        Append(hash, truncate ? "truncate" : "");
        foreach (var input in inputs)
        {
            Append(hash, input);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Embeddings response: every vector's float32 values, little-endian, in order.</summary>
    public static string EmbeddingsResponse(IReadOnlyList<float[]> vectors)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> b = stackalloc byte[4];
        foreach (var vector in vectors)
        {
            BinaryPrimitives.WriteInt32LittleEndian(b, vector.Length);
            hash.AppendData(b);
            foreach (var value in vector)
            {
                BinaryPrimitives.WriteSingleLittleEndian(b, value);
                hash.AppendData(b);
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Generation request: the model, the prompt as the worker ran it (chat template applied) and the sampling parameters.</summary>
    public static string GenerationRequest(string model, string prompt, string parameters)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Append(hash, "generation");
        Append(hash, model);
        Append(hash, prompt);
        Append(hash, parameters);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Generation response: the UTF-8 of the whole generated text.</summary>
    public static string GenerationResponse(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static void Append(IncrementalHash hash, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
        hash.AppendData(length);
        hash.AppendData(bytes);
    }
}
