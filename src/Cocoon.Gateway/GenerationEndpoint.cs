using System.Text;
using System.Text.Json;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Inference;
using Microsoft.AspNetCore.Http;

namespace Cocoon.Gateway;

/// <summary>How chat and completions differ on the wire: id prefix, object names, and the choice's shape.</summary>
/// <param name="IdPrefix"><c>chatcmpl-</c> or <c>cmpl-</c>.</param>
/// <param name="Object">The object of a whole response.</param>
/// <param name="ChunkObject">The object of a streamed chunk.</param>
/// <param name="Chat">Chat choices carry a <c>message</c> or <c>delta</c>; completions a <c>text</c>.</param>
internal sealed record GenerationFlavor(string IdPrefix, string Object, string ChunkObject, bool Chat);

/// <summary>
/// Runs a chat or completions request through <see cref="IInferenceServiceGrain"/> and answers as OpenAI does: one JSON
/// object, or server-sent events (the role first for chat, the text as it comes, the finish reason, the usage when
/// <c>stream_options.include_usage</c> asks, then <c>[DONE]</c>). The client's disconnect cancels the stream, and the
/// service grain charges only the chunks the gateway had taken from it.
/// </summary>
internal static class GenerationEndpoint
{
    public static async Task HandleAsync(HttpContext context, IGrainFactory grains, string apiKey, GenerationFlavor flavor, Func<JsonElement, ParsedGeneration> parse)
    {
        // As for embeddings: a bad key wins over a bad body, and the happy path checks the key once (in the service grain).
        Authentication.RequirePresent(apiKey);
        ParsedGeneration parsed;
        try
        {
            using var body = await RequestBody.ReadObjectAsync(context);
            parsed = parse(body.RootElement);
        }
        catch (CocoonApiException)
        {
            await Authentication.RequireAsync(grains, apiKey);
            throw;
        }

        var aborted = context.RequestAborted;
        var service = grains.GetGrain<IInferenceServiceGrain>(0);
        // One chunk per call: the service grain counts a chunk as delivered when the gateway asks for the next one, which
        // it does only after writing the previous; a batch would run ahead of what the client was sent.
        var stream = (flavor.Chat ? service.ChatAsync(apiKey, parsed.Request, aborted) : service.CompleteAsync(apiKey, parsed.Request, aborted))
            .WithBatchSize(1);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (parsed.Stream)
        {
            await StreamAsync(context, flavor, parsed, stream, created);
        }
        else
        {
            await AnswerAsync(context, flavor, parsed, stream, created);
        }
    }

    private static async Task AnswerAsync(HttpContext context, GenerationFlavor flavor, ParsedGeneration parsed, IAsyncEnumerable<PaidGenerationChunk> stream, long created)
    {
        var text = new StringBuilder();
        string? finishReason = null;
        string? requestId = null;
        GenerationUsage? usage = null;
        Cocoon.Abstractions.Receipts.InferenceReceipt? receipt = null;
        await foreach (var chunk in stream.WithCancellation(context.RequestAborted))
        {
            requestId ??= chunk.RequestId;
            text.Append(chunk.Text);
            finishReason ??= chunk.FinishReason;
            usage ??= chunk.Usage;
            receipt ??= chunk.Receipt;
        }

        if (usage is null || finishReason is null)
        {
            throw new CocoonApiException(500, "inference_failed", "The generation ended without its usage.");
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        Receipts.AddHeader(context, receipt);
        await using var writer = new Utf8JsonWriter(context.Response.Body, JsonWriting.Options);
        writer.WriteStartObject();
        WriteHeader(writer, flavor, flavor.Object, requestId ?? usage.RequestId, created, parsed.Request.Model);
        writer.WriteStartArray("choices");
        writer.WriteStartObject();
        writer.WriteNumber("index", 0);
        if (flavor.Chat)
        {
            writer.WriteStartObject("message");
            writer.WriteString("role", "assistant");
            writer.WriteString("content", text.ToString());
            writer.WriteNull("refusal");
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteString("text", text.ToString());
        }

        writer.WriteNull("logprobs");
        writer.WriteString("finish_reason", finishReason);
        writer.WriteEndObject();
        writer.WriteEndArray();
        WriteUsage(writer, usage);
        Receipts.WriteField(writer, receipt);
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }

    private static async Task StreamAsync(HttpContext context, GenerationFlavor flavor, ParsedGeneration parsed, IAsyncEnumerable<PaidGenerationChunk> stream, long created)
    {
        var sse = new SseWriter(context);
        var aborted = context.RequestAborted;
        var model = parsed.Request.Model;
        string? id = null;
        try
        {
            await foreach (var chunk in stream.WithCancellation(aborted))
            {
                if (chunk.Usage is { } usage)
                {
                    if (parsed.IncludeUsage)
                    {
                        await sse.WriteAsync(w =>
                        {
                            w.WriteStartObject();
                            WriteHeader(w, flavor, flavor.ChunkObject, id ?? usage.RequestId, created, model);
                            w.WriteStartArray("choices");
                            w.WriteEndArray();
                            WriteUsage(w, usage);
                            w.WriteEndObject();
                        }, aborted);
                    }

                    continue;
                }

                if (id is null)
                {
                    id = chunk.RequestId ?? "";
                    if (flavor.Chat)
                    {
                        // OpenAI's first chat chunk names the role, with empty content.
                        await sse.WriteAsync(w => WriteChunk(w, flavor, id, created, model, parsed.IncludeUsage, role: true, "", null), aborted);
                    }
                }

                if (chunk.Text.Length > 0)
                {
                    await sse.WriteAsync(w => WriteChunk(w, flavor, id, created, model, parsed.IncludeUsage, role: false, chunk.Text, null), aborted);
                }

                if (chunk.FinishReason is { } finish)
                {
                    // The finishing chunk carries the worker's receipt over the whole text.
                    await sse.WriteAsync(w => WriteChunk(w, flavor, id, created, model, parsed.IncludeUsage, role: false, null, finish, chunk.Receipt), aborted);
                }
            }

            await sse.DoneAsync(aborted);
        }
        catch (CocoonApiException e) when (sse.Started)
        {
            // Headers are gone: the error goes as an event, as OpenAI sends one mid-stream, and the stream ends without [DONE].
            await sse.WriteAsync(w => WriteError(w, e), aborted);
        }
        catch (Exception e) when (sse.Started && e is OrleansException or TimeoutException)
        {
            await sse.WriteAsync(w => WriteError(w, new CocoonApiException(503, "cluster_unavailable", "The Cocoon cluster did not answer; retry shortly.")), aborted);
        }
    }

    private static void WriteChunk(Utf8JsonWriter writer, GenerationFlavor flavor, string id, long created, string model, bool includeUsage, bool role, string? text, string? finishReason,
        Cocoon.Abstractions.Receipts.InferenceReceipt? receipt = null)
    {
        writer.WriteStartObject();
        WriteHeader(writer, flavor, flavor.ChunkObject, id, created, model);
        writer.WriteStartArray("choices");
        writer.WriteStartObject();
        writer.WriteNumber("index", 0);
        if (flavor.Chat)
        {
            writer.WriteStartObject("delta");
            if (role)
            {
                writer.WriteString("role", "assistant");
            }

            if (text is not null)
            {
                writer.WriteString("content", text);
            }

            writer.WriteEndObject();
        }
        else
        {
            writer.WriteString("text", text ?? "");
        }

        writer.WriteNull("logprobs");
        if (finishReason is null)
        {
            writer.WriteNull("finish_reason");
        }
        else
        {
            writer.WriteString("finish_reason", finishReason);
        }

        writer.WriteEndObject();
        writer.WriteEndArray();
        if (includeUsage)
        {
            // OpenAI: with include_usage every other chunk carries "usage": null.
            writer.WriteNull("usage");
        }

        Receipts.WriteField(writer, receipt);
        writer.WriteEndObject();
    }

    private static void WriteHeader(Utf8JsonWriter writer, GenerationFlavor flavor, string objectName, string requestId, long created, string model)
    {
        // The escrow's request id ("req_" + 32 hex digits) under OpenAI's prefix, so a client's id finds its charge.
        writer.WriteString("id", flavor.IdPrefix + (requestId.StartsWith("req_", StringComparison.Ordinal) ? requestId[4..] : requestId));
        writer.WriteString("object", objectName);
        writer.WriteNumber("created", created);
        writer.WriteString("model", model);
        writer.WriteNull("system_fingerprint");
    }

    private static void WriteUsage(Utf8JsonWriter writer, GenerationUsage usage)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("prompt_tokens", usage.PromptTokens);
        writer.WriteNumber("completion_tokens", usage.CompletionTokens);
        writer.WriteNumber("total_tokens", usage.PromptTokens + usage.CompletionTokens);
        writer.WriteStartObject("prompt_tokens_details");
        writer.WriteNumber("cached_tokens", usage.CachedTokens);
        writer.WriteEndObject();
        writer.WriteStartObject("completion_tokens_details");
        writer.WriteNumber("reasoning_tokens", usage.ReasoningTokens);
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteStartObject("cocoon");
        writer.WriteString("request_id", usage.RequestId);
        writer.WriteString("worker", usage.WorkerId);
        writer.WriteNumber("cost_nanoton", usage.CostNanoTon);
        writer.WriteNumber("available_nanoton", usage.AvailableNanoTon);
        writer.WriteNumber("attempts", usage.Attempts);
        writer.WriteEndObject();
    }

    private static void WriteError(Utf8JsonWriter writer, CocoonApiException error) => OpenAiErrors.WriteErrorObject(writer, error);
}
