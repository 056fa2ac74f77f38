using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Cocoon.Gateway;

/// <summary><c>POST /v1/completions</c> (OpenAI's legacy completions), request and response (plain and streamed).</summary>
internal static class CompletionsEndpoint
{
    /// <summary>OpenAI's default <c>max_tokens</c> for completions.</summary>
    public const int DefaultMaxTokens = 16;

    private static readonly HashSet<string> Known = [.. GenerationParameters.Shared, "prompt", "echo", "logprobs", "best_of", "suffix"];

    /// <summary>The responses' shape.</summary>
    public static readonly GenerationFlavor Flavor = new("cmpl-", "text_completion", "text_completion", Chat: false);

    public static ParsedGeneration Parse(JsonElement root)
    {
        GenerationParameters.RequireKnown(root, Known);
        GenerationParameters.Unsupported(root, "echo", v => v.ValueKind == JsonValueKind.False, "the prompt is not echoed.");
        GenerationParameters.Unsupported(root, "logprobs", _ => false, "log probabilities are not returned.");
        GenerationParameters.Unsupported(root, "best_of", v => v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var b) && b == 1, "one candidate per request.");
        GenerationParameters.Unsupported(root, "suffix", _ => false, "insertion is not supported.");
        var maxTokens = GenerationParameters.Integer(root, "max_tokens", 1, int.MaxValue) ?? DefaultMaxTokens;
        return GenerationParameters.Parse(root, maxTokens, messages: null, Prompt(root));
    }

    // A string, or an array holding one string; several prompts (several choices) and token ids are refused.
    private static string Prompt(JsonElement root)
    {
        if (!root.TryGetProperty("prompt", out var prompt) || prompt.ValueKind == JsonValueKind.Null)
        {
            throw GenerationParameters.Invalid("You must provide a prompt parameter.", "prompt", "missing_required_parameter");
        }

        if (prompt.ValueKind == JsonValueKind.String)
        {
            return prompt.GetString()!;
        }

        if (prompt.ValueKind == JsonValueKind.Array)
        {
            var count = prompt.GetArrayLength();
            if (count > 0 && prompt[0].ValueKind is JsonValueKind.Number or JsonValueKind.Array)
            {
                throw GenerationParameters.Invalid("'prompt' as token ids is not supported: send text.", "prompt", "unsupported_value");
            }

            if (count != 1)
            {
                throw GenerationParameters.Invalid("'prompt' must hold exactly one string: one choice per request.", "prompt", "unsupported_value");
            }

            if (prompt[0].ValueKind == JsonValueKind.String)
            {
                return prompt[0].GetString()!;
            }
        }

        throw GenerationParameters.Invalid("'prompt' must be a string.", "prompt", "invalid_type");
    }

    public static Task HandleAsync(HttpContext context, IGrainFactory grains, string apiKey) =>
        GenerationEndpoint.HandleAsync(context, grains, apiKey, Flavor, Parse);
}
