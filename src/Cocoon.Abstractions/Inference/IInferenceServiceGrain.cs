namespace Cocoon.Abstractions.Inference;

/// <summary>
/// The public inference interface (DESIGN section 4), for the HTTP gateway and for app backends connected with
/// <c>Cocoon.Client</c>: authenticates the API key, reserves the worst case on the caller's escrow, routes to a live
/// worker, runs the request there, and settles the exact cost (or releases the reservation when the request
/// fails). A stateless worker: it runs on the silo that received the call, so no single activation is on the hot
/// path. Refusals are <see cref="CocoonApiException"/>s.
/// </summary>
[Alias("cocoon.inference.IInferenceServiceGrain")]
public interface IInferenceServiceGrain : IGrainWithIntegerKey
{
    /// <summary>Embeddings, paid from the key's account.</summary>
    [Alias("Embed"), ResponseTimeout("00:02:00")]
    Task<PaidEmbeddingResponse> EmbedAsync(string apiKey, EmbeddingRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// A chat completion of <see cref="GenerationRequest.Messages"/>, streamed and paid from the key's account (see
    /// <see cref="PaidGenerationChunk"/>). Refusals (401, 400, 402, 404, 503) come before the first chunk; the account is
    /// charged for the prompt and the completion tokens of the chunks taken, when the stream ends or is disposed.
    /// </summary>
    [Alias("Chat")]
    IAsyncEnumerable<PaidGenerationChunk> ChatAsync(string apiKey, GenerationRequest request, CancellationToken cancellationToken = default);

    /// <summary>A completion of <see cref="GenerationRequest.Prompt"/>; otherwise as <see cref="ChatAsync"/>.</summary>
    [Alias("Complete")]
    IAsyncEnumerable<PaidGenerationChunk> CompleteAsync(string apiKey, GenerationRequest request, CancellationToken cancellationToken = default);

    /// <summary>The deployed models with their live workers, for <c>GET /v1/models</c>.</summary>
    [Alias("ListModels")]
    Task<IReadOnlyList<ModelSummary>> ListModelsAsync(string apiKey);
}

/// <summary>Embeddings with what they cost.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.inference.PaidEmbeddingResponse")]
public sealed record PaidEmbeddingResponse
{
    /// <summary>The request id the escrow knows it by.</summary>
    [Id(0)] public required string RequestId { get; init; }

    /// <summary>The worker's answer.</summary>
    [Id(1)] public required EmbeddingResponse Result { get; init; }

    /// <summary>Prompt tokens, all inputs together.</summary>
    [Id(2)] public required long PromptTokens { get; init; }

    /// <summary>What the account was charged, in nanoTON.</summary>
    [Id(3)] public required long CostNanoTon { get; init; }

    /// <summary>The account's available balance afterwards, in nanoTON.</summary>
    [Id(4)] public required long AvailableNanoTon { get; init; }

    /// <summary>Workers tried: 2 when the first failed before answering and the request was retried on another.</summary>
    [Id(5)] public int Attempts { get; init; } = 1;
}

/// <summary>A model as <c>GET /v1/models</c> lists it.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.inference.ModelSummary")]
public sealed record ModelSummary(
    [property: Id(0)] string Name,
    [property: Id(1)] string Kind,
    [property: Id(2)] DateTimeOffset CreatedAt,
    [property: Id(3)] int LiveWorkers,
    [property: Id(4)] int ContextLength,
    [property: Id(5)] int Dimensions)
{
    /// <summary>Each live worker's coefficient and load, as COCOON's client lists them to choose a price cap.</summary>
    [Id(6)] public IReadOnlyList<WorkerLoad> Workers { get; init; } = [];
}

/// <summary>A live worker's price coefficient and load as routing on the answering silo sees it.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.inference.WorkerLoad")]
public sealed record WorkerLoad(
    [property: Id(0)] long Coefficient,
    [property: Id(1)] int Running,
    [property: Id(2)] int Capacity);
