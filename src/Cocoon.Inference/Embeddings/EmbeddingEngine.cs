using Cocoon.Inference.Batching;
using Cocoon.Inference.Models;
using Cocoon.Inference.Runtime;
using Microsoft.ML.OnnxRuntime;

namespace Cocoon.Inference.Embeddings;

/// <summary>How an <see cref="EmbeddingEngine"/> runs.</summary>
public sealed record EmbeddingEngineOptions
{
    /// <summary>Execution provider and threads.</summary>
    public OnnxSessionSettings Session { get; init; } = new();

    /// <summary>Batch size, wait and capacity (the most runs in flight).</summary>
    public BatchingOptions Batching { get; init; } = new();

    /// <summary>The clock the batcher waits on; the system clock when null.</summary>
    public TimeProvider? TimeProvider { get; init; }
}

/// <summary>
/// The sentence embedding engine: a verified model (<see cref="ModelStore"/>), one ONNX Runtime session on the chosen
/// execution provider, WordPiece tokenization, and a <see cref="DynamicBatcher{TItem, TResult}"/> in front of the
/// session so that concurrent requests share runs and no more than the configured capacity runs at once.
/// Instruments on the <c>Cocoon</c> meter: <c>cocoon.inference.batch.size</c>, <c>cocoon.inference.run.duration</c>,
/// <c>cocoon.inference.tokens</c>, <c>cocoon.inference.queue.length</c>, <c>cocoon.inference.runs.active</c> and
/// <c>cocoon.inference.runs.capacity</c>, tagged <c>cocoon.model</c>.
/// </summary>
public sealed class EmbeddingEngine : IEmbeddingEngine, IAsyncDisposable
{
    private readonly InferenceSession _session;
    private readonly WordPieceEncoder _encoder;
    private readonly SentenceEmbeddingRunner _runner;
    private readonly DynamicBatcher<int[], float[]> _batcher;
    private readonly EmbeddingMetrics _metrics;

    private EmbeddingEngine(VerifiedModel model, EmbeddingEngineOptions options)
    {
        var manifest = model.Manifest;
        if (manifest.Kind != ModelKinds.Embedding || manifest.VocabularyFile is null)
        {
            throw new InferenceException(InferenceErrorCodes.InvalidManifest, $"Model '{manifest.Name}' is a '{manifest.Kind}' model, not an embedding model.");
        }

        _encoder = new WordPieceEncoder(model.GetFile(manifest.VocabularyFile), manifest.LowerCase, manifest.MaxSequenceLength);
        _session = OnnxSessionFactory.Create(model.GetFile(manifest.OnnxFile), options.Session, out var provider);
        try
        {
            _runner = new SentenceEmbeddingRunner(_session, manifest.Dimensions, _encoder.PaddingTokenId, manifest.Normalize);
        }
        catch
        {
            _session.Dispose();
            throw;
        }

        ExecutionProvider = provider;
        ModelName = manifest.Name;
        ModelSha256 = model.OnnxSha256;
        Dimensions = manifest.Dimensions;
        _batcher = new DynamicBatcher<int[], float[]>(RunBatchAsync, options.Batching, options.TimeProvider);
        _metrics = new EmbeddingMetrics(ModelName, () => _batcher.Waiting, () => _batcher.Running, options.Batching.Capacity);
    }

    /// <summary>Starts an engine for a verified embedding model.</summary>
    /// <exception cref="InferenceException">The model is not an embedding model, or the session cannot be created.</exception>
    public static EmbeddingEngine Create(VerifiedModel model, EmbeddingEngineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new EmbeddingEngine(model, options ?? new EmbeddingEngineOptions());
    }

    /// <inheritdoc />
    public string ModelName { get; }

    /// <inheritdoc />
    public string ModelSha256 { get; }

    /// <inheritdoc />
    public int Dimensions { get; }

    /// <inheritdoc />
    public int MaxSequenceLength => _encoder.MaxSequenceLength;

    /// <inheritdoc />
    public ExecutionProviderInfo ExecutionProvider { get; }

    /// <summary>Inputs waiting for a batch now.</summary>
    public int Waiting => _batcher.Waiting;

    /// <summary>Model runs in flight now; never more than the configured capacity.</summary>
    public int Running => _batcher.Running;

    /// <summary>The tokenizer, for callers that need the model's token ids.</summary>
    public WordPieceEncoder Encoder => _encoder;

    internal System.Diagnostics.Metrics.Meter Meter => _metrics.Meter;

    /// <inheritdoc />
    public int CountTokens(string input) => _encoder.CountTokens(input);

    /// <inheritdoc />
    public async Task<EmbeddingResult> EmbedAsync(IReadOnlyList<string> inputs, EmbeddingOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (inputs is null || inputs.Count == 0)
        {
            throw new InferenceException(InferenceErrorCodes.EmptyInput, "The request has no input.", "input");
        }

        options ??= EmbeddingOptions.Default;

        // Every input is checked before any of them is queued: a refused request costs no model time.
        var encoded = new EncodedInput[inputs.Count];
        for (var i = 0; i < encoded.Length; i++)
        {
            encoded[i] = _encoder.Encode(inputs[i], options.Truncate, i);
        }

        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pending = new Task<float[]>[encoded.Length];
        var vectors = new float[encoded.Length][];
        try
        {
            for (var i = 0; i < encoded.Length; i++)
            {
                pending[i] = _batcher.SubmitAsync(encoded[i].TokenIds, abandon.Token);
            }

            for (var i = 0; i < pending.Length; i++)
            {
                vectors[i] = await pending[i].ConfigureAwait(false);
            }
        }
        catch
        {
            // One input failed or was refused (queue full), or the caller gave up: the request's other inputs stop waiting too.
            await abandon.CancelAsync().ConfigureAwait(false);
            throw;
        }

        var counts = new int[encoded.Length];
        var truncated = new bool[encoded.Length];
        for (var i = 0; i < encoded.Length; i++)
        {
            counts[i] = encoded[i].TokenIds.Length;
            truncated[i] = encoded[i].Truncated;
        }

        return new EmbeddingResult(vectors, counts, truncated);
    }

    /// <summary>Stops the batcher (waiting requests fail with <see cref="InferenceErrorCodes.EngineStopped"/>) and frees the session.</summary>
    public async ValueTask DisposeAsync()
    {
        await _batcher.DisposeAsync().ConfigureAwait(false);
        _metrics.Dispose();
        _session.Dispose();
    }

    private Task<IReadOnlyList<float[]>> RunBatchAsync(IReadOnlyList<int[]> batch, CancellationToken stop) =>
        // ONNX Runtime's Run blocks its thread for the whole run: keep it off the batcher's dispatcher.
        Task.Run<IReadOnlyList<float[]>>(
            () =>
            {
                var start = System.Diagnostics.Stopwatch.GetTimestamp();
                var vectors = _runner.Run(batch);
                var tokens = 0;
                foreach (var sequence in batch)
                {
                    tokens += sequence.Length;
                }

                _metrics.RecordRun(batch.Count, tokens, start);
                return vectors;
            },
            stop);
}
