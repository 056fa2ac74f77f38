namespace Cocoon.Abstractions.Inference;

/// <summary>
/// Runs requests on one worker's local inference engine (DESIGN section 3), keyed by worker id and always activated
/// on that worker's own silo by <see cref="WorkerSiloAttribute"/> placement: a request for worker W runs on W's silo or fails.
/// Inputs and outputs exist only in memory; nothing here is logged or stored.
/// </summary>
[Alias("cocoon.inference.IInferenceHostGrain")]
public interface IInferenceHostGrain : IGrainWithStringKey
{
    /// <summary>Embeds the inputs and returns the vectors with exact token counts.</summary>
    [Alias("Embed"), ResponseTimeout("00:02:00")]
    Task<EmbeddingResponse> EmbedAsync(EmbeddingRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Generates text on this worker's text generation engine; see <see cref="TextGenerationChunk"/> for what the stream
    /// holds. Cancelling, or disposing the enumeration, frees the engine's slot within one decode step. A prompt that does
    /// not fit the model's context with the requested <c>max_tokens</c> is refused (400 <c>context_length_exceeded</c>)
    /// before anything is yielded.
    /// </summary>
    [Alias("Generate")]
    IAsyncEnumerable<TextGenerationChunk> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken = default);
}

/// <summary>An embedding request as the worker receives it.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.inference.EmbeddingRequest")]
public sealed record EmbeddingRequest
{
    /// <summary>The most inputs one request may carry (OpenAI's limit for embeddings).</summary>
    public const int MaxInputs = 2048;

    /// <summary>The model.</summary>
    [Id(0)] public required string Model { get; init; }

    /// <summary>The texts.</summary>
    [Id(1)] public required IReadOnlyList<string> Inputs { get; init; }

    /// <summary>Cut inputs that are too long instead of refusing them (only when the caller asked).</summary>
    [Id(2)] public bool Truncate { get; init; }

    /// <summary>
    /// The highest worker coefficient the caller accepts (1000 = 1.0x, DESIGN section 5); null for any. Routing
    /// only considers workers within it, and the reservation is made at the highest coefficient it may pay.
    /// </summary>
    [Id(3)] public long? MaxCoefficient { get; init; }

    /// <summary>The coefficient the proxy charges this request at (set by the service grain; the worker signs it in its receipt). 0: the worker's own.</summary>
    [Id(4)] public long Coefficient { get; init; }
}

/// <summary>Vectors and usage.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.inference.EmbeddingResponse")]
public sealed record EmbeddingResponse
{
    /// <summary>One vector per input, in order.</summary>
    [Id(0)] public required IReadOnlyList<float[]> Vectors { get; init; }

    /// <summary>Tokens per input as the model saw them.</summary>
    [Id(1)] public required IReadOnlyList<int> TokenCounts { get; init; }

    /// <summary>The worker that ran it.</summary>
    [Id(2)] public required string WorkerId { get; init; }

    /// <summary>The worker's signed receipt (null from a worker that has no receipt key).</summary>
    [Id(3)] public Receipts.InferenceReceipt? Receipt { get; init; }
}
