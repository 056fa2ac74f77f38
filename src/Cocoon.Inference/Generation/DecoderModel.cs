using Cocoon.Inference.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Cocoon.Inference.Generation;

/// <summary>
/// One ONNX Runtime session over a decoder-only model in the standard export layout, and the one forward pass everything
/// else is built from: token ids [batch, sequence], positions, an attention mask over cache and new tokens
/// [batch, past + sequence], and each layer's key/value cache [batch, heads, past, head_dim] in; logits and the grown
/// caches out. Outputs are returned as ONNX Runtime values so a decode step can hand its caches to the next without a copy.
/// </summary>
internal sealed class DecoderModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly bool _hasPositionIds;

    public DecoderModel(InferenceSession session, ModelManifest manifest)
    {
        _session = session;
        Layers = manifest.NumLayers;
        Heads = manifest.NumKvHeads;
        HeadDim = manifest.HeadDim;
        VocabularySize = manifest.Dimensions;
        ContextLength = manifest.MaxSequenceLength;

        var inputs = session.InputMetadata;
        var outputs = session.OutputMetadata;
        InferenceException Bad(string why) => new(InferenceErrorCodes.InvalidManifest, $"Model '{manifest.Name}': the ONNX graph does not fit the manifest: {why}.");

        foreach (var name in new[] { "input_ids", "attention_mask" })
        {
            if (!inputs.ContainsKey(name))
            {
                throw Bad($"no input '{name}'");
            }
        }

        _hasPositionIds = inputs.ContainsKey("position_ids");
        var inputNames = new List<string> { "input_ids", "attention_mask" };
        if (_hasPositionIds)
        {
            inputNames.Add("position_ids");
        }

        var outputNames = new List<string> { "logits" };
        if (!outputs.TryGetValue("logits", out var logits))
        {
            throw Bad("no output 'logits'");
        }

        var logitsWidth = logits.Dimensions.Length == 3 ? logits.Dimensions[2] : -1;
        if (logitsWidth > 0 && logitsWidth != VocabularySize)
        {
            throw Bad($"logits are {logitsWidth} wide, dimensions says {VocabularySize}");
        }

        for (var l = 0; l < Layers; l++)
        {
            foreach (var part in new[] { "key", "value" })
            {
                var past = $"past_key_values.{l}.{part}";
                var present = $"present.{l}.{part}";
                if (!inputs.TryGetValue(past, out var pastMeta) || !outputs.ContainsKey(present))
                {
                    throw Bad($"no '{past}' input or '{present}' output");
                }

                if (pastMeta.ElementDataType != TensorElementType.Float)
                {
                    throw Bad($"'{past}' is {pastMeta.ElementDataType}; only float32 caches are supported");
                }

                var dims = pastMeta.Dimensions;
                if (dims.Length != 4 || (dims[1] > 0 && dims[1] != Heads) || (dims[3] > 0 && dims[3] != HeadDim))
                {
                    throw Bad($"'{past}' is not [batch, {Heads}, past, {HeadDim}]");
                }

                inputNames.Add(past);
                outputNames.Add(present);
            }
        }

        if (inputs.Count != inputNames.Count)
        {
            throw Bad("it has inputs besides input_ids, attention_mask, position_ids and the caches");
        }

        _inputNames = [.. inputNames];
        _outputNames = [.. outputNames];
    }

    public int Layers { get; }

    public int Heads { get; }

    public int HeadDim { get; }

    public int VocabularySize { get; }

    public int ContextLength { get; }

    /// <summary>
    /// One forward pass. <paramref name="caches"/> holds 2 x <see cref="Layers"/> values (key then value per layer), each
    /// [batch, heads, past, head_dim]. The result holds logits [batch, sequence, vocabulary] first, then the grown caches in
    /// the same order; the caller disposes it.
    /// </summary>
    public IDisposableReadOnlyCollection<OrtValue> Run(long[] ids, long[] positions, long[] mask, int batch, int sequence, IReadOnlyList<OrtValue> caches)
    {
        var total = mask.Length / batch;
        var values = new OrtValue[_inputNames.Length];
        var created = new List<OrtValue>(3);
        try
        {
            var i = 0;
            values[i++] = Track(OrtValue.CreateTensorValueFromMemory(ids, [batch, sequence]));
            values[i++] = Track(OrtValue.CreateTensorValueFromMemory(mask, [batch, total]));
            if (_hasPositionIds)
            {
                values[i++] = Track(OrtValue.CreateTensorValueFromMemory(positions, [batch, sequence]));
            }

            for (var c = 0; c < caches.Count; c++)
            {
                values[i++] = caches[c];
            }

            using var runOptions = new RunOptions();
            return _session.Run(runOptions, _inputNames, values, _outputNames);
        }
        finally
        {
            foreach (var value in created)
            {
                value.Dispose();
            }
        }

        OrtValue Track(OrtValue value)
        {
            created.Add(value);
            return value;
        }
    }

    /// <summary>Empty caches [batch, heads, 0, head_dim] for a pass without history; the caller disposes them.</summary>
    public OrtValue[] EmptyCaches(int batch)
    {
        var caches = new OrtValue[2 * Layers];
        for (var c = 0; c < caches.Length; c++)
        {
            caches[c] = OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [batch, Heads, 0, HeadDim]);
        }

        return caches;
    }

    /// <summary>
    /// Runs <paramref name="tokens"/> from position 0 with no cache and returns the logits at every position
    /// ([tokens.Length x vocabulary]): the full-recompute reference that KV-cached decoding must equal.
    /// </summary>
    public float[] FullLogits(ReadOnlySpan<int> tokens)
    {
        var n = tokens.Length;
        var ids = new long[n];
        var positions = new long[n];
        var mask = new long[n];
        for (var i = 0; i < n; i++)
        {
            ids[i] = tokens[i];
            positions[i] = i;
            mask[i] = 1;
        }

        var empty = EmptyCaches(1);
        try
        {
            using var outputs = Run(ids, positions, mask, 1, n, empty);
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }
        finally
        {
            foreach (var value in empty)
            {
                value.Dispose();
            }
        }
    }

    public void Dispose() => _session.Dispose();
}
