using System.Text;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Receipts;
using Cocoon.Attestation.RaTls;

namespace Cocoon.Gateway.Fuzz;

/// <summary>
/// What a network peer can feed the gateway, each with its contract: a request body parses or is refused with a 4xx
/// <see cref="CocoonApiException"/> (never another exception: that would be a 500 or a crashed request); a receipt
/// parses, or is a <see cref="FormatException"/>, and a parsed one writes and reads back to itself. Shared by the fuzz
/// executable and the corpus replay test in Cocoon.Gateway.Tests.
/// </summary>
public static class GatewayFuzzTargets
{
    /// <summary>The targets by name.</summary>
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
    {
        ["body"] = Body,
        ["receipt"] = Receipt,
        ["claims"] = Claims,
    };

    /// <summary>The first byte picks the endpoint (embeddings, chat, completions); the rest is the body.</summary>
    public static void Body(byte[] data)
    {
        if (data.Length == 0)
        {
            return;
        }

        try
        {
            using var document = RequestBody.ParseObject(data.AsMemory(1));
            var root = document.RootElement;
            _ = (data[0] % 3) switch
            {
                0 => (object)EmbeddingsEndpoint.Parse(root),
                1 => ChatCompletionsEndpoint.Parse(root),
                _ => CompletionsEndpoint.Parse(root),
            };
        }
        catch (CocoonApiException e) when (e.Status is >= 400 and < 500)
        {
            // The documented refusal: the client gets it as an OpenAI error object.
        }
    }

    /// <summary>A receipt as <c>cocoon receipts verify</c> and <c>Cocoon.Client</c> read it.</summary>
    public static void Receipt(byte[] data)
    {
        InferenceReceipt receipt;
        try
        {
            receipt = InferenceReceipt.Parse(Encoding.UTF8.GetString(data));
        }
        catch (FormatException)
        {
            return;
        }

        _ = receipt.SignedBytes();
        if (InferenceReceipt.Parse(receipt.Encode()) != receipt)
        {
            throw new InvalidOperationException("A parsed receipt does not read back to itself.");
        }
    }

    /// <summary>RA-TLS claims as a peer's certificate carries them (silo TLS, the gateway's and workers' attestation).</summary>
    public static void Claims(byte[] data)
    {
        RaTlsClaims claims;
        try
        {
            claims = RaTlsClaims.Parse(data);
        }
        catch (FormatException)
        {
            return;
        }

        if (!claims.ToCanonicalBytes().AsSpan().SequenceEqual(data))
        {
            throw new InvalidOperationException("Parsed claims are not the canonical bytes they came from.");
        }
    }
}
