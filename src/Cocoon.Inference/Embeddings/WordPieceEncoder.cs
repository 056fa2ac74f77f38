using Microsoft.ML.Tokenizers;

namespace Cocoon.Inference.Embeddings;

/// <summary>
/// BERT WordPiece tokenization as the model was trained with it (Microsoft.ML.Tokenizers' <see cref="BertTokenizer"/>
/// over the model's vocab.txt): basic tokenization, lower-casing and accent stripping for uncased models, CJK
/// characters split, then <c>[CLS] wordpieces [SEP]</c>. Token counts always include [CLS] and [SEP], because
/// those are positions the model computes.
/// </summary>
public sealed class WordPieceEncoder
{
    private readonly BertTokenizer _tokenizer;
    private readonly bool _lowerCase;

    /// <summary>Builds the tokenizer from a WordPiece vocabulary (one token a line).</summary>
    /// <param name="vocabulary">The bytes of vocab.txt.</param>
    /// <param name="lowerCase">True for uncased models: lower-case and strip accents, as Hugging Face's BertTokenizer does when do_lower_case is set.</param>
    /// <param name="maxSequenceLength">The most tokens, [CLS] and [SEP] included, one input may have.</param>
    public WordPieceEncoder(byte[] vocabulary, bool lowerCase, int maxSequenceLength)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSequenceLength, 3);
        using var stream = new MemoryStream(vocabulary, writable: false);
        _tokenizer = BertTokenizer.Create(stream, new BertOptions
        {
            LowerCaseBeforeTokenization = lowerCase,
            // Hugging Face strips accents whenever it lower-cases and strip_accents is unset (the MiniLM config);
            // that is done by AccentFolding first, because BertTokenizer's own stripping needs ICU normalization.
            RemoveNonSpacingMarks = false,
            ApplyBasicTokenization = true,
            IndividuallyTokenizeCjk = true,
            SplitOnSpecialTokens = true,
        });
        MaxSequenceLength = maxSequenceLength;
        _lowerCase = lowerCase;
    }

    /// <summary>The most tokens, [CLS] and [SEP] included, one input may have.</summary>
    public int MaxSequenceLength { get; }

    /// <summary>The id of [PAD], used to fill shorter sequences of a batch.</summary>
    public int PaddingTokenId => _tokenizer.PaddingTokenId;

    /// <summary>The number of tokens <paramref name="text"/> becomes, [CLS] and [SEP] included, before any truncation.</summary>
    public int CountTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return WordPieces(text).Count + 2;
    }

    /// <summary>Encodes one input to <c>[CLS] wordpieces [SEP]</c>.</summary>
    /// <param name="text">The input.</param>
    /// <param name="truncate">When true, an input longer than <see cref="MaxSequenceLength"/> keeps its first wordpieces; otherwise it is refused.</param>
    /// <param name="index">The input's index in its request, for the error.</param>
    /// <exception cref="InferenceException"><see cref="InferenceErrorCodes.EmptyInput"/> or <see cref="InferenceErrorCodes.InputTooLong"/>.</exception>
    public EncodedInput Encode(string text, bool truncate, int index = 0)
    {
        if (text is null)
        {
            throw new InferenceException(InferenceErrorCodes.InvalidRequest, $"Input {index} is null.", "input", index);
        }

        var pieces = WordPieces(text);
        if (pieces.Count == 0)
        {
            throw new InferenceException(InferenceErrorCodes.EmptyInput, $"Input {index} is empty: it has no tokens.", "input", index);
        }

        var room = MaxSequenceLength - 2;
        var truncated = pieces.Count > room;
        if (truncated && !truncate)
        {
            throw new InferenceException(InferenceErrorCodes.InputTooLong,
                $"Input {index} has {pieces.Count + 2} tokens; this model accepts at most {MaxSequenceLength} ([CLS] and [SEP] included). Shorten it or ask for truncation.",
                "input", index);
        }

        var kept = truncated ? room : pieces.Count;
        var ids = new int[kept + 2];
        ids[0] = _tokenizer.ClassificationTokenId;
        for (var i = 0; i < kept; i++)
        {
            ids[i + 1] = pieces[i];
        }

        ids[kept + 1] = _tokenizer.SeparatorTokenId;
        return new EncodedInput(ids, truncated ? pieces.Count + 2 : ids.Length);
    }

    private IReadOnlyList<int> WordPieces(string text) =>
        _tokenizer.EncodeToIds(_lowerCase ? AccentFolding.LowerAndStrip(text) : text, addSpecialTokens: false);
}

/// <summary>One input as the model sees it.</summary>
/// <param name="TokenIds">[CLS] wordpieces [SEP], at most the model's limit long.</param>
/// <param name="OriginalTokenCount">The tokens the whole input had, [CLS] and [SEP] included; larger than <see cref="TokenIds"/>' length when truncated.</param>
public sealed record EncodedInput(int[] TokenIds, int OriginalTokenCount)
{
    /// <summary>True when wordpieces beyond the model's limit were dropped.</summary>
    public bool Truncated => OriginalTokenCount > TokenIds.Length;
}
