using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cocoon.Inference.Generation.Onnx;
using Cocoon.Inference.Models;

namespace Cocoon.Inference.Generation;

/// <summary>The shape and seed of a model written by <see cref="TinyModelBuilder"/>.</summary>
public sealed record TinyModelSpec
{
    /// <summary>The deployment name written into the manifest.</summary>
    public string Name { get; init; } = BuiltInModels.TinyLmName;

    /// <summary>Decoder layers.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Model width.</summary>
    public int Hidden { get; init; } = 64;

    /// <summary>Attention heads (each <see cref="Hidden"/> / heads wide).</summary>
    public int Heads { get; init; } = 4;

    /// <summary>Width of the MLP's inner layer.</summary>
    public int FeedForward { get; init; } = 256;

    /// <summary>Context length (the position table's size).</summary>
    public int ContextLength { get; init; } = 256;

    /// <summary>The most BPE merges learnt from the built-in text (fewer when pairs run out).</summary>
    public int MaxMerges { get; init; } = 240;

    /// <summary>Seed of the weights.</summary>
    public ulong Seed { get; init; } = 20261124;

    /// <summary>
    /// The tokenizer written: <see cref="TokenizerKinds.ByteLevelBpe"/> (vocab.json, merges.txt, as Qwen) or
    /// <see cref="TokenizerKinds.SentencePiece"/> (a SentencePiece BPE tokenizer.model with byte fallback, as Llama).
    /// </summary>
    public string Tokenizer { get; init; } = TokenizerKinds.ByteLevelBpe;
}

/// <summary>
/// Writes a small decoder-only transformer as a model folder in the standard ONNX export layout that real models
/// (Qwen, Llama exports by Hugging Face Optimum) use: inputs <c>input_ids</c>, <c>attention_mask</c>,
/// <c>position_ids</c> (int64) and <c>past_key_values.N.key/value</c> (float [batch, heads, past, head_dim]); outputs
/// <c>logits</c> and <c>present.N.key/value</c>. Each layer is pre-norm: LayerNormalization, multi-head attention (causal
/// and <c>attention_mask</c>, cache concatenated in front), a SiLU MLP, residuals; learnt position embeddings; a final
/// norm and an LM head. Weights are drawn from <see cref="TinyModelSpec.Seed"/>, so the same spec gives the same bytes.
/// The tokenizer is byte-level BPE (vocab.json and merges.txt as Hugging Face writes them) with merges learnt from a fixed
/// text, so any text round-trips; ChatML special tokens and template as Qwen uses.
/// </summary>
public static class TinyModelBuilder
{
    /// <summary>The file names written.</summary>
    public const string OnnxFile = "model.onnx", VocabularyFile = "vocab.json", MergesFile = "merges.txt", SentencePieceFile = "tokenizer.model";

    /// <summary>End of text.</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>ChatML: opens a message.</summary>
    public const string ImStart = "<|im_start|>";

    /// <summary>ChatML: closes a message; the model's end of turn.</summary>
    public const string ImEnd = "<|im_end|>";

    /// <summary>Qwen2's pre-tokenizer pattern (tokenizer.json of Qwen/Qwen2.5 and Qwen3): contractions, letters, single digits, punctuation, newlines, spaces.</summary>
    public const string Qwen2Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    // The text the merges are learnt from (written for this purpose).
    private const string Corpus =
        "The cocoon keeps the caterpillar safe while it turns into a butterfly. Inside the cocoon the old body is taken apart " +
        "and a new one is made, wing by wing. When the butterfly is ready it opens the cocoon and rests in the sun until its " +
        "wings are dry. Then it flies away to find flowers, and the empty cocoon stays on the branch.\n" +
        "A worker serves a model inside a trusted machine. The client sends a prompt, the worker answers with tokens, and " +
        "the proxy counts the tokens and pays the worker for the work that was done. Nobody else can read the prompt or the " +
        "answer, not even the owner of the machine.\n" +
        "Hello! How are you today? I am fine, thank you. What is the weather like where you are? It is sunny and warm here, " +
        "and the children are playing in the garden. One, two, three, four, five: numbers are read one digit at a time.\n" +
        "The quick brown fox jumps over the lazy dog. There is the house, and there are the trees, and there is the river " +
        "that runs under the bridge in the middle of the town.";

    /// <summary>Writes the model (model.onnx, vocab.json, merges.txt, manifest.json) into <paramref name="directory"/>.</summary>
    /// <returns>The manifest written.</returns>
    public static ModelManifest Write(string directory, TinyModelSpec? spec = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        spec ??= new TinyModelSpec();
        if (spec.Layers < 1 || spec.Hidden < 1 || spec.Heads < 1 || spec.Hidden % spec.Heads != 0 || spec.FeedForward < 1 ||
            spec.ContextLength < 3 || spec.MaxMerges < 0)
        {
            throw new ArgumentException("The tiny model spec needs at least one layer, a hidden size divisible by the heads, and a context of 3 or more.", nameof(spec));
        }

        if (spec.Tokenizer is not (TokenizerKinds.ByteLevelBpe or TokenizerKinds.SentencePiece))
        {
            throw new ArgumentException($"Tokenizer '{spec.Tokenizer}' is not one the builder writes.", nameof(spec));
        }

        var sentencePiece = spec.Tokenizer == TokenizerKinds.SentencePiece;
        var tokenizerFiles = sentencePiece ? SentencePieceFiles(spec.MaxMerges, out var special) : ByteLevelFiles(spec.MaxMerges, out special);
        var vocabularySize = special.Values.Max() + 1;
        var onnx = BuildOnnx(spec, vocabularySize);

        var files = new List<ModelFileEntry> { new(OnnxFile, ModelStore.Sha256Hex(onnx), onnx.LongLength) };
        files.AddRange(tokenizerFiles.Select(f => new ModelFileEntry(f.Key, ModelStore.Sha256Hex(f.Value), f.Value.LongLength)));
        var manifest = new ModelManifest
        {
            Name = spec.Name,
            Kind = ModelKinds.TextGeneration,
            Files = files,
            OnnxFile = OnnxFile,
            VocabularyFile = sentencePiece ? SentencePieceFile : VocabularyFile,
            MergesFile = sentencePiece ? null : MergesFile,
            Tokenizer = spec.Tokenizer,
            LowerCase = false,
            MaxSequenceLength = spec.ContextLength,
            Dimensions = vocabularySize,
            SpecialTokens = special,
            EosTokens = sentencePiece ? [ImEnd, "</s>"] : [ImEnd, EndOfText],
            ChatTemplate = new ChatTemplate
            {
                Message = ImStart + "{role}\n{content}" + ImEnd + "\n",
                GenerationPrompt = ImStart + "assistant\n",
            },
            NumLayers = spec.Layers,
            NumKvHeads = spec.Heads,
            HeadDim = spec.Hidden / spec.Heads,
        };

        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, OnnxFile), onnx);
        foreach (var (name, bytes) in tokenizerFiles)
        {
            File.WriteAllBytes(Path.Combine(directory, name), bytes);
        }

        WriteHuggingFaceConfigs(directory, spec, vocabularySize, special, sentencePiece);

        File.WriteAllBytes(Path.Combine(directory, ModelManifest.FileName), manifest.ToJson());
        return manifest;
    }

    /// <summary>
    /// config.json, tokenizer_config.json and generation_config.json as Hugging Face writes them (the fields
    /// <see cref="HuggingFaceImport"/> reads), so the folder also looks like an exported model. The manifest does not list
    /// them: nothing reads them at run time.
    /// </summary>
    private static void WriteHuggingFaceConfigs(string directory, TinyModelSpec spec, int vocabularySize, Dictionary<string, int> special, bool sentencePiece)
    {
        WriteJson(Path.Combine(directory, "config.json"), w =>
        {
            w.WriteString("model_type", "cocoon-tiny");
            w.WriteNumber("hidden_size", spec.Hidden);
            w.WriteNumber("intermediate_size", spec.FeedForward);
            w.WriteNumber("num_hidden_layers", spec.Layers);
            w.WriteNumber("num_attention_heads", spec.Heads);
            w.WriteNumber("num_key_value_heads", spec.Heads);
            w.WriteNumber("head_dim", spec.Hidden / spec.Heads);
            w.WriteNumber("vocab_size", vocabularySize);
            w.WriteNumber("max_position_embeddings", spec.ContextLength);
            w.WriteNumber("seed", spec.Seed);
        });
        WriteJson(Path.Combine(directory, "tokenizer_config.json"), w =>
        {
            w.WriteStartObject("added_tokens_decoder");
            foreach (var (token, id) in special.OrderBy(p => p.Value))
            {
                w.WriteStartObject(id.ToString(CultureInfo.InvariantCulture));
                w.WriteString("content", token);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteBoolean("add_bos_token", false);
            w.WriteString("eos_token", sentencePiece ? "</s>" : ImEnd);
            // ChatML, as Qwen's template renders it for plain messages.
            w.WriteString("chat_template",
                "{%- for message in messages %}{{- '" + ImStart + "' + message['role'] + '\\n' + message['content'] + '" + ImEnd + "' + '\\n' }}{%- endfor %}" +
                "{%- if add_generation_prompt %}{{- '" + ImStart + "assistant\\n' }}{%- endif %}");
        });
        WriteJson(Path.Combine(directory, "generation_config.json"), w =>
        {
            w.WriteStartArray("eos_token_id");
            w.WriteNumberValue(special[ImEnd]);
            if (!sentencePiece)
            {
                w.WriteNumberValue(special[EndOfText]);
            }

            w.WriteEndArray();
        });
    }

    private static void WriteJson(string path, Action<Utf8JsonWriter> body)
    {
        using var stream = File.Create(path);
        using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        writer.WriteStartObject();
        body(writer);
        writer.WriteEndObject();
    }

    /// <summary>vocab.json and merges.txt as Hugging Face writes them; the ChatML and end-of-text tokens follow the merges.</summary>
    private static Dictionary<string, byte[]> ByteLevelFiles(int maxMerges, out Dictionary<string, int> special)
    {
        var (vocabulary, merges) = LearnBpe(maxMerges);
        special = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var token in new[] { EndOfText, ImStart, ImEnd })
        {
            special[token] = vocabulary.Count + special.Count;
        }

        var allTokens = new Dictionary<string, int>(vocabulary, StringComparer.Ordinal);
        foreach (var (token, id) in special)
        {
            allTokens[token] = id;
        }

        return new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            [VocabularyFile] = JsonSerializer.SerializeToUtf8Bytes(allTokens, GenerationJsonContext.Default.DictionaryStringInt32),
            [MergesFile] = Encoding.UTF8.GetBytes("#version: 0.2\n" + string.Concat(merges.Select(m => m + "\n"))),
        };
    }

    /// <summary>
    /// A SentencePiece BPE model (sentencepiece_model.proto) laid out as Llama's: &lt;unk&gt; 0, &lt;s&gt; 1, &lt;/s&gt; 2, the 256
    /// byte-fallback pieces &lt;0x00&gt;..&lt;0xFF&gt;, then the corpus's characters and learnt merges (a space is U+2581,
    /// each word starts with one). The merges are learnt on characters and scored by rank; ChatML tokens follow as added tokens.
    /// </summary>
    private static Dictionary<string, byte[]> SentencePieceFiles(int maxMerges, out Dictionary<string, int> special)
    {
        var words = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var word in Corpus.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var piece = "\u2581" + word;
            words[piece] = words.GetValueOrDefault(piece) + 1;
        }

        var characters = words.Keys.SelectMany(w => w.EnumerateRunes()).Select(r => r.ToString()).Distinct().Order(StringComparer.Ordinal).ToList();
        var (learnt, merges) = LearnMerges(words, characters, maxMerges);

        var pieces = new List<(string Piece, float Score, int Type)> { ("<unk>", 0f, 2), ("<s>", 0f, 3), ("</s>", 0f, 3) };
        for (var b = 0; b < 256; b++)
        {
            pieces.Add(($"<0x{b:X2}>", 0f, 6));
        }

        // Merged pieces score by rank (earlier merges win), characters below every merge.
        var merged = learnt.Where(p => !characters.Contains(p.Key)).OrderBy(p => p.Value).Select(p => p.Key).ToList();
        for (var i = 0; i < merged.Count; i++)
        {
            pieces.Add((merged[i], -i, 1));
        }

        for (var i = 0; i < characters.Count; i++)
        {
            pieces.Add((characters[i], -(merges.Count + i + 1), 1));
        }

        var model = new ProtoWriter();
        foreach (var (piece, score, type) in pieces)
        {
            var entry = new ProtoWriter();
            entry.String(1, piece);
            entry.Float(2, score);
            entry.Varint(3, (ulong)type);
            model.Message(1, entry.ToArray());
        }

        var trainer = new ProtoWriter();
        trainer.Varint(3, 2); // model_type BPE
        trainer.Varint(4, (ulong)pieces.Count);
        trainer.Varint(35, 1); // byte_fallback
        trainer.Varint(40, 0); // unk_id
        trainer.Varint(41, 1); // bos_id
        trainer.Varint(42, 2); // eos_id
        trainer.Varint(43, ulong.MaxValue); // pad_id -1
        model.Message(2, trainer.ToArray());

        var normalizer = new ProtoWriter();
        normalizer.String(1, "identity");
        normalizer.Varint(3, 1); // add_dummy_prefix, as Llama
        normalizer.Varint(4, 0); // remove_extra_whitespaces off, so spacing round-trips
        normalizer.Varint(5, 1); // escape_whitespaces
        model.Message(3, normalizer.ToArray());

        special = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            [ImStart] = pieces.Count,
            [ImEnd] = pieces.Count + 1,
        };
        return new Dictionary<string, byte[]>(StringComparer.Ordinal) { [SentencePieceFile] = model.ToArray() };
    }

    /// <summary>
    /// Byte-level BPE training: the corpus split by <see cref="Qwen2Pattern"/>, each piece as byte-level characters; the most
    /// frequent adjacent pair (ties broken by ordinal order) is merged until none occurs twice or the limit is reached.
    /// </summary>
    private static (Dictionary<string, int> Vocabulary, List<string> Merges) LearnBpe(int maxMerges)
    {
        var words = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match match in Regex.Matches(Corpus, Qwen2Pattern))
        {
            var piece = ByteLevelAlphabet.ToText(Encoding.UTF8.GetBytes(match.Value));
            words[piece] = words.GetValueOrDefault(piece) + 1;
        }

        var bytes = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.ToChar((byte)b).ToString()).ToList();
        return LearnMerges(words, bytes, maxMerges);
    }

    /// <summary>
    /// BPE training over <paramref name="words"/> (with counts) from the base <paramref name="symbols"/> (ids 0..): the most
    /// frequent adjacent pair, ties broken by ordinal order, is merged until none occurs twice or the limit is reached.
    /// </summary>
    private static (Dictionary<string, int> Vocabulary, List<string> Merges) LearnMerges(Dictionary<string, int> words, List<string> symbols, int maxMerges)
    {
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var symbol in symbols)
        {
            vocabulary.TryAdd(symbol, vocabulary.Count);
        }

        var split = words.Select(w => (Symbols: w.Key.EnumerateRunes().Select(r => r.ToString()).ToList(), Count: w.Value)).ToList();
        var merges = new List<string>();
        while (merges.Count < maxMerges)
        {
            var pairs = new Dictionary<(string, string), int>();
            foreach (var (parts, count) in split)
            {
                for (var i = 0; i + 1 < parts.Count; i++)
                {
                    var pair = (parts[i], parts[i + 1]);
                    pairs[pair] = pairs.GetValueOrDefault(pair) + count;
                }
            }

            var best = pairs
                .OrderByDescending(p => p.Value)
                .ThenBy(p => p.Key.Item1, StringComparer.Ordinal)
                .ThenBy(p => p.Key.Item2, StringComparer.Ordinal)
                .FirstOrDefault();
            if (best.Value < 2)
            {
                break;
            }

            var (left, right) = best.Key;
            var merged = left + right;
            merges.Add(left + " " + right);
            vocabulary.TryAdd(merged, vocabulary.Count);
            foreach (var (parts, _) in split)
            {
                for (var i = 0; i + 1 < parts.Count; i++)
                {
                    if (parts[i] == left && parts[i + 1] == right)
                    {
                        parts[i] = merged;
                        parts.RemoveAt(i + 1);
                    }
                }
            }
        }

        return (vocabulary, merges);
    }

    private static byte[] BuildOnnx(TinyModelSpec spec, int vocabularySize)
    {
        var g = new OnnxGraphWriter();
        var random = new WeightRandom(spec.Seed);
        int e = spec.Hidden, h = spec.Heads, d = spec.Hidden / spec.Heads, f = spec.FeedForward, v = vocabularySize;

        g.Input("input_ids", OnnxGraphWriter.Int64, "batch_size", "sequence_length");
        g.Input("attention_mask", OnnxGraphWriter.Int64, "batch_size", "total_sequence_length");
        g.Input("position_ids", OnnxGraphWriter.Int64, "batch_size", "sequence_length");
        for (var l = 0; l < spec.Layers; l++)
        {
            g.Input($"past_key_values.{l}.key", OnnxGraphWriter.Float, "batch_size", h, "past_sequence_length", d);
            g.Input($"past_key_values.{l}.value", OnnxGraphWriter.Float, "batch_size", h, "past_sequence_length", d);
        }

        g.Output("logits", OnnxGraphWriter.Float, "batch_size", "sequence_length", v);
        for (var l = 0; l < spec.Layers; l++)
        {
            g.Output($"present.{l}.key", OnnxGraphWriter.Float, "batch_size", h, "total_sequence_length", d);
            g.Output($"present.{l}.value", OnnxGraphWriter.Float, "batch_size", h, "total_sequence_length", d);
        }

        // Constants.
        g.Initializer("c_one", [], [1L]);
        g.Initializer("c_zero", [], [0L]);
        g.Initializer("c_axis1", [1], [1L]);
        g.Initializer("c_axes12", [2], [1L, 2L]);
        g.Initializer("c_fzero", [], [0f]);
        g.Initializer("c_fneg", [], [-1e9f]);
        g.Initializer("c_scale", [], [1f / MathF.Sqrt(d)]);
        g.Initializer("c_heads_shape", [4], [0L, 0L, h, d]);
        g.Initializer("c_hidden_shape", [3], [0L, 0L, e]);

        // Additive mask [batch, 1, sequence, total]: key j is visible to query i (at cache index past + i) when
        // j <= past + i and attention_mask[b, j] is 1; otherwise -1e9, which softmax turns into an exact zero.
        g.Node("Shape", ["attention_mask"], ["mask_shape"]);
        g.Node("Gather", ["mask_shape", "c_one"], ["total_len"], OnnxGraphWriter.Attribute.Of("axis", 0L));
        g.Node("Shape", ["input_ids"], ["ids_shape"]);
        g.Node("Gather", ["ids_shape", "c_one"], ["seq_len"], OnnxGraphWriter.Attribute.Of("axis", 0L));
        g.Node("Sub", ["total_len", "seq_len"], ["past_len"]);
        g.Node("Range", ["past_len", "total_len", "c_one"], ["query_index"]);
        g.Node("Range", ["c_zero", "total_len", "c_one"], ["key_index"]);
        g.Node("Unsqueeze", ["query_index", "c_axis1"], ["query_column"]);
        g.Node("LessOrEqual", ["key_index", "query_column"], ["causal"]);
        g.Node("Cast", ["attention_mask"], ["mask_bool"], OnnxGraphWriter.Attribute.Of("to", (long)OnnxGraphWriter.Bool));
        g.Node("Unsqueeze", ["mask_bool", "c_axes12"], ["mask_4d"]);
        g.Node("And", ["causal", "mask_4d"], ["visible"]);
        g.Node("Where", ["visible", "c_fzero", "c_fneg"], ["attention_bias"]);

        // Embeddings.
        g.Initializer("embed_tokens", [v, e], random.Normal(v * e, 1f));
        g.Initializer("embed_positions", [spec.ContextLength, e], random.Normal(spec.ContextLength * e, 0.5f));
        g.Node("Gather", ["embed_tokens", "input_ids"], ["tok_emb"], OnnxGraphWriter.Attribute.Of("axis", 0L));
        g.Node("Gather", ["embed_positions", "position_ids"], ["pos_emb"], OnnxGraphWriter.Attribute.Of("axis", 0L));
        g.Node("Add", ["tok_emb", "pos_emb"], ["h_0"]);

        var projection = 1f / MathF.Sqrt(e);
        for (var l = 0; l < spec.Layers; l++)
        {
            var x = $"h_{l}";
            var p = $"l{l}_";
            LayerNorm(g, random, e, x, p + "ln1", p + "ln1_out");
            foreach (var name in new[] { "q", "k", "v" })
            {
                Linear(g, random, p + name, p + "ln1_out", e, e, projection, p + name + "_flat");
                g.Node("Reshape", [p + name + "_flat", "c_heads_shape"], [p + name + "_split"]);
                g.Node("Transpose", [p + name + "_split"], [p + name + "_heads"], OnnxGraphWriter.Attribute.Of("perm", new long[] { 0, 2, 1, 3 }));
            }

            g.Node("Concat", [$"past_key_values.{l}.key", p + "k_heads"], [$"present.{l}.key"], OnnxGraphWriter.Attribute.Of("axis", 2L));
            g.Node("Concat", [$"past_key_values.{l}.value", p + "v_heads"], [$"present.{l}.value"], OnnxGraphWriter.Attribute.Of("axis", 2L));
            g.Node("Transpose", [$"present.{l}.key"], [p + "k_t"], OnnxGraphWriter.Attribute.Of("perm", new long[] { 0, 1, 3, 2 }));
            g.Node("MatMul", [p + "q_heads", p + "k_t"], [p + "scores"]);
            g.Node("Mul", [p + "scores", "c_scale"], [p + "scaled"]);
            g.Node("Add", [p + "scaled", "attention_bias"], [p + "biased"]);
            g.Node("Softmax", [p + "biased"], [p + "probs"], OnnxGraphWriter.Attribute.Of("axis", -1L));
            g.Node("MatMul", [p + "probs", $"present.{l}.value"], [p + "context"]);
            g.Node("Transpose", [p + "context"], [p + "context_t"], OnnxGraphWriter.Attribute.Of("perm", new long[] { 0, 2, 1, 3 }));
            g.Node("Reshape", [p + "context_t", "c_hidden_shape"], [p + "context_flat"]);
            Linear(g, random, p + "o", p + "context_flat", e, e, projection, p + "attn_out");
            g.Node("Add", [x, p + "attn_out"], [p + "resid1"]);

            LayerNorm(g, random, e, p + "resid1", p + "ln2", p + "ln2_out");
            Linear(g, random, p + "up", p + "ln2_out", e, f, projection, p + "up_out");
            g.Node("Sigmoid", [p + "up_out"], [p + "gate"]);
            g.Node("Mul", [p + "up_out", p + "gate"], [p + "silu"]);
            Linear(g, random, p + "down", p + "silu", f, e, 1f / MathF.Sqrt(f), p + "mlp_out");
            g.Node("Add", [p + "resid1", p + "mlp_out"], [$"h_{l + 1}"]);
        }

        LayerNorm(g, random, e, $"h_{spec.Layers}", "final_ln", "final_out");
        // A wide LM head spreads the logits (std about 3) so that greedy decoding has clear winners.
        g.Initializer("lm_head", [e, v], random.Normal(e * v, 3f * projection));
        g.Node("MatMul", ["final_out", "lm_head"], ["logits"]);

        var metadata = new Dictionary<string, string>
        {
            ["cocoon.tiny_model.seed"] = spec.Seed.ToString(CultureInfo.InvariantCulture),
        };
        return g.ToModel(spec.Name, opset: 17, metadata);
    }

    private static void LayerNorm(OnnxGraphWriter g, WeightRandom random, int width, string input, string name, string output)
    {
        var gamma = random.Normal(width, 0.1f);
        for (var i = 0; i < gamma.Length; i++)
        {
            gamma[i] += 1f;
        }

        g.Initializer(name + "_weight", [width], gamma);
        g.Initializer(name + "_bias", [width], random.Normal(width, 0.1f));
        g.Node("LayerNormalization", [input, name + "_weight", name + "_bias"], [output],
            OnnxGraphWriter.Attribute.Of("axis", -1L), OnnxGraphWriter.Attribute.Of("epsilon", 1e-5f));
    }

    private static void Linear(OnnxGraphWriter g, WeightRandom random, string name, string input, int inWidth, int outWidth, float std, string output)
    {
        g.Initializer(name + "_weight", [inWidth, outWidth], random.Normal(inWidth * outWidth, std));
        g.Initializer(name + "_bias", [outWidth], random.Normal(outWidth, 0.02f));
        g.Node("MatMul", [input, name + "_weight"], [name + "_mm"]);
        g.Node("Add", [name + "_mm", name + "_bias"], [output]);
    }

    /// <summary>SplitMix64 and Box-Muller: a fixed algorithm, so weights do not depend on the runtime's Random.</summary>
    private sealed class WeightRandom(ulong seed)
    {
        private ulong _state = seed;

        public float[] Normal(int count, float std)
        {
            var values = new float[count];
            for (var i = 0; i < count; i++)
            {
                var u1 = (Next() >> 11) * (1.0 / (1UL << 53));
                var u2 = (Next() >> 11) * (1.0 / (1UL << 53));
                values[i] = (float)(Math.Sqrt(-2.0 * Math.Log(1.0 - u1)) * Math.Cos(2.0 * Math.PI * u2) * std);
            }

            return values;
        }

        private ulong Next()
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
