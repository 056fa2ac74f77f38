using Cocoon.Inference.Runtime;

namespace Cocoon.Inference.Embeddings;

/// <summary>
/// What the worker's inference grain calls to embed text. Thread-safe; concurrent calls are batched together.
/// Inputs are never logged, and errors (<see cref="InferenceException"/>) name inputs by index, never by content.
/// </summary>
public interface IEmbeddingEngine
{
    /// <summary>The deployment name of the model.</summary>
    string ModelName { get; }

    /// <summary>Lower-case hex SHA-256 of the model's ONNX graph (the model hash).</summary>
    string ModelSha256 { get; }

    /// <summary>The length of each vector.</summary>
    int Dimensions { get; }

    /// <summary>The most tokens, [CLS] and [SEP] included, an input may have without truncation.</summary>
    int MaxSequenceLength { get; }

    /// <summary>The execution provider the model runs on, and why.</summary>
    ExecutionProviderInfo ExecutionProvider { get; }

    /// <summary>The tokens <paramref name="input"/> becomes, [CLS] and [SEP] included, before any truncation.</summary>
    int CountTokens(string input);

    /// <summary>Embeds every input; the vectors come back in input order.</summary>
    /// <param name="inputs">One or more non-empty texts.</param>
    /// <param name="options">Truncation; defaults refuse inputs over the limit.</param>
    /// <param name="cancellationToken">Cancels the inputs still waiting for a batch.</param>
    /// <exception cref="InferenceException">
    /// <see cref="InferenceErrorCodes.EmptyInput"/> or <see cref="InferenceErrorCodes.InputTooLong"/> (param <c>input</c>,
    /// with the input's index) before anything runs; other codes when the engine cannot run the request.
    /// </exception>
    Task<EmbeddingResult> EmbedAsync(IReadOnlyList<string> inputs, EmbeddingOptions? options = null, CancellationToken cancellationToken = default);
}

/// <summary>Per-request embedding options.</summary>
public sealed record EmbeddingOptions
{
    /// <summary>The defaults: refuse inputs over the model's limit.</summary>
    public static EmbeddingOptions Default { get; } = new();

    /// <summary>When true, inputs over the model's limit keep their first tokens instead of being refused.</summary>
    public bool Truncate { get; init; }
}

/// <summary>The vectors of one request and the tokens it used.</summary>
/// <param name="Vectors">One unit-length vector per input, in input order.</param>
/// <param name="TokenCounts">The tokens the model processed for each input, [CLS] and [SEP] included (after truncation).</param>
/// <param name="Truncated">For each input, whether it was truncated (only when the caller asked).</param>
public sealed record EmbeddingResult(IReadOnlyList<float[]> Vectors, IReadOnlyList<int> TokenCounts, IReadOnlyList<bool> Truncated)
{
    /// <summary>The tokens of the whole request: the usage the worker reports (prompt tokens = total tokens).</summary>
    public int TotalTokens
    {
        get
        {
            var total = 0;
            foreach (var count in TokenCounts)
            {
                total += count;
            }

            return total;
        }
    }
}
