using System.Runtime.CompilerServices;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Inference;
using Cocoon.Abstractions.Receipts;
using Cocoon.Abstractions.Telemetry;
using Cocoon.Inference;
using Cocoon.Inference.Generation;

namespace Cocoon.Grains.Inference;

/// <summary>Text generation on this silo's engine; see <see cref="IInferenceHostGrain.GenerateAsync"/>.</summary>
public sealed partial class InferenceHostGrain
{
    /// <inheritdoc />
    public async IAsyncEnumerable<TextGenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (request.Model != _worker.Registration.Model || _worker.Generation is not { } engine)
        {
            throw new CocoonApiException(400, "model_not_served", $"Worker {_worker.WorkerId} does not generate text with {request.Model}.", "model");
        }

        var param = request.PromptParam;
        string prompt;
        int promptTokens;
        try
        {
            prompt = request.Messages is { } messages
                ? engine.ApplyChatTemplate([.. messages.Select(m => new ChatTurn(m.Role, m.Content))])
                : request.Prompt ?? throw new CocoonApiException(400, "missing_required_parameter", "You must provide a prompt parameter.", "prompt");
            promptTokens = engine.CountTokens(prompt);
        }
        catch (InferenceException e)
        {
            throw Refusal(e, param);
        }

        // OpenAI's check and wording: the prompt and the completion budget must fit the context.
        var maxTokens = request.MaxTokens ?? engine.ContextLength - promptTokens;
        if (maxTokens < 1 || (long)promptTokens + maxTokens > engine.ContextLength)
        {
            throw new CocoonApiException(400, InferenceErrorCodes.ContextLengthExceeded,
                $"This model's maximum context length is {engine.ContextLength} tokens. However, you requested "
                + $"{(long)promptTokens + Math.Max(maxTokens, 1)} tokens ({promptTokens} in the {param}, {Math.Max(maxTokens, 1)} in the completion). "
                + $"Please reduce the length of the {param} or completion.", param);
        }

        using var inference = CocoonTelemetry.StartInference(_worker.Registration.Model, _worker.WorkerId);

        // Nothing has run yet: the caller reserves the worst case now and asks for the next chunk to start generating.
        yield return new TextGenerationChunk("", promptTokens, 0, maxTokens, null);

        var options = new GenerationOptions
        {
            MaxTokens = maxTokens,
            Temperature = request.Temperature,
            TopP = request.TopP,
            TopK = request.TopK,
            Seed = request.Seed,
            Stop = request.Stop,
            FrequencyPenalty = request.FrequencyPenalty,
            PresencePenalty = request.PresencePenalty,
        };

        // The receipt covers the prompt as run, the sampling parameters and, once finished, the whole text.
        var requestHash = ReceiptHashes.GenerationRequest(request.Model, prompt, ParametersOf(options));
        var text = new System.Text.StringBuilder();

        // Disposing this enumerator (the caller went away, or cancelled) disposes the engine's, which frees the slot.
        var stream = engine.GenerateAsync(prompt, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using (stream.ConfigureAwait(true))
        {
            while (true)
            {
                GenerationChunk chunk;
                try
                {
                    if (!await stream.MoveNextAsync())
                    {
                        yield break;
                    }

                    chunk = stream.Current;
                }
                catch (InferenceException e)
                {
                    throw Refusal(e, param);
                }

                text.Append(chunk.Text);
                var receipt = chunk.FinishReason is null ? null
                    : Receipt("generation", request.Coefficient, requestHash, ReceiptHashes.GenerationResponse(text.ToString()), chunk.PromptTokens, chunk.CompletionTokens);
                yield return new TextGenerationChunk(chunk.Text, chunk.PromptTokens, chunk.CompletionTokens, maxTokens, chunk.FinishReason) { Receipt = receipt };
                if (chunk.FinishReason is not null)
                {
                    yield break;
                }
            }
        }
    }

    /// <summary>The sampling parameters as the receipt's request hash covers them (invariant, round-trip numbers).</summary>
    private static string ParametersOf(GenerationOptions o) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"max_tokens={o.MaxTokens};temperature={o.Temperature:R};top_p={o.TopP:R};top_k={o.TopK};seed={o.Seed};frequency_penalty={o.FrequencyPenalty:R};presence_penalty={o.PresencePenalty:R};stop={string.Join('\u0000', o.Stop)}");

    private CocoonApiException Refusal(InferenceException e, string param) => e.Code switch
    {
        InferenceErrorCodes.ContextLengthExceeded => new CocoonApiException(400, e.Code, e.Message, param),
        InferenceErrorCodes.InvalidRequest or InferenceErrorCodes.EmptyInput or InferenceErrorCodes.InputTooLong =>
            new CocoonApiException(400, e.Code, e.Message, e.Param ?? param),
        InferenceErrorCodes.Overloaded or InferenceErrorCodes.EngineStopped =>
            new CocoonApiException(503, e.Code, $"Worker {_worker.WorkerId} cannot take the request now ({e.Code}); retry."),
        _ => new CocoonApiException(500, "inference_failed", $"Inference failed on worker {_worker.WorkerId} ({e.Code})."),
    };
}
