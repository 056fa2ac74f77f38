using System.Text.Json;
using Cocoon.Abstractions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Cocoon.Gateway;

/// <summary>Reads a JSON request body strictly: bounded size, valid UTF-8, a JSON object.</summary>
internal static class RequestBody
{
    /// <summary>The largest body the gateway accepts (OpenAI's own request limit is of this order).</summary>
    public const long MaxBytes = 8L * 1024 * 1024;

    private static readonly JsonDocumentOptions Options = new()
    {
        MaxDepth = 16,
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,

        // A key given twice would let one part of a pipeline read the first value and another the last.
        AllowDuplicateProperties = false,
    };

    public static async Task<JsonDocument> ReadObjectAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxBytes)
        {
            throw TooLarge();
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBytes;
        }

        using var buffer = new MemoryStream();
        try
        {
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge();
        }

        if (buffer.Length > MaxBytes)
        {
            throw TooLarge();
        }

        return ParseObject(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
    }

    /// <summary>The body's bytes as a JSON object, or a 400 saying what is wrong (also the fuzz targets' entry point).</summary>
    public static JsonDocument ParseObject(ReadOnlyMemory<byte> body)
    {
        // Checked up front: System.Text.Json only notices bad UTF-8 inside strings when they are read, later.
        if (!System.Text.Unicode.Utf8.IsValid(body.Span))
        {
            throw new CocoonApiException(400, "invalid_utf8", "The request body is not valid UTF-8.");
        }

        JsonDocument document;
        try
        {
            // System.Text.Json validates UTF-8 as it parses: invalid bytes are a JsonException here.
            document = JsonDocument.Parse(body, Options);
        }
        catch (JsonException e)
        {
            throw new CocoonApiException(400, "invalid_json",
                $"The request body is not valid UTF-8 JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new CocoonApiException(400, "invalid_json", "The request body must be a JSON object.");
        }

        return document;
    }

    private static CocoonApiException TooLarge() =>
        new(413, "request_too_large", $"The request body is larger than the {MaxBytes / (1024 * 1024)} MiB limit.");
}
