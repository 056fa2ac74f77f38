namespace Cocoon.Abstractions.Inference;

/// <summary>
/// A text generation request (<c>/v1/chat/completions</c> when <see cref="Messages"/> is set, <c>/v1/completions</c> when
/// <see cref="Prompt"/> is), as the service grain and the worker receive it. Decoding settings follow OpenAI's semantics.
/// </summary>
[GenerateSerializer, Immutable, Alias("cocoon.inference.GenerationRequest")]
public sealed record GenerationRequest
{
    /// <summary>The most stop sequences a request may carry (OpenAI's limit).</summary>
    public const int MaxStopSequences = 4;

    /// <summary>The model.</summary>
    [Id(0)] public required string Model { get; init; }

    /// <summary>The conversation, for chat; null for a plain completion.</summary>
    [Id(1)] public IReadOnlyList<ChatMessage>? Messages { get; init; }

    /// <summary>The prompt text, for a plain completion; null for chat.</summary>
    [Id(2)] public string? Prompt { get; init; }

    /// <summary>The most completion tokens; null for as many as the model's context leaves after the prompt.</summary>
    [Id(3)] public int? MaxTokens { get; init; }

    /// <summary>0 for greedy decoding; otherwise the softmax temperature (0 to 2).</summary>
    [Id(4)] public float Temperature { get; init; } = 1f;

    /// <summary>Nucleus sampling mass (0 exclusive to 1 inclusive).</summary>
    [Id(5)] public float TopP { get; init; } = 1f;

    /// <summary>Sample from the k most likely tokens only; 0 for no limit.</summary>
    [Id(6)] public int TopK { get; init; }

    /// <summary>A seed for reproducible sampling; null for a random one.</summary>
    [Id(7)] public long? Seed { get; init; }

    /// <summary>Up to <see cref="MaxStopSequences"/> texts that end the completion; they are not part of the output.</summary>
    [Id(8)] public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>-2 to 2, OpenAI's <c>frequency_penalty</c>.</summary>
    [Id(9)] public float FrequencyPenalty { get; init; }

    /// <summary>-2 to 2, OpenAI's <c>presence_penalty</c>.</summary>
    [Id(10)] public float PresencePenalty { get; init; }

    /// <summary>The highest worker coefficient the caller accepts (1000 = 1.0x); null for any. See <see cref="EmbeddingRequest.MaxCoefficient"/>.</summary>
    [Id(11)] public long? MaxCoefficient { get; init; }

    /// <summary>The coefficient the proxy charges this request at (set by the service grain; the worker signs it in its receipt). 0: the worker's own.</summary>
    [Id(12)] public long Coefficient { get; init; }

    /// <summary>The request parameter that holds the prompt: <c>messages</c> for chat, <c>prompt</c> otherwise.</summary>
    public string PromptParam => Messages is null ? "prompt" : "messages";
}

/// <summary>One chat message.</summary>
/// <param name="Role"><c>system</c>, <c>user</c> or <c>assistant</c>.</param>
/// <param name="Content">The text.</param>
[GenerateSerializer, Immutable, Alias("cocoon.inference.ChatMessage")]
public sealed record ChatMessage([property: Id(0)] string Role, [property: Id(1)] string Content);

/// <summary>
/// What a worker streams for a generation request (<see cref="IInferenceHostGrain.GenerateAsync"/>). The first chunk is
/// empty: it carries the prompt's token count and the completion budget, before anything is generated, so the caller can
/// reserve the worst case first; generation starts when the caller asks for the next chunk. Then text as it is decoded,
/// and exactly one last chunk with <see cref="FinishReason"/> set.
/// </summary>
/// <param name="Text">New text since the previous chunk; may be empty.</param>
/// <param name="PromptTokens">The prompt's tokens (the same in every chunk).</param>
/// <param name="CompletionTokens">Completion tokens decoded so far, this chunk's included.</param>
/// <param name="MaxTokens">The most completion tokens this request may produce (the same in every chunk).</param>
/// <param name="FinishReason">Null until the last chunk; then <c>stop</c> or <c>length</c>.</param>
[GenerateSerializer, Immutable, Alias("cocoon.inference.TextGenerationChunk")]
public sealed record TextGenerationChunk(
    [property: Id(0)] string Text,
    [property: Id(1)] int PromptTokens,
    [property: Id(2)] int CompletionTokens,
    [property: Id(3)] int MaxTokens,
    [property: Id(4)] string? FinishReason)
{
    /// <summary>On the last chunk: the worker's signed receipt over the whole text and the final usage.</summary>
    [Id(5)] public Receipts.InferenceReceipt? Receipt { get; init; }
}

/// <summary>
/// What the service grain streams to its caller (<see cref="IInferenceServiceGrain.ChatAsync"/>,
/// <see cref="IInferenceServiceGrain.CompleteAsync"/>): text chunks, the last of them with <see cref="FinishReason"/>,
/// then one chunk with <see cref="Usage"/> once the request is settled. A caller that stops early is charged for the
/// chunks it had taken.
/// </summary>
[GenerateSerializer, Immutable, Alias("cocoon.inference.PaidGenerationChunk")]
public sealed record PaidGenerationChunk
{
    /// <summary>New text; may be empty.</summary>
    [Id(0)] public string Text { get; init; } = "";

    /// <summary>Set on the last text chunk: <c>stop</c> or <c>length</c>.</summary>
    [Id(1)] public string? FinishReason { get; init; }

    /// <summary>Set on the first chunk: the request id the escrow knows it by.</summary>
    [Id(2)] public string? RequestId { get; init; }

    /// <summary>Set on the final chunk only, after settlement: usage and cost.</summary>
    [Id(3)] public GenerationUsage? Usage { get; init; }

    /// <summary>With <see cref="Usage"/>: the worker's signed receipt, when it gave one.</summary>
    [Id(4)] public Receipts.InferenceReceipt? Receipt { get; init; }
}

/// <summary>The usage and cost of a settled generation request.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.inference.GenerationUsage")]
public sealed record GenerationUsage
{
    /// <summary>The request id the escrow knows it by.</summary>
    [Id(0)] public required string RequestId { get; init; }

    /// <summary>The worker that generated it.</summary>
    [Id(1)] public required string WorkerId { get; init; }

    /// <summary>Prompt tokens, chat template included.</summary>
    [Id(2)] public required long PromptTokens { get; init; }

    /// <summary>Prompt tokens served from a cache (0: the engine does not reuse prompts across requests).</summary>
    [Id(3)] public long CachedTokens { get; init; }

    /// <summary>Completion tokens delivered.</summary>
    [Id(4)] public required long CompletionTokens { get; init; }

    /// <summary>Reasoning tokens among the completion tokens (0: no reasoning models are served).</summary>
    [Id(5)] public long ReasoningTokens { get; init; }

    /// <summary>What the account was charged, in nanoTON.</summary>
    [Id(6)] public required long CostNanoTon { get; init; }

    /// <summary>The account's available balance afterwards, in nanoTON.</summary>
    [Id(7)] public required long AvailableNanoTon { get; init; }

    /// <summary>Workers tried: 2 when the first failed before its first token and another answered.</summary>
    [Id(8)] public int Attempts { get; init; } = 1;
}
