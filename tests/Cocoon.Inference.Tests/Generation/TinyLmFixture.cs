using Cocoon.Inference.Generation;
using Cocoon.Inference.Models;
using Cocoon.Inference.Runtime;
using Microsoft.ML.OnnxRuntime;

[assembly: AssemblyFixture(typeof(Cocoon.Inference.Tests.Generation.TinyLmFixture))]

namespace Cocoon.Inference.Tests.Generation;

/// <summary>
/// The built-in tiny model written once into a temporary model store, one engine over it (capacity 4), and an independent
/// reference: a plain ONNX Runtime session that recomputes the whole sequence for every token (no cache, batch 1).
/// </summary>
public sealed class TinyLmFixture : IAsyncDisposable
{
    public TinyLmFixture()
    {
        StoreRoot = Directory.CreateTempSubdirectory("cocoon-generation-tests-").FullName;
        ModelDirectory = Path.Combine(StoreRoot, BuiltInModels.TinyLmName);
        Manifest = BuiltInModels.MaterializeTinyLm(ModelDirectory);
        Model = new ModelStore(StoreRoot).Load(BuiltInModels.TinyLmName);
        Engine = TextGenerationEngine.Create(Model, Options(capacity: 4));
        ReferenceSession = new InferenceSession(Model.GetFile(Manifest.OnnxFile));
    }

    public string StoreRoot { get; }

    public string ModelDirectory { get; }

    public ModelManifest Manifest { get; }

    public VerifiedModel Model { get; }

    public TextGenerationEngine Engine { get; }

    public InferenceSession ReferenceSession { get; }

    public int Vocabulary => Manifest.Dimensions;

    public static TextGenerationEngineOptions Options(int capacity, int queueLimit = 64) => new()
    {
        Session = new OnnxSessionSettings { Preference = ExecutionProviderPreference.Cpu, IntraOpThreads = 1 },
        Capacity = capacity,
        QueueLimit = queueLimit,
    };

    /// <summary>The logits after the last of <paramref name="tokens"/>, computed from scratch (positions 0.., empty caches).</summary>
    public float[] ReferenceLogits(IReadOnlyList<int> tokens)
    {
        var n = tokens.Count;
        long[] shape = [1, n];
        var inputs = new Dictionary<string, OrtValue>
        {
            ["input_ids"] = OrtValue.CreateTensorValueFromMemory(tokens.Select(t => (long)t).ToArray(), shape),
            ["attention_mask"] = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, n).ToArray(), shape),
            ["position_ids"] = OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, n).Select(i => (long)i).ToArray(), shape),
        };
        for (var l = 0; l < Manifest.NumLayers; l++)
        {
            long[] empty = [1, Manifest.NumKvHeads, 0, Manifest.HeadDim];
            inputs[$"past_key_values.{l}.key"] = OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), empty);
            inputs[$"past_key_values.{l}.value"] = OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), empty);
        }

        try
        {
            using var runOptions = new RunOptions();
            using var outputs = ReferenceSession.Run(runOptions, inputs, ["logits"]);
            return outputs[0].GetTensorDataAsSpan<float>().Slice((n - 1) * Vocabulary, Vocabulary).ToArray();
        }
        finally
        {
            foreach (var value in inputs.Values)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>Greedy decoding by full recompute, with optional penalties, until max tokens or an EOS token (included).</summary>
    public List<int> ReferenceGreedy(IReadOnlyList<int> prompt, int maxTokens, float frequencyPenalty = 0, float presencePenalty = 0)
    {
        var eos = Manifest.EosTokens!.Select(t => Manifest.SpecialTokens![t]).ToHashSet();
        var tokens = prompt.ToList();
        var completion = new List<int>();
        while (completion.Count < maxTokens)
        {
            var logits = ReferenceLogits(tokens);
            foreach (var group in completion.GroupBy(t => t))
            {
                logits[group.Key] -= (group.Count() * frequencyPenalty) + presencePenalty;
            }

            var best = 0;
            for (var i = 1; i < logits.Length; i++)
            {
                if (logits[i] > logits[best])
                {
                    best = i;
                }
            }

            completion.Add(best);
            tokens.Add(best);
            if (eos.Contains(best))
            {
                break;
            }
        }

        return completion;
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        ReferenceSession.Dispose();
        try
        {
            Directory.Delete(StoreRoot, recursive: true);
        }
        catch (IOException)
        {
            // A temporary folder; best effort.
        }
    }
}
