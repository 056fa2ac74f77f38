using System.Text;
using System.Text.Json;
using Cocoon.Abstractions.Inference;
using Microsoft.AspNetCore.Http;

namespace Cocoon.Gateway;

/// <summary><c>POST /v1/chat/completions</c>, request and response (plain and streamed) as OpenAI defines them.</summary>
internal static class ChatCompletionsEndpoint
{
    private static readonly HashSet<string> Known =
    [
        .. GenerationParameters.Shared, "messages", "max_completion_tokens",
        // OpenAI fields refused unless they ask for nothing (see Parse).
        "logprobs", "top_logprobs", "response_format", "tools", "tool_choice", "functions", "function_call", "parallel_tool_calls",
        "store", "metadata", "service_tier", "modalities", "audio", "prediction", "reasoning_effort", "web_search_options",
    ];

    private static readonly HashSet<string> MessageFields = ["role", "content", "name"];

    /// <summary>The responses' shape.</summary>
    public static readonly GenerationFlavor Flavor = new("chatcmpl-", "chat.completion", "chat.completion.chunk", Chat: true);

    public static ParsedGeneration Parse(JsonElement root)
    {
        GenerationParameters.RequireKnown(root, Known);
        GenerationParameters.Unsupported(root, "logprobs", v => v.ValueKind == JsonValueKind.False, "log probabilities are not returned.");
        GenerationParameters.Unsupported(root, "top_logprobs", _ => false, "log probabilities are not returned.");
        GenerationParameters.Unsupported(root, "response_format",
            v => v.ValueKind == JsonValueKind.Object && v.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "text"
                 && v.EnumerateObject().Count() == 1,
            "only {\"type\": \"text\"}.");
        foreach (var name in new[] { "tools", "tool_choice", "functions", "function_call" })
        {
            GenerationParameters.Unsupported(root, name, v => v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0 || (name == "tool_choice" && v.ValueKind == JsonValueKind.String && v.GetString() == "none"),
                "tool calls are not supported.");
        }

        GenerationParameters.Unsupported(root, "parallel_tool_calls", v => v.ValueKind is JsonValueKind.True or JsonValueKind.False, "tool calls are not supported.");
        GenerationParameters.Unsupported(root, "store", v => v.ValueKind == JsonValueKind.False, "completions are never stored.");
        GenerationParameters.Unsupported(root, "metadata", _ => false, "completions are never stored.");
        GenerationParameters.Unsupported(root, "service_tier", v => v.ValueKind == JsonValueKind.String && v.GetString() is "auto" or "default", "only 'auto' or 'default'.");
        GenerationParameters.Unsupported(root, "modalities",
            v => v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String && x.GetString() == "text"), "only text.");
        foreach (var name in new[] { "audio", "prediction", "reasoning_effort", "web_search_options" })
        {
            GenerationParameters.Unsupported(root, name, _ => false, "the served models do not offer it.");
        }

        var maxTokens = GenerationParameters.Integer(root, "max_completion_tokens", 1, int.MaxValue)
                        ?? GenerationParameters.Integer(root, "max_tokens", 1, int.MaxValue);
        if (root.TryGetProperty("max_completion_tokens", out _))
        {
            // Both given: each must still be valid, and the newer field wins, as with OpenAI.
            GenerationParameters.Integer(root, "max_tokens", 1, int.MaxValue);
        }

        return GenerationParameters.Parse(root, maxTokens, Messages(root), prompt: null);
    }

    private static List<ChatMessage> Messages(JsonElement root)
    {
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind == JsonValueKind.Null)
        {
            throw GenerationParameters.Invalid("You must provide a messages parameter.", "messages", "missing_required_parameter");
        }

        if (messages.ValueKind != JsonValueKind.Array)
        {
            throw GenerationParameters.Invalid("'messages' must be an array of messages.", "messages", "invalid_type");
        }

        if (messages.GetArrayLength() == 0)
        {
            throw GenerationParameters.Invalid("'messages' must not be empty.", "messages", "invalid_value");
        }

        var list = new List<ChatMessage>(messages.GetArrayLength());
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var at = $"messages[{index}]";
            if (message.ValueKind != JsonValueKind.Object)
            {
                throw GenerationParameters.Invalid($"'{at}' must be an object.", "messages", "invalid_type");
            }

            foreach (var field in message.EnumerateObject())
            {
                if (!MessageFields.Contains(field.Name))
                {
                    throw GenerationParameters.Invalid($"'{at}.{field.Name}' is not supported.", "messages", "unsupported_parameter");
                }
            }

            if (message.TryGetProperty("name", out var name) && name.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
            {
                throw GenerationParameters.Invalid($"'{at}.name' must be a string.", "messages", "invalid_type");
            }

            var role = message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : null;
            role = role switch
            {
                null => throw GenerationParameters.Invalid($"'{at}.role' must be a string.", "messages", "invalid_type"),
                "system" or "user" or "assistant" => role,
                // OpenAI's newer name for system instructions.
                "developer" => "system",
                "tool" or "function" => throw GenerationParameters.Invalid($"'{at}.role' '{role}' is not supported: tool calls are not supported.", "messages", "unsupported_value"),
                _ => throw GenerationParameters.Invalid($"'{at}.role' must be one of system, developer, user, assistant.", "messages", "invalid_value"),
            };
            list.Add(new ChatMessage(role, Content(message, at)));
            index++;
        }

        return list;
    }

    // A string, or an array of text parts joined (OpenAI's content parts); other part types are refused.
    private static string Content(JsonElement message, string at)
    {
        if (!message.TryGetProperty("content", out var content))
        {
            throw GenerationParameters.Invalid($"'{at}.content' is required.", "messages", "missing_required_parameter");
        }

        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return content.GetString()!;
            case JsonValueKind.Array:
                var text = new StringBuilder();
                foreach (var part in content.EnumerateArray())
                {
                    if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                    {
                        throw GenerationParameters.Invalid($"'{at}.content' parts must be objects with a type.", "messages", "invalid_type");
                    }

                    if (type.GetString() != "text")
                    {
                        throw GenerationParameters.Invalid($"'{at}.content' part type '{type.GetString()}' is not supported: only text.", "messages", "unsupported_value");
                    }

                    if (!part.TryGetProperty("text", out var partText) || partText.ValueKind != JsonValueKind.String)
                    {
                        throw GenerationParameters.Invalid($"'{at}.content' text parts need a string 'text'.", "messages", "invalid_type");
                    }

                    text.Append(partText.GetString());
                }

                return text.ToString();
            default:
                throw GenerationParameters.Invalid($"'{at}.content' must be a string or an array of text parts.", "messages", "invalid_type");
        }
    }

    public static Task HandleAsync(HttpContext context, IGrainFactory grains, string apiKey) =>
        GenerationEndpoint.HandleAsync(context, grains, apiKey, Flavor, Parse);
}
