using Cocoon.Inference.Embeddings;
using Cocoon.Inference.Models;
using Microsoft.ML.OnnxRuntime;

namespace Cocoon.Testing;

/// <summary>
/// all-MiniLM-L6-v2 computed the plain way, as the yardstick for the platform: one text per ONNX Runtime run (no
/// batching, no padding), the model's own WordPiece, last_hidden_state averaged over the positions and divided by its
/// L2 norm, as sentence-transformers computes it. Thread-safe (ONNX Runtime sessions are).
/// </summary>
public sealed class MiniLmReference : IDisposable
{
    private const int Dimensions = 384;
    private readonly InferenceSession _session;
    private readonly WordPieceEncoder _tokenizer;

    /// <summary>Loads the model from a verified model folder.</summary>
    public MiniLmReference(VerifiedModel model)
    {
        _session = new InferenceSession(model.GetFile("model.onnx"));
        _tokenizer = new WordPieceEncoder(model.GetFile("vocab.txt"), lowerCase: true, maxSequenceLength: 512);
    }

    /// <summary>The tokens the model sees for <paramref name="text"/>, [CLS] and [SEP] included.</summary>
    public int TokenCount(string text) => _tokenizer.CountTokens(text);

    /// <summary>The unit-length embedding of <paramref name="text"/>.</summary>
    public float[] Embed(string text)
    {
        var ids = _tokenizer.Encode(text, truncate: false).TokenIds;
        var n = ids.Length;
        long[] shape = [1, n];
        using var inputIds = OrtValue.CreateTensorValueFromMemory(ids.Select(i => (long)i).ToArray(), shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, n).ToArray(), shape);
        using var types = OrtValue.CreateTensorValueFromMemory(new long[n], shape);
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, ["input_ids", "attention_mask", "token_type_ids"], [inputIds, mask, types], ["last_hidden_state"]);
        var states = outputs[0].GetTensorDataAsSpan<float>();
        var mean = new double[Dimensions];
        for (var t = 0; t < n; t++)
        {
            for (var d = 0; d < Dimensions; d++)
            {
                mean[d] += states[(t * Dimensions) + d] / (double)n;
            }
        }

        var norm = Math.Sqrt(mean.Sum(v => v * v));
        return mean.Select(v => (float)(v / norm)).ToArray();
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();
}
