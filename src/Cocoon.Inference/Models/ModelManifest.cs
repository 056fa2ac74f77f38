using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cocoon.Inference.Models;

/// <summary>
/// The <c>manifest.json</c> of a model folder: what the model is and the SHA-256 of every file it is made of.
/// A model whose files do not match is refused (<see cref="ModelStore"/>).
/// </summary>
public sealed record ModelManifest
{
    /// <summary>The file name of a manifest inside a model folder.</summary>
    public const string FileName = "manifest.json";

    /// <summary>The manifest format this library writes and reads.</summary>
    public const int CurrentFormat = 1;

    /// <summary>Format version; only <see cref="CurrentFormat"/> is read.</summary>
    public int Format { get; init; } = CurrentFormat;

    /// <summary>The deployment name of the model, for example <c>all-minilm-l6-v2</c>.</summary>
    public required string Name { get; init; }

    /// <summary>What the model does: <see cref="ModelKinds.Embedding"/> or <see cref="ModelKinds.TextGeneration"/>.</summary>
    public required string Kind { get; init; }

    /// <summary>Every file of the model, relative to the folder, with its SHA-256 and length.</summary>
    public required IReadOnlyList<ModelFileEntry> Files { get; init; }

    /// <summary>The ONNX graph among <see cref="Files"/>.</summary>
    public required string OnnxFile { get; init; }

    /// <summary>The WordPiece vocabulary among <see cref="Files"/> (embedding models).</summary>
    public string? VocabularyFile { get; init; }

    /// <summary>Whether the tokenizer lower-cases (and strips accents), as the model was trained.</summary>
    public bool LowerCase { get; init; } = true;

    /// <summary>The most tokens, [CLS] and [SEP] included, one input may have.</summary>
    public required int MaxSequenceLength { get; init; }

    /// <summary>The length of an output vector.</summary>
    public required int Dimensions { get; init; }

    /// <summary>How token states become a sentence vector; only <c>mean</c> is supported.</summary>
    public string Pooling { get; init; } = "mean";

    /// <summary>Whether sentence vectors are scaled to unit length.</summary>
    public bool Normalize { get; init; } = true;

    /// <summary>
    /// Text generation: the tokenizer, <see cref="TokenizerKinds.ByteLevelBpe"/> (<see cref="VocabularyFile"/> is a
    /// Hugging Face <c>vocab.json</c>, <see cref="MergesFile"/> its <c>merges.txt</c>) or
    /// <see cref="TokenizerKinds.SentencePiece"/> (<see cref="VocabularyFile"/> is the <c>tokenizer.model</c>).
    /// For text generation <see cref="MaxSequenceLength"/> is the context length and <see cref="Dimensions"/> the
    /// vocabulary size (the width of the logits).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Tokenizer { get; init; }

    /// <summary>Byte-level BPE: the merges file among <see cref="Files"/>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? MergesFile { get; init; }

    /// <summary>Byte-level BPE: the regular expression that splits text before merging; Qwen2's when null.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? PreTokenizerPattern { get; init; }

    /// <summary>Added tokens that are matched whole in text (chat markers, end of text), with their ids.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, int>? SpecialTokens { get; init; }

    /// <summary>A token put before every prompt, or null for none (Qwen has none).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? BosToken { get; init; }

    /// <summary>Tokens that end a completion (finish reason <c>stop</c>); at least one for text generation.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? EosTokens { get; init; }

    /// <summary>How chat messages become a prompt; null for a model without one (completions only).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ChatTemplate? ChatTemplate { get; init; }

    /// <summary>Text generation: the decoder layers (one <c>past_key_values.N.key/value</c> pair each).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int NumLayers { get; init; }

    /// <summary>Text generation: the key/value heads of a layer's cache.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int NumKvHeads { get; init; }

    /// <summary>Text generation: the width of one attention head.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int HeadDim { get; init; }

    /// <summary>Reads a manifest from JSON.</summary>
    /// <exception cref="InferenceException">The JSON is not a manifest.</exception>
    public static ModelManifest Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, ManifestJsonContext.Default.ModelManifest)
                ?? throw new InferenceException(InferenceErrorCodes.InvalidManifest, "The model manifest is empty.");
        }
        catch (JsonException ex)
        {
            throw new InferenceException(InferenceErrorCodes.InvalidManifest, $"The model manifest is not valid: {ex.Message}", innerException: ex);
        }
    }

    /// <summary>Writes this manifest as indented JSON.</summary>
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, ManifestJsonContext.Default.ModelManifest);
}

/// <summary>One file of a model.</summary>
/// <param name="Path">Relative to the model folder; a plain file name or a forward-slash path, never leaving the folder.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the file's bytes.</param>
/// <param name="Length">The file's length in bytes.</param>
public sealed record ModelFileEntry(string Path, string Sha256, long Length);

/// <summary>
/// A chat template in a deliberately small format (not Jinja): the prompt is <see cref="Prefix"/>, then for each
/// message <see cref="Message"/> with <c>{role}</c> and <c>{content}</c> replaced, then <see cref="GenerationPrompt"/>.
/// ChatML (Qwen): message <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c>, generation prompt
/// <c>&lt;|im_start|&gt;assistant\n</c>.
/// </summary>
public sealed record ChatTemplate
{
    /// <summary>One message; must contain <c>{content}</c>.</summary>
    public required string Message { get; init; }

    /// <summary>What opens the assistant's turn after the last message.</summary>
    public required string GenerationPrompt { get; init; }

    /// <summary>Text before the first message.</summary>
    public string Prefix { get; init; } = "";

    /// <summary>The roles a message may have.</summary>
    public IReadOnlyList<string> Roles { get; init; } = ["system", "user", "assistant"];
}

/// <summary>The values of <see cref="ModelManifest.Tokenizer"/>.</summary>
public static class TokenizerKinds
{
    /// <summary>Byte-level BPE (GPT-2, Qwen): <c>vocab.json</c> and <c>merges.txt</c>.</summary>
    public const string ByteLevelBpe = "byte_level_bpe";

    /// <summary>A SentencePiece BPE model (Llama, Mistral): <c>tokenizer.model</c>.</summary>
    public const string SentencePiece = "sentencepiece";
}

/// <summary>The values of <see cref="ModelManifest.Kind"/>.</summary>
public static class ModelKinds
{
    /// <summary>A sentence embedding model.</summary>
    public const string Embedding = "embedding";

    /// <summary>A decoder-only text generation model.</summary>
    public const string TextGeneration = "text-generation";
}

[JsonSourceGenerationOptions(
    WriteIndented = true,
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(ModelManifest))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;
