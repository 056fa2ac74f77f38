using System.Text.Json;
using Cocoon.Abstractions;
using Microsoft.AspNetCore.Http;

namespace Cocoon.Gateway;

/// <summary>OpenAI's error object: <c>{"error": {"message", "type", "param", "code"}}</c> with the matching status.</summary>
public static class OpenAiErrors
{
    /// <summary>Writes an error response.</summary>
    public static async Task WriteAsync(HttpContext context, int status, string code, string message, string? param = null, string? type = null)
    {
        var error = new CocoonApiException(status, code, message, param, type);
        await WriteAsync(context, error);
    }

    /// <summary>Writes <paramref name="error"/> as a response.</summary>
    public static async Task WriteAsync(HttpContext context, CocoonApiException error)
    {
        if (context.Response.HasStarted)
        {
            return;
        }

        context.Response.StatusCode = error.Status;
        context.Response.ContentType = "application/json";
        if (error.RetryAfterSeconds is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (error.Status == StatusCodes.Status503ServiceUnavailable)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        await using var writer = new Utf8JsonWriter(context.Response.Body, JsonWriting.Options);
        WriteErrorObject(writer, error);
        await writer.FlushAsync(context.RequestAborted);
    }

    /// <summary>Writes OpenAI's error object, <c>{"error": {message, type, param, code}}</c>, for a response body or an SSE event.</summary>
    internal static void WriteErrorObject(Utf8JsonWriter writer, CocoonApiException error)
    {
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", error.Message);
        writer.WriteString("type", error.Type);
        if (error.Param is null)
        {
            writer.WriteNull("param");
        }
        else
        {
            writer.WriteString("param", error.Param);
        }

        writer.WriteString("code", error.Code);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
