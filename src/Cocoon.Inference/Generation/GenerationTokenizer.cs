using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cocoon.Inference.Models;
using Microsoft.ML.Tokenizers;

namespace Cocoon.Inference.Generation;

/// <summary>
/// A text generation model's tokenizer, from its verified files: <c>Microsoft.ML.Tokenizers</c> encodes (byte-level BPE or
/// SentencePiece, special tokens matched whole), and a table of each token's bytes decodes, so that streamed text is
/// assembled from bytes and a UTF-8 character split over two tokens is never emitted half.
/// </summary>
public sealed class GenerationTokenizer
{
    private readonly Tokenizer _tokenizer;
    private readonly byte[][] _tokenBytes;
    private readonly int? _bosId;

    private GenerationTokenizer(Tokenizer tokenizer, byte[][] tokenBytes, int? bosId, IReadOnlyDictionary<string, int> special, int[] eosIds)
    {
        _tokenizer = tokenizer;
        _tokenBytes = tokenBytes;
        _bosId = bosId;
        SpecialTokens = special;
        EosTokenIds = eosIds;
    }

    /// <summary>The number of token ids (one past the highest).</summary>
    public int VocabularySize => _tokenBytes.Length;

    /// <summary>Ids that end a completion.</summary>
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>Tokens matched whole in text.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>Builds the tokenizer a verified text generation model's manifest describes.</summary>
    /// <exception cref="InferenceException"><see cref="InferenceErrorCodes.InvalidManifest"/> when the files do not make a tokenizer.</exception>
    public static GenerationTokenizer Create(VerifiedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var manifest = model.Manifest;
        var special = new Dictionary<string, int>(manifest.SpecialTokens ?? new Dictionary<string, int>(), StringComparer.Ordinal);
        try
        {
            return manifest.Tokenizer switch
            {
                TokenizerKinds.ByteLevelBpe => CreateByteLevel(model, special),
                TokenizerKinds.SentencePiece => CreateSentencePiece(model, special),
                _ => throw new InferenceException(InferenceErrorCodes.InvalidManifest, $"Model '{manifest.Name}': tokenizer '{manifest.Tokenizer}' is not supported."),
            };
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException or FormatException or IOException or KeyNotFoundException or IndexOutOfRangeException)
        {
            throw new InferenceException(InferenceErrorCodes.InvalidManifest, $"Model '{manifest.Name}': the tokenizer files cannot be read: {ex.Message}", innerException: ex);
        }
    }

    /// <summary>The token ids of <paramref name="text"/>, special tokens recognised, the BOS token first when the model has one.</summary>
    public int[] Encode(string text)
    {
        var ids = _tokenizer.EncodeToIds(text, considerPreTokenization: true, considerNormalization: true);
        if (_bosId is not { } bos)
        {
            return [.. ids];
        }

        var withBos = new int[ids.Count + 1];
        withBos[0] = bos;
        for (var i = 0; i < ids.Count; i++)
        {
            withBos[i + 1] = ids[i];
        }

        return withBos;
    }

    /// <summary>The bytes token <paramref name="id"/> stands for (empty for an id outside the vocabulary).</summary>
    public ReadOnlySpan<byte> TokenBytes(int id) => (uint)id < (uint)_tokenBytes.Length ? _tokenBytes[id] : [];

    /// <summary>The text of <paramref name="ids"/> (invalid UTF-8 becomes U+FFFD).</summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            bytes.AddRange(TokenBytes(id));
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }

    private static GenerationTokenizer CreateByteLevel(VerifiedModel model, Dictionary<string, int> special)
    {
        var manifest = model.Manifest;
        var vocabulary = JsonSerializer.Deserialize(model.GetFile(manifest.VocabularyFile!), GenerationJsonContext.Default.DictionaryStringInt32)
            ?? throw new InferenceException(InferenceErrorCodes.InvalidManifest, $"Model '{manifest.Name}': the vocabulary is empty.");
        var merges = Encoding.UTF8.GetString(model.GetFile(manifest.MergesFile!))
            .Split('\n')
            .Select(line => line.TrimEnd('\r'))
            .Where(line => line.Length > 0 && !line.StartsWith("#version", StringComparison.Ordinal))
            .ToList();
        var pattern = new Regex(manifest.PreTokenizerPattern ?? TinyModelBuilder.Qwen2Pattern, RegexOptions.Compiled);
        var options = new BpeOptions(vocabulary)
        {
            Merges = merges,
            ByteLevel = true,
            SpecialTokens = special.Count > 0 ? special : null,
            PreTokenizer = new RegexPreTokenizer(pattern, special.Count > 0 ? special : null),
        };
        var tokenizer = BpeTokenizer.Create(options);

        var size = Math.Max(vocabulary.Count == 0 ? 0 : vocabulary.Values.Max() + 1, special.Count == 0 ? 0 : special.Values.Max() + 1);
        var table = new byte[size][];
        foreach (var (token, id) in vocabulary)
        {
            if (id >= 0)
            {
                table[id] = ByteLevelAlphabet.ToBytes(token) ?? Encoding.UTF8.GetBytes(token);
            }
        }

        foreach (var (token, id) in special)
        {
            if (id >= 0)
            {
                table[id] = Encoding.UTF8.GetBytes(token);
            }
        }

        return Finish(manifest, tokenizer, table, id => vocabulary.TryGetValue(id, out var v) ? v : special.TryGetValue(id, out var s) ? s : null, special);
    }

    private static GenerationTokenizer CreateSentencePiece(VerifiedModel model, Dictionary<string, int> special)
    {
        var manifest = model.Manifest;
        using var stream = new MemoryStream(model.GetFile(manifest.VocabularyFile!));
        var tokenizer = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false, special.Count > 0 ? special : null);
        var vocabulary = tokenizer.Vocabulary;
        var size = Math.Max(vocabulary.Count == 0 ? 0 : vocabulary.Values.Max() + 1, special.Count == 0 ? 0 : special.Values.Max() + 1);
        var table = new byte[size][];
        foreach (var (piece, id) in vocabulary)
        {
            // SentencePiece: "<0xNN>" is a byte-fallback piece, U+2581 stands for a space.
            table[id] = piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>' &&
                        byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out var b)
                ? [b]
                : Encoding.UTF8.GetBytes(piece.Replace('\u2581', ' '));
        }

        foreach (var (token, id) in special)
        {
            table[id] = Encoding.UTF8.GetBytes(token);
        }

        return Finish(manifest, tokenizer, table, id => vocabulary.TryGetValue(id, out var v) ? v : special.TryGetValue(id, out var s) ? s : null, special);
    }

    private static GenerationTokenizer Finish(ModelManifest manifest, Tokenizer tokenizer, byte[][] table, Func<string, int?> lookup, Dictionary<string, int> special)
    {
        for (var i = 0; i < table.Length; i++)
        {
            table[i] ??= [];
        }

        int Required(string token) => lookup(token)
            ?? throw new InferenceException(InferenceErrorCodes.InvalidManifest, $"Model '{manifest.Name}': token '{token}' named in the manifest is not in the vocabulary.");

        var eos = (manifest.EosTokens ?? []).Select(Required).ToArray();
        int? bos = manifest.BosToken is null ? null : Required(manifest.BosToken);
        return new GenerationTokenizer(tokenizer, table, bos, special, eos);
    }
}
