using Cocoon.Inference.Runtime;

namespace Cocoon.Inference.Generation;

/// <summary>
/// What the worker's inference grain calls to generate text with one decoder-only model (DESIGN section 8). Thread-safe:
/// concurrent streams share decode steps (continuous batching) and never more than <see cref="Capacity"/> run at once;
/// the rest wait for a slot. Prompts and outputs are never logged; errors are <see cref="InferenceException"/>s.
/// </summary>
public interface ITextGenerationEngine : IAsyncDisposable
{
    /// <summary>The deployment name of the model.</summary>
    string ModelName { get; }

    /// <summary>Lower-case hex SHA-256 of the model's ONNX graph (the model hash).</summary>
    string ModelSha256 { get; }

    /// <summary>The most tokens, prompt and completion together, one sequence may hold.</summary>
    int ContextLength { get; }

    /// <summary>The most sequences decoded at once.</summary>
    int Capacity { get; }

    /// <summary>Sequences decoding now.</summary>
    int Running { get; }

    /// <summary>The execution provider the model runs on, and why.</summary>
    ExecutionProviderInfo ExecutionProvider { get; }

    /// <summary>The prompt tokens <paramref name="prompt"/> becomes, special tokens included.</summary>
    int CountTokens(string prompt);

    /// <summary>The prompt text the model's chat template makes of <paramref name="messages"/>, ready for the assistant's turn.</summary>
    /// <exception cref="InferenceException"><see cref="InferenceErrorCodes.InvalidRequest"/> for an unknown role or no messages.</exception>
    string ApplyChatTemplate(IReadOnlyList<ChatTurn> messages);

    /// <summary>
    /// Generates a completion of <paramref name="prompt"/>. The stream yields text as it is decoded (a chunk never splits a
    /// UTF-8 character, and text that may be the start of a stop sequence is held back until it is known not to be), and ends
    /// with exactly one chunk whose <see cref="GenerationChunk.FinishReason"/> is set. Cancelling frees the slot within one
    /// decode step; the usage of the chunks already yielded is what the client received.
    /// </summary>
    /// <exception cref="InferenceException">
    /// <see cref="InferenceErrorCodes.ContextLengthExceeded"/> (prompt plus <see cref="GenerationOptions.MaxTokens"/> over
    /// <see cref="ContextLength"/>) or <see cref="InferenceErrorCodes.InvalidRequest"/> (a bad option, naming it) before
    /// anything runs.
    /// </exception>
    IAsyncEnumerable<GenerationChunk> GenerateAsync(string prompt, GenerationOptions options, CancellationToken cancellationToken = default);
}

/// <summary>One chat message.</summary>
/// <param name="Role"><c>system</c>, <c>user</c> or <c>assistant</c>.</param>
/// <param name="Content">The text.</param>
public sealed record ChatTurn(string Role, string Content);

/// <summary>Decoding settings of one request (OpenAI's semantics).</summary>
public sealed record GenerationOptions
{
    /// <summary>The most completion tokens; at least 1.</summary>
    public required int MaxTokens { get; init; }

    /// <summary>0 for greedy decoding; otherwise the softmax temperature (0 to 2).</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Nucleus sampling mass (0 exclusive to 1 inclusive).</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Sample from the k most likely tokens only; 0 for no limit.</summary>
    public int TopK { get; init; }

    /// <summary>A seed for reproducible sampling; null for a random one.</summary>
    public long? Seed { get; init; }

    /// <summary>Up to four texts that end the completion when generated; they are not part of the output.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>-2 to 2: lowers a token's logit by this times the times it occurred in the completion.</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>-2 to 2: lowers a token's logit by this once it occurred in the completion.</summary>
    public float PresencePenalty { get; init; }
}

/// <summary>Text decoded since the previous chunk, and the usage so far.</summary>
/// <param name="Text">New text; may be empty (for example in the final chunk).</param>
/// <param name="PromptTokens">The prompt's tokens (the same in every chunk).</param>
/// <param name="CompletionTokens">Completion tokens decoded so far, this chunk's included.</param>
/// <param name="FinishReason">Null until the last chunk; then <c>stop</c> (end of sequence or a stop sequence) or <c>length</c>.</param>
public sealed record GenerationChunk(string Text, int PromptTokens, int CompletionTokens, string? FinishReason);
