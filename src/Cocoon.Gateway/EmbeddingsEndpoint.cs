using System.Runtime.InteropServices;
using System.Text.Json;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Inference;
using Microsoft.AspNetCore.Http;

namespace Cocoon.Gateway;

/// <summary><c>POST /v1/embeddings</c>, request and response as OpenAI defines them.</summary>
internal static class EmbeddingsEndpoint
{
    private static readonly HashSet<string> Known = ["input", "model", "encoding_format", "dimensions", "user", "truncate", "max_coefficient"];

    /// <summary>A validated request.</summary>
    internal sealed record Parsed(string Model, IReadOnlyList<string> Inputs, bool Base64, bool Truncate, long? MaxCoefficient);

    public static Parsed Parse(JsonElement root)
    {
        foreach (var property in root.EnumerateObject())
        {
            if (!Known.Contains(property.Name))
            {
                throw Invalid($"Unrecognized request argument supplied: {property.Name}", property.Name, "unknown_parameter");
            }
        }

        var model = root.TryGetProperty("model", out var m) ? m : default;
        if (model.ValueKind == JsonValueKind.Undefined)
        {
            throw Invalid("You must provide a model parameter.", "model", "missing_required_parameter");
        }

        if (model.ValueKind != JsonValueKind.String || model.GetString() is not { Length: > 0 and <= 256 } modelName)
        {
            throw Invalid("'model' must be a non-empty string of at most 256 characters.", "model", "invalid_type");
        }

        if (root.TryGetProperty("dimensions", out _))
        {
            throw Invalid($"'dimensions' is not supported: {modelName} returns vectors of its own fixed width.", "dimensions", "unsupported_parameter");
        }

        var base64 = false;
        if (root.TryGetProperty("encoding_format", out var format) && format.ValueKind != JsonValueKind.Null)
        {
            base64 = format.ValueKind == JsonValueKind.String ? format.GetString() switch
            {
                "float" => false,
                "base64" => true,
                _ => throw Invalid("'encoding_format' must be 'float' or 'base64'.", "encoding_format", "invalid_value"),
            } : throw Invalid("'encoding_format' must be 'float' or 'base64'.", "encoding_format", "invalid_type");
        }

        if (root.TryGetProperty("user", out var user) && user.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            throw Invalid("'user' must be a string.", "user", "invalid_type");
        }

        var truncate = false;
        if (root.TryGetProperty("truncate", out var t))
        {
            truncate = t.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False or JsonValueKind.Null => false,
                _ => throw Invalid("'truncate' must be a boolean.", "truncate", "invalid_type"),
            };
        }

        // COCOON's extra request field: the highest worker coefficient the caller will pay (1000 = 1.0x).
        long? maxCoefficient = null;
        if (root.TryGetProperty("max_coefficient", out var mc) && mc.ValueKind != JsonValueKind.Null)
        {
            maxCoefficient = mc.ValueKind == JsonValueKind.Number && mc.TryGetInt64(out var value) && value >= 1
                ? value
                : throw Invalid("'max_coefficient' must be an integer of at least 1 (1000 = 1.0x).", "max_coefficient", "invalid_value");
        }

        if (!root.TryGetProperty("input", out var input))
        {
            throw Invalid("You must provide an input parameter.", "input", "missing_required_parameter");
        }

        return new Parsed(modelName, ParseInputs(input), base64, truncate, maxCoefficient);
    }

    private static List<string> ParseInputs(JsonElement input)
    {
        switch (input.ValueKind)
        {
            case JsonValueKind.String:
                var single = input.GetString()!;
                return single.Length == 0 ? throw Invalid("'input' must not be empty.", "input", "empty_input") : [single];
            case JsonValueKind.Array:
                var count = input.GetArrayLength();
                if (count == 0)
                {
                    throw Invalid("'input' must not be an empty array.", "input", "empty_input");
                }

                if (count > EmbeddingRequest.MaxInputs)
                {
                    throw Invalid($"'input' may hold at most {EmbeddingRequest.MaxInputs} items; it has {count}.", "input", "too_many_inputs");
                }

                var inputs = new List<string>(count);
                var index = 0;
                foreach (var item in input.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.Number || (item.ValueKind == JsonValueKind.Array && index == 0))
                    {
                        throw Invalid("'input' as token ids is not supported: send text.", "input", "unsupported_input");
                    }

                    if (item.ValueKind != JsonValueKind.String)
                    {
                        throw Invalid($"'input[{index}]' must be a string.", "input", "invalid_type");
                    }

                    var text = item.GetString()!;
                    if (text.Length == 0)
                    {
                        throw Invalid($"'input[{index}]' must not be empty.", "input", "empty_input");
                    }

                    inputs.Add(text);
                    index++;
                }

                return inputs;
            default:
                throw Invalid("'input' must be a string or an array of strings.", "input", "invalid_type");
        }
    }

    public static async Task WriteAsync(HttpContext context, Parsed request, PaidEmbeddingResponse response)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        Receipts.AddHeader(context, response.Result.Receipt);
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.Body, JsonWriting.Options);
        writer.WriteStartObject();
        writer.WriteString("object", "list");
        writer.WriteStartArray("data");
        var vectors = response.Result.Vectors;
        for (var i = 0; i < vectors.Count; i++)
        {
            writer.WriteStartObject();
            writer.WriteString("object", "embedding");
            writer.WriteNumber("index", i);
            if (request.Base64)
            {
                // OpenAI's base64 format: the float32 values, little-endian, base64-encoded.
                writer.WriteBase64String("embedding", MemoryMarshal.AsBytes(vectors[i].AsSpan()));
            }
            else
            {
                writer.WriteStartArray("embedding");
                foreach (var value in vectors[i])
                {
                    writer.WriteNumberValue(value);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
            if (writer.BytesPending > 64 * 1024)
            {
                await writer.FlushAsync(context.RequestAborted);
            }
        }

        writer.WriteEndArray();
        writer.WriteString("model", request.Model);
        writer.WriteStartObject("usage");
        writer.WriteNumber("prompt_tokens", response.PromptTokens);
        writer.WriteNumber("total_tokens", response.PromptTokens);
        writer.WriteEndObject();
        writer.WriteStartObject("cocoon");
        writer.WriteString("request_id", response.RequestId);
        writer.WriteString("worker", response.Result.WorkerId);
        writer.WriteNumber("cost_nanoton", response.CostNanoTon);
        writer.WriteNumber("available_nanoton", response.AvailableNanoTon);
        writer.WriteNumber("attempts", response.Attempts);
        writer.WriteEndObject();
        Receipts.WriteField(writer, response.Result.Receipt);
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }

    private static CocoonApiException Invalid(string message, string param, string code) => new(400, code, message, param);
}
