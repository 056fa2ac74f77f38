using BenchmarkDotNet.Attributes;
using Cocoon.Inference.Generation;
using Cocoon.Inference.Models;

namespace Cocoon.Inference.Benchmarks;

/// <summary>The built-in tiny model in a temporary folder, and greedy prompts that run to their token limit without EOS.</summary>
internal static class TinyLm
{
    public static VerifiedModel Materialize(out string directory)
    {
        directory = Directory.CreateTempSubdirectory("cocoon-bench-lm-").FullName;
        BuiltInModels.MaterializeTinyLm(directory);
        return ModelStore.LoadFolder(directory);
    }

    /// <summary>
    /// Prompts whose greedy completion has <paramref name="tokens"/> tokens (no EOS before), so that every operation decodes
    /// the same number of tokens.
    /// </summary>
    public static async Task<List<string>> PromptsRunningTo(TextGenerationEngine engine, int tokens, int count)
    {
        var prompts = new List<string>();
        for (var i = 0; prompts.Count < count; i++)
        {
            if (i > 50 * count)
            {
                throw new InvalidOperationException($"Not enough prompts run to {tokens} tokens.");
            }

            var prompt = $"Request {i}: the cocoon and the butterfly";
            await foreach (var chunk in engine.GenerateAsync(prompt, Greedy(tokens)))
            {
                if (chunk.FinishReason == "length")
                {
                    prompts.Add(prompt);
                }
            }
        }

        return prompts;
    }

    public static GenerationOptions Greedy(int tokens) => new() { MaxTokens = tokens, Temperature = 0 };

    public static async Task<int> DrainAsync(IAsyncEnumerable<GenerationChunk> stream)
    {
        var tokens = 0;
        await foreach (var chunk in stream)
        {
            tokens = chunk.CompletionTokens;
        }

        return tokens;
    }
}

/// <summary>
/// Greedy decoding of <see cref="Tokens"/> tokens after a short prompt with the tiny model, one sequence: the engine (KV cache,
/// one pass per token over the cache) against full recompute (the whole sequence run again for every token, no cache),
/// which is the baseline. Op/s is tokens per second.
/// </summary>
public class GenerationKvCacheBenchmarks
{
    private const int Tokens = 128;
    private string _directory = "";
    private TextGenerationEngine? _engine;
    private string _prompt = "";
    private int[] _promptIds = [];

    [GlobalSetup]
    public async Task Setup()
    {
        var model = TinyLm.Materialize(out _directory);
        _engine = TextGenerationEngine.Create(model, new TextGenerationEngineOptions { Capacity = 1 });
        _prompt = (await TinyLm.PromptsRunningTo(_engine, Tokens, 1))[0];
        _promptIds = _engine.Tokenizer.Encode(_prompt);
        Console.WriteLine($"// Execution provider: {_engine.ExecutionProvider}; prompt {_promptIds.Length} tokens, {Tokens} generated");
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _engine!.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Tokens, Description = "full recompute, no cache")]
    public int FullRecompute()
    {
        var model = _engine!.Model;
        var tokens = new List<int>(_promptIds);
        var vocabulary = model.VocabularySize;
        for (var i = 0; i < Tokens; i++)
        {
            var logits = model.FullLogits(tokens.ToArray());
            tokens.Add(TokenSampler.ArgMax(logits.AsSpan((tokens.Count - 1) * vocabulary, vocabulary)));
        }

        return tokens[^1];
    }

    [Benchmark(OperationsPerInvoke = Tokens, Description = "engine, KV cache")]
    public Task<int> KvCache() => TinyLm.DrainAsync(_engine!.GenerateAsync(_prompt, TinyLm.Greedy(Tokens)));
}

/// <summary>
/// Throughput of the tiny model with continuous batching: <see cref="Requests"/> greedy requests of <see cref="Tokens"/>
/// tokens each, sent by <see cref="Streams"/> concurrent callers (each sends its share one after another) to an engine of
/// capacity 32, against the same requests one after another (the baseline). Op/s is tokens per second.
/// </summary>
public class GenerationThroughputBenchmarks
{
    private const int Requests = 32;
    private const int Tokens = 32;
    private string _directory = "";
    private TextGenerationEngine? _engine;
    private List<string> _prompts = [];

    /// <summary>Concurrent streams.</summary>
    [Params(1, 8, 32)]
    public int Streams { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        var model = TinyLm.Materialize(out _directory);
        _engine = TextGenerationEngine.Create(model, new TextGenerationEngineOptions { Capacity = 32 });
        _prompts = await TinyLm.PromptsRunningTo(_engine, Tokens, Requests);
        Console.WriteLine($"// Execution provider: {_engine.ExecutionProvider}");
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _engine!.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Requests * Tokens, Description = "one request after another")]
    public async Task<int> OneAfterAnother()
    {
        var tokens = 0;
        foreach (var prompt in _prompts)
        {
            tokens += await TinyLm.DrainAsync(_engine!.GenerateAsync(prompt, TinyLm.Greedy(Tokens)));
        }

        return tokens;
    }

    [Benchmark(OperationsPerInvoke = Requests * Tokens, Description = "concurrent streams, continuous batching")]
    public async Task<int> ContinuousBatching()
    {
        var callers = new Task<int>[Streams];
        for (var c = 0; c < callers.Length; c++)
        {
            var first = c;
            callers[c] = Task.Run(async () =>
            {
                var tokens = 0;
                for (var r = first; r < Requests; r += Streams)
                {
                    tokens += await TinyLm.DrainAsync(_engine!.GenerateAsync(_prompts[r], TinyLm.Greedy(Tokens)));
                }

                return tokens;
            });
        }

        return (await Task.WhenAll(callers)).Sum();
    }
}
