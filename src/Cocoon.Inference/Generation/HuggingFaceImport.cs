using System.Globalization;
using System.Text.Json;
using Cocoon.Inference.Models;

namespace Cocoon.Inference.Generation;

/// <summary>
/// Writes the <c>manifest.json</c> of a text generation model folder as Hugging Face and Optimum leave it: the ONNX export,
/// <c>config.json</c> (layers, key/value heads, head width, vocabulary, context), <c>tokenizer_config.json</c> (added tokens,
/// BOS/EOS, chat template), <c>generation_config.json</c> (EOS ids) and the tokenizer files (<c>vocab.json</c> and
/// <c>merges.txt</c>, or <c>tokenizer.model</c>). Every file the manifest lists gets its SHA-256 and length. A ChatML chat
/// template (Qwen's) is recognised and written in the manifest's own format; any other must be written by hand.
/// </summary>
public static class HuggingFaceImport
{
    /// <summary>Reads the folder and returns the manifest for it (not written).</summary>
    /// <param name="directory">The model folder.</param>
    /// <param name="name">The deployment name.</param>
    /// <param name="onnxFile">The ONNX graph, relative to the folder (for example <c>onnx/model_q4.onnx</c>).</param>
    /// <param name="contextLength">The most tokens a sequence may hold; the model's <c>max_position_embeddings</c> when null.</param>
    /// <exception cref="InferenceException"><see cref="InferenceErrorCodes.InvalidManifest"/> when a file is missing or does not say what is needed.</exception>
    public static ModelManifest CreateManifest(string directory, string name, string onnxFile = "model.onnx", int? contextLength = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var folder = Path.GetFullPath(directory);
        static InferenceException Bad(string why) => new(InferenceErrorCodes.InvalidManifest, "Cannot import the model folder: " + why);

        using var config = Read(folder, "config.json") ?? throw Bad("config.json is missing");
        using var tokenizerConfig = Read(folder, "tokenizer_config.json");
        using var generationConfig = Read(folder, "generation_config.json");
        var model = config.RootElement;
        var heads = Int(model, "num_attention_heads") ?? throw Bad("config.json has no num_attention_heads");
        var layers = Int(model, "num_hidden_layers") ?? throw Bad("config.json has no num_hidden_layers");
        var kvHeads = Int(model, "num_key_value_heads") ?? heads;
        var headDim = Int(model, "head_dim") ?? ((Int(model, "hidden_size") ?? throw Bad("config.json has no hidden_size")) / heads);
        var vocabulary = Int(model, "vocab_size") ?? throw Bad("config.json has no vocab_size");
        var context = contextLength ?? Int(model, "max_position_embeddings") ?? throw Bad("config.json has no max_position_embeddings; give the context length");

        // Added tokens: tokenizer_config.json's added_tokens_decoder { "id": { "content": ... } }.
        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        if (tokenizerConfig?.RootElement.TryGetProperty("added_tokens_decoder", out var added) == true && added.ValueKind == JsonValueKind.Object)
        {
            foreach (var entry in added.EnumerateObject())
            {
                if (int.TryParse(entry.Name, NumberStyles.None, CultureInfo.InvariantCulture, out var id) &&
                    entry.Value.TryGetProperty("content", out var content) && content.GetString() is { Length: > 0 } text)
                {
                    special[text] = id;
                }
            }
        }

        var byId = special.ToDictionary(p => p.Value, p => p.Key);
        var eos = new List<string>();
        void AddEos(string? token)
        {
            if (token is not null && !eos.Contains(token))
            {
                eos.Add(token);
            }
        }

        AddEos(TokenText(tokenizerConfig?.RootElement, "eos_token"));
        if (generationConfig?.RootElement.TryGetProperty("eos_token_id", out var eosIds) == true)
        {
            foreach (var id in eosIds.ValueKind == JsonValueKind.Array ? eosIds.EnumerateArray().ToArray() : [eosIds])
            {
                if (id.TryGetInt32(out var value) && byId.TryGetValue(value, out var token))
                {
                    AddEos(token);
                }
            }
        }

        if (eos.Count == 0)
        {
            throw Bad("no EOS token in tokenizer_config.json or generation_config.json");
        }

        var addBos = tokenizerConfig?.RootElement.TryGetProperty("add_bos_token", out var addBosValue) == true && addBosValue.ValueKind == JsonValueKind.True;
        var bos = addBos ? TokenText(tokenizerConfig?.RootElement, "bos_token") : null;

        string tokenizer;
        string vocabularyFile;
        string? mergesFile = null;
        if (File.Exists(Path.Combine(folder, "vocab.json")) && File.Exists(Path.Combine(folder, "merges.txt")))
        {
            (tokenizer, vocabularyFile, mergesFile) = (TokenizerKinds.ByteLevelBpe, "vocab.json", "merges.txt");
        }
        else if (File.Exists(Path.Combine(folder, "tokenizer.model")))
        {
            (tokenizer, vocabularyFile) = (TokenizerKinds.SentencePiece, "tokenizer.model");
        }
        else
        {
            throw Bad("neither vocab.json with merges.txt nor tokenizer.model is present");
        }

        var template = TokenText(tokenizerConfig?.RootElement, "chat_template") is { } jinja &&
                       jinja.Contains("<|im_start|>", StringComparison.Ordinal) && jinja.Contains("<|im_end|>", StringComparison.Ordinal)
            ? new ChatTemplate { Message = "<|im_start|>{role}\n{content}<|im_end|>\n", GenerationPrompt = "<|im_start|>assistant\n" }
            : null;

        var files = new List<ModelFileEntry>();
        foreach (var file in new[] { onnxFile, vocabularyFile, mergesFile })
        {
            if (file is null)
            {
                continue;
            }

            var path = Path.Combine(folder, file.Replace('/', Path.DirectorySeparatorChar));
            if (!File.Exists(path))
            {
                throw Bad($"'{file}' is missing");
            }

            using var stream = File.OpenRead(path);
            var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
            files.Add(new ModelFileEntry(file, sha, stream.Length));
        }

        return new ModelManifest
        {
            Name = name,
            Kind = ModelKinds.TextGeneration,
            Files = files,
            OnnxFile = onnxFile,
            Tokenizer = tokenizer,
            VocabularyFile = vocabularyFile,
            MergesFile = mergesFile,
            LowerCase = false,
            SpecialTokens = special,
            BosToken = bos,
            EosTokens = eos,
            ChatTemplate = template,
            MaxSequenceLength = context,
            Dimensions = vocabulary,
            NumLayers = layers,
            NumKvHeads = kvHeads,
            HeadDim = headDim,
        };
    }

    private static JsonDocument? Read(string folder, string file)
    {
        var path = Path.Combine(folder, file);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException ex)
        {
            throw new InferenceException(InferenceErrorCodes.InvalidManifest, $"Cannot import the model folder: {file} is not JSON: {ex.Message}", innerException: ex);
        }
    }

    private static int? Int(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.TryGetInt32(out var number) ? number : null;

    /// <summary>A token given as a string or as an object with <c>content</c> (both occur in tokenizer_config.json).</summary>
    private static string? TokenText(JsonElement? element, string property)
    {
        if (element is not { } root || !root.TryGetProperty(property, out var value))
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("content", out var content) => content.GetString(),
            _ => null,
        };
    }
}
