using Microsoft.ML.OnnxRuntime;

namespace Cocoon.Inference.Embeddings;

/// <summary>
/// One model run over a batch of encoded inputs: pads to the longest, runs the BERT graph, mean-pools the token states
/// over the attention mask and scales each vector to unit length, as sentence-transformers' Pooling(mean) and
/// Normalize modules do (sentence_transformers/models/Pooling.py, Normalize.py).
/// </summary>
internal sealed class SentenceEmbeddingRunner
{
    private readonly InferenceSession _session;
    private readonly int _dimensions;
    private readonly long _paddingId;
    private readonly bool _normalize;
    private readonly bool _hasTokenTypes;
    private readonly string _outputName;

    public SentenceEmbeddingRunner(InferenceSession session, int dimensions, int paddingId, bool normalize)
    {
        _session = session;
        _dimensions = dimensions;
        _paddingId = paddingId;
        _normalize = normalize;
        var inputs = session.InputMetadata;
        if (!inputs.ContainsKey("input_ids") || !inputs.ContainsKey("attention_mask"))
        {
            throw new InferenceException(InferenceErrorCodes.InvalidManifest, "The embedding model needs inputs 'input_ids' and 'attention_mask'.");
        }

        _hasTokenTypes = inputs.ContainsKey("token_type_ids");
        _outputName = session.OutputMetadata.ContainsKey("last_hidden_state")
            ? "last_hidden_state"
            : session.OutputMetadata.First(o => o.Value.Dimensions.Length == 3).Key;
        var hidden = session.OutputMetadata[_outputName].Dimensions[^1];
        if (hidden > 0 && hidden != dimensions)
        {
            throw new InferenceException(InferenceErrorCodes.InvalidManifest, $"The model's hidden size is {hidden}, the manifest says {dimensions}.");
        }
    }

    /// <summary>Embeds every sequence of the batch; one run of the session.</summary>
    public float[][] Run(IReadOnlyList<int[]> sequences, RunOptions? runOptions = null)
    {
        var batch = sequences.Count;
        var length = 0;
        foreach (var s in sequences)
        {
            length = Math.Max(length, s.Length);
        }

        var ids = new long[batch * length];
        var mask = new long[batch * length];
        for (var b = 0; b < batch; b++)
        {
            var sequence = sequences[b];
            var row = b * length;
            for (var t = 0; t < length; t++)
            {
                var real = t < sequence.Length;
                ids[row + t] = real ? sequence[t] : _paddingId;
                mask[row + t] = real ? 1 : 0;
            }
        }

        long[] shape = [batch, length];
        var names = new List<string>(3) { "input_ids", "attention_mask" };
        var values = new List<OrtValue>(3)
        {
            OrtValue.CreateTensorValueFromMemory(ids, shape),
            OrtValue.CreateTensorValueFromMemory(mask, shape),
        };
        try
        {
            if (_hasTokenTypes)
            {
                names.Add("token_type_ids");
                values.Add(OrtValue.CreateTensorValueFromMemory(new long[batch * length], shape));
            }

            using var ownRunOptions = runOptions is null ? new RunOptions() : null;
            using var outputs = _session.Run(runOptions ?? ownRunOptions!, names, values, [_outputName]);
            var states = outputs[0].GetTensorDataAsSpan<float>();
            if (states.Length != batch * length * _dimensions)
            {
                throw new InferenceException(InferenceErrorCodes.InternalError,
                    $"The model returned {states.Length} values for a [{batch}, {length}, {_dimensions}] output.");
            }

            var vectors = new float[batch][];
            for (var b = 0; b < batch; b++)
            {
                vectors[b] = Pool(states.Slice(b * length * _dimensions, length * _dimensions), sequences[b].Length);
            }

            return vectors;
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>Mean over the first <paramref name="tokens"/> positions (the attention mask's ones), then L2 normalisation.</summary>
    private float[] Pool(ReadOnlySpan<float> states, int tokens)
    {
        var sum = new double[_dimensions];
        for (var t = 0; t < tokens; t++)
        {
            var state = states.Slice(t * _dimensions, _dimensions);
            for (var d = 0; d < _dimensions; d++)
            {
                sum[d] += state[d];
            }
        }

        // Pooling.py clamps the mask sum at 1e-9; Normalize.py divides by max(norm, 1e-12).
        var count = Math.Max(tokens, 1e-9);
        var vector = new float[_dimensions];
        var squares = 0.0;
        for (var d = 0; d < _dimensions; d++)
        {
            var mean = sum[d] / count;
            sum[d] = mean;
            squares += mean * mean;
        }

        var scale = _normalize ? 1.0 / Math.Max(Math.Sqrt(squares), 1e-12) : 1.0;
        for (var d = 0; d < _dimensions; d++)
        {
            vector[d] = (float)(sum[d] * scale);
        }

        return vector;
    }
}
