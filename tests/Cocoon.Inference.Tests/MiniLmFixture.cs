using Cocoon.Inference.Batching;
using Cocoon.Inference.Embeddings;
using Cocoon.Inference.Models;
using Cocoon.Inference.Runtime;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

[assembly: AssemblyFixture(typeof(Cocoon.Inference.Tests.MiniLmFixture))]

namespace Cocoon.Inference.Tests;

/// <summary>
/// The built-in MiniLM written once into a temporary model store for the whole run, one engine over it, and an
/// independent reference: a plain ONNX Runtime session fed one text at a time (no batching, no padding) with
/// tokenization and pooling written out in <see cref="Reference"/>.
/// </summary>
public sealed class MiniLmFixture : IAsyncDisposable
{
    public MiniLmFixture()
    {
        StoreRoot = Directory.CreateTempSubdirectory("cocoon-inference-tests-").FullName;
        ModelDirectory = Path.Combine(StoreRoot, BuiltInModels.MiniLmName);
        Manifest = BuiltInModels.MaterializeMiniLm(ModelDirectory);
        Model = new ModelStore(StoreRoot).Load(BuiltInModels.MiniLmName, BuiltInModels.MiniLmOnnxSha256);
        Engine = EmbeddingEngine.Create(Model, new EmbeddingEngineOptions
        {
            Session = new OnnxSessionSettings { Preference = ExecutionProviderPreference.Cpu },
            Batching = new BatchingOptions { MaxBatchSize = 8, MaxWait = TimeSpan.FromMilliseconds(5), Capacity = 2 },
        });
        ReferenceSession = new InferenceSession(Model.GetFile("model.onnx"));
        using var vocabulary = new MemoryStream(Model.GetFile("vocab.txt"));
        ReferenceTokenizer = BertTokenizer.Create(vocabulary, new BertOptions { LowerCaseBeforeTokenization = true, RemoveNonSpacingMarks = true });
    }

    public string StoreRoot { get; }

    public string ModelDirectory { get; }

    public ModelManifest Manifest { get; }

    public VerifiedModel Model { get; }

    public EmbeddingEngine Engine { get; }

    public InferenceSession ReferenceSession { get; }

    public BertTokenizer ReferenceTokenizer { get; }

    /// <summary>
    /// sentence-transformers' computation for this model, one text per run: [CLS] wordpieces [SEP] with no padding,
    /// last_hidden_state averaged over all positions (the mask is all ones), divided by its L2 norm.
    /// </summary>
    public float[] Reference(string text)
    {
        var ids = ReferenceTokenizer.EncodeToIds(text, addSpecialTokens: true);
        var n = ids.Count;
        long[] shape = [1, n];
        using var inputIds = OrtValue.CreateTensorValueFromMemory(ids.Select(i => (long)i).ToArray(), shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, n).ToArray(), shape);
        using var types = OrtValue.CreateTensorValueFromMemory(new long[n], shape);
        using var runOptions = new RunOptions();
        using var outputs = ReferenceSession.Run(runOptions, ["input_ids", "attention_mask", "token_type_ids"], [inputIds, mask, types], ["last_hidden_state"]);
        var states = outputs[0].GetTensorDataAsSpan<float>();
        var mean = new double[384];
        for (var t = 0; t < n; t++)
        {
            for (var d = 0; d < 384; d++)
            {
                mean[d] += states[(t * 384) + d] / (double)n;
            }
        }

        var norm = Math.Sqrt(mean.Sum(v => v * v));
        return mean.Select(v => (float)(v / norm)).ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        ReferenceSession.Dispose();
        Directory.Delete(StoreRoot, recursive: true);
    }
}

internal static class Vectors
{
    public static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * (double)b[i];
            na += a[i] * (double)a[i];
            nb += b[i] * (double)b[i];
        }

        return dot / Math.Sqrt(na * nb);
    }

    public static double Norm(float[] a) => Math.Sqrt(a.Sum(v => v * (double)v));

    public static double MaxAbsDifference(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - (double)y)).Max();
}
