using System.Security.Cryptography;

namespace Cocoon.Inference.Models;

/// <summary>
/// The worker's model store: a root folder with one sub-folder per model, each holding a <c>manifest.json</c>
/// (<see cref="ModelManifest"/>) and the files it lists. Loading reads every file into memory and checks its
/// SHA-256 against the manifest, and the ONNX file's against the hash the deployment expects, before anything uses
/// it; the runtime is then given the verified bytes, never the path, so a file swapped after the check is not run.
/// </summary>
public sealed class ModelStore
{
    private readonly string _root;

    /// <summary>A store over <paramref name="rootDirectory"/>; models are its sub-folders, named as the models.</summary>
    public ModelStore(string rootDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(rootDirectory);
        _root = Path.GetFullPath(rootDirectory);
    }

    /// <summary>The folder a model of this name lives in.</summary>
    public string GetModelDirectory(string name)
    {
        if (!IsSafeSegment(name))
        {
            throw new InferenceException(InferenceErrorCodes.InvalidManifest, "A model name must be one folder name (letters, digits, '.', '-', '_').");
        }

        return Path.Combine(_root, name);
    }

    /// <summary>Loads and verifies the model called <paramref name="name"/>.</summary>
    /// <param name="name">The model's folder under the store root; must equal the manifest's name.</param>
    /// <param name="expectedOnnxSha256">The ONNX file's SHA-256 the deployment and registry expect, or null to trust the manifest alone.</param>
    /// <exception cref="InferenceException">With <see cref="InferenceErrorCodes.ModelIntegrity"/> or <see cref="InferenceErrorCodes.InvalidManifest"/>.</exception>
    public VerifiedModel Load(string name, string? expectedOnnxSha256 = null)
    {
        var model = LoadFolder(GetModelDirectory(name), expectedOnnxSha256);
        if (model.Manifest.Name != name)
        {
            throw new InferenceException(InferenceErrorCodes.InvalidManifest, $"The folder '{name}' holds a manifest for model '{model.Manifest.Name}'.");
        }

        return model;
    }

    /// <summary>Loads and verifies the model in <paramref name="directory"/>.</summary>
    /// <exception cref="InferenceException">With <see cref="InferenceErrorCodes.ModelIntegrity"/> or <see cref="InferenceErrorCodes.InvalidManifest"/>.</exception>
    public static VerifiedModel LoadFolder(string directory, string? expectedOnnxSha256 = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var folder = Path.GetFullPath(directory);
        var manifestPath = Path.Combine(folder, ModelManifest.FileName);
        if (!File.Exists(manifestPath))
        {
            throw new InferenceException(InferenceErrorCodes.ModelIntegrity, $"No {ModelManifest.FileName} in model folder '{folder}'.");
        }

        var manifest = ModelManifest.Parse(File.ReadAllBytes(manifestPath));
        Validate(manifest);

        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var entry in manifest.Files)
        {
            var path = ResolveInside(folder, entry.Path);
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new InferenceException(InferenceErrorCodes.ModelIntegrity, $"Model '{manifest.Name}': file '{entry.Path}' listed in the manifest is missing.");
            }

            // Check the length first so a wrong (possibly huge) file is refused without reading it.
            if (info.Length != entry.Length)
            {
                throw new InferenceException(InferenceErrorCodes.ModelIntegrity,
                    $"Model '{manifest.Name}': file '{entry.Path}' is {info.Length} bytes, the manifest says {entry.Length}.");
            }

            var bytes = File.ReadAllBytes(path);
            var actual = Sha256Hex(bytes);
            if (!string.Equals(actual, entry.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new InferenceException(InferenceErrorCodes.ModelIntegrity,
                    $"Model '{manifest.Name}': SHA-256 of '{entry.Path}' is {actual}, the manifest says {entry.Sha256}; the model is refused.");
            }

            files.Add(entry.Path, bytes);
        }

        var onnxSha = manifest.Files.First(f => f.Path == manifest.OnnxFile).Sha256.ToLowerInvariant();
        if (expectedOnnxSha256 is not null && !string.Equals(onnxSha, expectedOnnxSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new InferenceException(InferenceErrorCodes.ModelIntegrity,
                $"Model '{manifest.Name}': ONNX SHA-256 is {onnxSha}, the deployment expects {expectedOnnxSha256}; the model is refused.");
        }

        return new VerifiedModel(manifest, folder, onnxSha, files);
    }

    /// <summary>Lower-case hex SHA-256 of <paramref name="bytes"/>.</summary>
    public static string Sha256Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static void Validate(ModelManifest manifest)
    {
        static InferenceException Bad(string why) => new(InferenceErrorCodes.InvalidManifest, "The model manifest is not valid: " + why);

        if (manifest.Format != ModelManifest.CurrentFormat)
        {
            throw Bad($"format {manifest.Format} is not {ModelManifest.CurrentFormat}");
        }

        if (!IsSafeSegment(manifest.Name))
        {
            throw Bad("the name must be one folder name (letters, digits, '.', '-', '_')");
        }

        if (manifest.Kind is not (ModelKinds.Embedding or ModelKinds.TextGeneration))
        {
            throw Bad($"unknown kind '{manifest.Kind}'");
        }

        if (manifest.Files is null || manifest.Files.Count == 0)
        {
            throw Bad("it lists no files");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in manifest.Files)
        {
            if (file is null || string.IsNullOrEmpty(file.Path) || !seen.Add(file.Path))
            {
                throw Bad("a file entry is empty or listed twice");
            }

            if (file.Sha256 is null || file.Sha256.Length != 64 || !file.Sha256.All(Uri.IsHexDigit))
            {
                throw Bad($"file '{file.Path}' has no 64-digit hex SHA-256");
            }

            if (file.Length < 0)
            {
                throw Bad($"file '{file.Path}' has a negative length");
            }
        }

        if (!seen.Contains(manifest.OnnxFile))
        {
            throw Bad($"onnx_file '{manifest.OnnxFile}' is not among the files");
        }

        if (manifest.Kind == ModelKinds.Embedding && (manifest.VocabularyFile is null || !seen.Contains(manifest.VocabularyFile)))
        {
            throw Bad("an embedding model needs a vocabulary_file among its files");
        }

        if (manifest.Kind == ModelKinds.TextGeneration)
        {
            ValidateTextGeneration(manifest, seen);
        }

        if (manifest.MaxSequenceLength < 3 || manifest.Dimensions < 1)
        {
            throw Bad("max_sequence_length must be at least 3 and dimensions at least 1");
        }

        if (manifest.Pooling != "mean")
        {
            throw Bad($"pooling '{manifest.Pooling}' is not supported (only 'mean')");
        }
    }

    private static void ValidateTextGeneration(ModelManifest manifest, HashSet<string> files)
    {
        static InferenceException Bad(string why) => new(InferenceErrorCodes.InvalidManifest, "The model manifest is not valid: " + why);

        if (manifest.Tokenizer is not (TokenizerKinds.ByteLevelBpe or TokenizerKinds.SentencePiece))
        {
            throw Bad($"a text-generation model needs tokenizer '{TokenizerKinds.ByteLevelBpe}' or '{TokenizerKinds.SentencePiece}'");
        }

        if (manifest.VocabularyFile is null || !files.Contains(manifest.VocabularyFile))
        {
            throw Bad("a text-generation model needs a vocabulary_file among its files");
        }

        if (manifest.Tokenizer == TokenizerKinds.ByteLevelBpe && (manifest.MergesFile is null || !files.Contains(manifest.MergesFile)))
        {
            throw Bad("a byte-level BPE tokenizer needs a merges_file among its files");
        }

        if (manifest.NumLayers < 1 || manifest.NumKvHeads < 1 || manifest.HeadDim < 1)
        {
            throw Bad("num_layers, num_kv_heads and head_dim must be at least 1");
        }

        if (manifest.EosTokens is null || manifest.EosTokens.Count == 0 || manifest.EosTokens.Any(string.IsNullOrEmpty))
        {
            throw Bad("a text-generation model needs eos_tokens");
        }

        if (manifest.ChatTemplate is { } template &&
            (string.IsNullOrEmpty(template.Message) || !template.Message.Contains("{content}", StringComparison.Ordinal) ||
             template.GenerationPrompt is null || template.Roles is null || template.Roles.Count == 0))
        {
            throw Bad("chat_template needs a message with {content}, a generation_prompt and roles");
        }
    }

    private static string ResolveInside(string folder, string relative)
    {
        // Manifest paths come from outside the TEE: never let one name a file outside the model folder.
        if (Path.IsPathRooted(relative) || relative.Contains('\\', StringComparison.Ordinal) ||
            relative.Split('/').Any(s => s is "" or "." or ".."))
        {
            throw new InferenceException(InferenceErrorCodes.InvalidManifest, $"The model manifest is not valid: file path '{relative}' leaves the model folder.");
        }

        return Path.Combine(folder, relative.Replace('/', Path.DirectorySeparatorChar));
    }

    private static bool IsSafeSegment(string? name) =>
        !string.IsNullOrEmpty(name) && name is not ("." or "..") &&
        name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_');
}

/// <summary>A model whose files matched its manifest; holds the verified bytes.</summary>
public sealed class VerifiedModel
{
    private readonly IReadOnlyDictionary<string, byte[]> _files;

    internal VerifiedModel(ModelManifest manifest, string directory, string onnxSha256, IReadOnlyDictionary<string, byte[]> files)
    {
        Manifest = manifest;
        Directory = directory;
        OnnxSha256 = onnxSha256;
        _files = files;
    }

    /// <summary>The manifest the files were checked against.</summary>
    public ModelManifest Manifest { get; }

    /// <summary>The folder the model was loaded from.</summary>
    public string Directory { get; }

    /// <summary>Lower-case hex SHA-256 of the ONNX graph: the model hash the registry and receipts name.</summary>
    public string OnnxSha256 { get; }

    /// <summary>The verified bytes of a file the manifest lists.</summary>
    public byte[] GetFile(string path) =>
        _files.TryGetValue(path, out var bytes)
            ? bytes
            : throw new InferenceException(InferenceErrorCodes.InvalidManifest, $"Model '{Manifest.Name}' has no file '{path}'.");
}
