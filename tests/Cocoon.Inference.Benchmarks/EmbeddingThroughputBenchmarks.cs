using BenchmarkDotNet.Attributes;
using Cocoon.Inference.Batching;
using Cocoon.Inference.Embeddings;
using Cocoon.Inference.Models;
using Cocoon.Inference.Runtime;
using Microsoft.ML.OnnxRuntime;

namespace Cocoon.Inference.Benchmarks;

/// <summary>
/// Embeddings per second of all-MiniLM-L6-v2: one operation is <see cref="EmbeddingsPerOperation"/> sentences,
/// shared among <see cref="Callers"/> concurrent callers that each send one sentence per request, one after another
/// (so Op/s is embeddings per second). Baseline: the callers share a plain ONNX Runtime session
/// and each runs its own request (tokenize, run, pool) directly. Compared: the engine with one request per run, and the
/// engine with dynamic batching (batches of up to 32, with and without a 2 ms wait for company). The Ratio column is time per embedding relative to the baseline (below 1 is faster).
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class EmbeddingThroughputBenchmarks
{
    private const int EmbeddingsPerOperation = 32;

    private static readonly string[] Sentences =
    [
        "The weather is lovely today.",
        "It's so sunny outside!",
        "He drove to the stadium.",
        "A man is eating food.",
        "A man is riding a white horse on an enclosed ground.",
        "A monkey is playing drums.",
        "Two men pushed carts through the woods.",
        "The new movie is awesome and everyone in the audience seemed to enjoy every minute of it.",
        "Confidential inference keeps prompts inside the trusted execution environment.",
        "Workers are paid in Toncoin for the tokens they serve, settled from the client's escrow.",
        "How many tokens does this sentence have once it has been split into wordpieces?",
        "Short.",
    ];

    private string _modelDirectory = "";
    private InferenceSession? _direct;
    private WordPieceEncoder? _encoder;
    private EmbeddingEngine? _batched;
    private EmbeddingEngine? _unbatched;
    private EmbeddingEngine? _batchedNoWait;

    /// <summary>Concurrent callers; each sends EmbeddingsPerOperation / Callers requests in turn.</summary>
    [Params(1, 8, 32)]
    public int Callers { get; set; }

    /// <summary>The execution provider the sessions took; printed in the setup log.</summary>
    public static string Provider { get; private set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _modelDirectory = Directory.CreateTempSubdirectory("cocoon-bench-").FullName;
        BuiltInModels.MaterializeMiniLm(_modelDirectory);
        var model = ModelStore.LoadFolder(_modelDirectory, BuiltInModels.MiniLmOnnxSha256);
        var session = new OnnxSessionSettings();
        _direct = OnnxSessionFactory.Create(model.GetFile(model.Manifest.OnnxFile), session, out var provider);
        _encoder = new WordPieceEncoder(model.GetFile(model.Manifest.VocabularyFile!), lowerCase: true, model.Manifest.MaxSequenceLength);
        _batched = EmbeddingEngine.Create(model, new EmbeddingEngineOptions
        {
            Session = session,
            Batching = new BatchingOptions { MaxBatchSize = 32, MaxWait = TimeSpan.FromMilliseconds(2), Capacity = 1 },
        });
        _batchedNoWait = EmbeddingEngine.Create(model, new EmbeddingEngineOptions
        {
            Session = session,
            Batching = new BatchingOptions { MaxBatchSize = 32, MaxWait = TimeSpan.Zero, Capacity = 1 },
        });
        _unbatched = EmbeddingEngine.Create(model, new EmbeddingEngineOptions
        {
            Session = session,
            Batching = new BatchingOptions { MaxBatchSize = 1, MaxWait = TimeSpan.Zero, Capacity = 1 },
        });
        Provider = provider.ToString();
        Console.WriteLine($"// Execution provider: {Provider}");
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _batched!.DisposeAsync();
        await _unbatched!.DisposeAsync();
        await _batchedNoWait!.DisposeAsync();
        _direct!.Dispose();
        Directory.Delete(_modelDirectory, recursive: true);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = EmbeddingsPerOperation, Description = "direct ORT session, one request per run")]
    public Task DirectSession() => RunCallers(text => Task.Run(() => DirectEmbed(text)));

    [Benchmark(OperationsPerInvoke = EmbeddingsPerOperation, Description = "engine, one request per run")]
    public Task EngineUnbatched() => RunCallers(text => _unbatched!.EmbedAsync([text]));

    [Benchmark(OperationsPerInvoke = EmbeddingsPerOperation, Description = "engine, dynamic batching, max wait 2 ms")]
    public Task EngineBatched() => RunCallers(text => _batched!.EmbedAsync([text]));

    /// <summary>No wait for company: a batch is whatever queued while the previous run was busy.</summary>
    [Benchmark(OperationsPerInvoke = EmbeddingsPerOperation, Description = "engine, dynamic batching, max wait 0")]
    public Task EngineBatchedNoWait() => RunCallers(text => _batchedNoWait!.EmbedAsync([text]));

    private async Task RunCallers<T>(Func<string, Task<T>> embed)
    {
        var callers = new Task[Callers];
        for (var c = 0; c < callers.Length; c++)
        {
            var offset = c;
            callers[c] = Task.Run(async () =>
            {
                for (var i = 0; i < EmbeddingsPerOperation / Callers; i++)
                {
                    await embed(Sentences[(offset + i) % Sentences.Length]);
                }
            });
        }

        await Task.WhenAll(callers);
    }

    /// <summary>What a caller would write against ONNX Runtime alone: tokenize, one run for one text, mean pool, normalise.</summary>
    private float[] DirectEmbed(string text)
    {
        var ids = _encoder!.Encode(text, truncate: false).TokenIds;
        var n = ids.Length;
        long[] shape = [1, n];
        using var inputIds = OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(ids, i => (long)i), shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, n).ToArray(), shape);
        using var types = OrtValue.CreateTensorValueFromMemory(new long[n], shape);
        using var runOptions = new RunOptions();
        using var outputs = _direct!.Run(runOptions, ["input_ids", "attention_mask", "token_type_ids"], [inputIds, mask, types], ["last_hidden_state"]);
        var states = outputs[0].GetTensorDataAsSpan<float>();
        var vector = new float[384];
        for (var t = 0; t < n; t++)
        {
            for (var d = 0; d < vector.Length; d++)
            {
                vector[d] += states[(t * 384) + d] / n;
            }
        }

        var norm = MathF.Sqrt(vector.Sum(v => v * v));
        for (var d = 0; d < vector.Length; d++)
        {
            vector[d] /= norm;
        }

        return vector;
    }
}
