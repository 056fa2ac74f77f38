using System.Text.Json;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Inference;

namespace Cocoon.Gateway;

/// <summary>A validated chat or completions request: what goes to the cluster, and how to answer.</summary>
/// <param name="Request">The generation request.</param>
/// <param name="Stream">Answer with server-sent events.</param>
/// <param name="IncludeUsage"><c>stream_options.include_usage</c>: a last event with the usage.</param>
internal sealed record ParsedGeneration(GenerationRequest Request, bool Stream, bool IncludeUsage);

/// <summary>
/// The request fields chat and completions share, parsed strictly as <see cref="EmbeddingsEndpoint"/> does: every field is
/// known or refused naming it (<c>unknown_parameter</c>, or <c>unsupported_parameter</c> for OpenAI fields this gateway does
/// not implement), types and ranges are OpenAI's.
/// </summary>
internal static class GenerationParameters
{
    /// <summary>The fields both endpoints read.</summary>
    public static readonly string[] Shared =
    [
        "model", "max_tokens", "temperature", "top_p", "top_k", "n", "stream", "stream_options", "stop",
        "frequency_penalty", "presence_penalty", "seed", "user", "max_coefficient", "logit_bias",
    ];

    /// <summary>Refuses fields outside <paramref name="known"/>.</summary>
    public static void RequireKnown(JsonElement root, HashSet<string> known)
    {
        foreach (var property in root.EnumerateObject())
        {
            if (!known.Contains(property.Name))
            {
                throw Invalid($"Unrecognized request argument supplied: {property.Name}", property.Name, "unknown_parameter");
            }
        }
    }

    /// <summary>Reads the shared fields; <paramref name="maxTokens"/> is the completion budget field the endpoint chose.</summary>
    public static ParsedGeneration Parse(JsonElement root, int? maxTokens, IReadOnlyList<ChatMessage>? messages, string? prompt)
    {
        var model = root.TryGetProperty("model", out var m) ? m : default;
        if (model.ValueKind == JsonValueKind.Undefined)
        {
            throw Invalid("You must provide a model parameter.", "model", "missing_required_parameter");
        }

        if (model.ValueKind != JsonValueKind.String || model.GetString() is not { Length: > 0 and <= 256 } modelName)
        {
            throw Invalid("'model' must be a non-empty string of at most 256 characters.", "model", "invalid_type");
        }

        var n = Integer(root, "n", 1, int.MaxValue);
        if (n is not (null or 1))
        {
            throw Invalid("Only n=1 is supported: one choice per request.", "n", "unsupported_value");
        }

        if (root.TryGetProperty("logit_bias", out var bias) && bias.ValueKind != JsonValueKind.Null
            && !(bias.ValueKind == JsonValueKind.Object && !bias.EnumerateObject().Any()))
        {
            throw Invalid("'logit_bias' is not supported.", "logit_bias", "unsupported_parameter");
        }

        var stream = Boolean(root, "stream") ?? false;
        var includeUsage = false;
        if (root.TryGetProperty("stream_options", out var options) && options.ValueKind != JsonValueKind.Null)
        {
            if (!stream)
            {
                throw Invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options", "invalid_value");
            }

            if (options.ValueKind != JsonValueKind.Object)
            {
                throw Invalid("'stream_options' must be an object.", "stream_options", "invalid_type");
            }

            foreach (var option in options.EnumerateObject())
            {
                if (option.Name != "include_usage")
                {
                    throw Invalid($"Unrecognized stream option: {option.Name}", "stream_options", "unknown_parameter");
                }
            }

            includeUsage = Boolean(options, "include_usage", "stream_options.include_usage") ?? false;
        }

        if (root.TryGetProperty("user", out var user) && user.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            throw Invalid("'user' must be a string.", "user", "invalid_type");
        }

        var temperature = Number(root, "temperature", 0, 2) ?? 1f;
        var topP = Number(root, "top_p", 0, 1) ?? 1f;
        if (topP == 0)
        {
            // The smallest nucleus holds only the most likely token: greedy decoding.
            (temperature, topP) = (0f, 1f);
        }

        // Not an OpenAI field (vLLM's): -1 or 0 for no limit.
        var topK = Integer(root, "top_k", -1, int.MaxValue) ?? 0;
        long? seed = null;
        if (root.TryGetProperty("seed", out var s) && s.ValueKind != JsonValueKind.Null)
        {
            seed = s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out var value)
                ? value
                : throw Invalid("'seed' must be an integer.", "seed", "invalid_type");
        }

        long? maxCoefficient = null;
        if (root.TryGetProperty("max_coefficient", out var mc) && mc.ValueKind != JsonValueKind.Null)
        {
            maxCoefficient = mc.ValueKind == JsonValueKind.Number && mc.TryGetInt64(out var value) && value >= 1
                ? value
                : throw Invalid("'max_coefficient' must be an integer of at least 1 (1000 = 1.0x).", "max_coefficient", "invalid_value");
        }

        var request = new GenerationRequest
        {
            Model = modelName,
            Messages = messages,
            Prompt = prompt,
            MaxTokens = maxTokens,
            Temperature = temperature,
            TopP = topP,
            TopK = Math.Max(topK, 0),
            Seed = seed,
            Stop = Stop(root),
            FrequencyPenalty = Number(root, "frequency_penalty", -2, 2) ?? 0f,
            PresencePenalty = Number(root, "presence_penalty", -2, 2) ?? 0f,
            MaxCoefficient = maxCoefficient,
        };
        return new ParsedGeneration(request, stream, includeUsage);
    }

    /// <summary>An integer field of at least <paramref name="min"/>; null when absent or null.</summary>
    public static int? Integer(JsonElement root, string name, int min, int max)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number))
        {
            throw Invalid($"'{name}' must be an integer.", name, "invalid_type");
        }

        return number >= min && number <= max
            ? (int)number
            : throw Invalid($"'{name}' must be an integer between {min} and {max}; it is {number}.", name, "invalid_value");
    }

    /// <summary>A boolean field; null when absent or null.</summary>
    public static bool? Boolean(JsonElement root, string name, string? param = null) =>
        !root.TryGetProperty(name, out var value) ? null : value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null => null,
            _ => throw Invalid($"'{param ?? name}' must be a boolean.", param ?? name, "invalid_type"),
        };

    /// <summary>Refuses <paramref name="name"/> unless it is absent, null or <paramref name="allowed"/>.</summary>
    public static void Unsupported(JsonElement root, string name, Func<JsonElement, bool> allowed, string why)
    {
        if (root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null && !allowed(value))
        {
            throw Invalid($"'{name}' is not supported: {why}", name, "unsupported_parameter");
        }
    }

    private static float? Number(JsonElement root, string name, float min, float max)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number))
        {
            throw Invalid($"'{name}' must be a number.", name, "invalid_type");
        }

        return number >= min && number <= max
            ? (float)number
            : throw Invalid($"'{name}' must be between {min} and {max}; it is {number}.", name, "invalid_value");
    }

    private static List<string> Stop(JsonElement root)
    {
        if (!root.TryGetProperty("stop", out var stop) || stop.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (stop.ValueKind == JsonValueKind.String)
        {
            var single = stop.GetString()!;
            return single.Length == 0 ? throw Invalid("'stop' must not be empty.", "stop", "invalid_value") : [single];
        }

        if (stop.ValueKind != JsonValueKind.Array)
        {
            throw Invalid("'stop' must be a string or an array of strings.", "stop", "invalid_type");
        }

        if (stop.GetArrayLength() > GenerationRequest.MaxStopSequences)
        {
            throw Invalid($"'stop' may hold at most {GenerationRequest.MaxStopSequences} sequences.", "stop", "invalid_value");
        }

        var list = new List<string>(stop.GetArrayLength());
        foreach (var item in stop.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                throw Invalid("'stop' must be a string or an array of strings.", "stop", "invalid_type");
            }

            var text = item.GetString()!;
            list.Add(text.Length == 0 ? throw Invalid("'stop' sequences must not be empty.", "stop", "invalid_value") : text);
        }

        return list;
    }

    public static CocoonApiException Invalid(string message, string param, string code) => new(400, code, message, param);
}
