using System.Text.Json;
using Cocoon.Abstractions.Receipts;
using Microsoft.AspNetCore.Http;

namespace Cocoon.Gateway;

/// <summary>
/// How the gateway hands out the worker's signed receipt: the <c>Cocoon-Receipt</c> response header (its wire form,
/// base64url) when the answer is not streamed, and the <c>cocoon_receipt</c> JSON field (the body of a non-streamed
/// answer, the last chunk of a stream). Hashes only: never a prompt or an output.
/// </summary>
internal static class Receipts
{
    /// <summary>The response header.</summary>
    public const string Header = "Cocoon-Receipt";

    /// <summary>The JSON field.</summary>
    public const string Field = "cocoon_receipt";

    public static void AddHeader(HttpContext context, InferenceReceipt? receipt)
    {
        if (receipt is not null)
        {
            context.Response.Headers[Header] = receipt.Encode();
        }
    }

    public static void WriteField(Utf8JsonWriter writer, InferenceReceipt? receipt)
    {
        if (receipt is not null)
        {
            writer.WritePropertyName(Field);
            receipt.ToJson(writer);
        }
    }
}
