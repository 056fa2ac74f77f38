using Cocoon.Inference.Embeddings;

namespace Cocoon.Inference.Tests;

public class WordPieceEncoderTests(MiniLmFixture miniLm)
{
    private WordPieceEncoder Encoder => miniLm.Engine.Encoder;

    [Fact]
    public void Encodes_as_cls_wordpieces_sep_with_the_uncased_bert_vocabulary()
    {
        // bert-base-uncased ids: this=2023 is=2003 an=2019 example=2742 sentence=6251; [CLS]=101 [SEP]=102.
        var encoded = Encoder.Encode("This is an example sentence", truncate: false);

        Assert.Equal([101, 2023, 2003, 2019, 2742, 6251, 102], encoded.TokenIds);
        Assert.False(encoded.Truncated);
    }

    [Fact]
    public void Strips_accents_after_lower_casing_as_hugging_face_does_even_in_invariant_globalization_mode()
    {
        // Hugging Face: lower() then NFD then drop Mn, so "Café NAÏVE" reads as "cafe naive" (7668, 15743).
        // Microsoft.ML.Tokenizers alone gives [UNK] here, because string.Normalize is a no-op without ICU.
        var accented = Encoder.Encode("Café NAÏVE", truncate: false);

        Assert.Equal([101, 7668, 15743, 102], accented.TokenIds);
        Assert.Equal(Encoder.Encode("cafe naive", truncate: false).TokenIds, accented.TokenIds);
    }

    [Fact]
    public void Splits_cjk_characters_and_decomposes_hangul_like_the_reference_tokenizer()
    {
        // 東 and 京 are single vocabulary entries; a Hangul syllable decomposes to conjoining jamo under NFD, as in HF.
        Assert.Equal([101, 1879, 1755, 102], Encoder.Encode("東京", truncate: false).TokenIds);
        Assert.Equal(Encoder.Encode("\u1112\u1161\u11AB", truncate: false).TokenIds, Encoder.Encode("한", truncate: false).TokenIds);
    }

    [Theory]
    [InlineData("The weather is lovely today.")]
    [InlineData("It's so sunny outside!")]
    [InlineData("unaffable tokenization of ünïcödé, numbers 12345 and punctuation?!")]
    [InlineData("東京タワー")]
    public void Counts_tokens_as_the_tokenizer_does_including_cls_and_sep(string text)
    {
        var expected = miniLm.ReferenceTokenizer.EncodeToIds(AsciiOrSelf(text), addSpecialTokens: true).Count;

        Assert.Equal(expected, Encoder.CountTokens(text));
        Assert.Equal(expected, miniLm.Engine.CountTokens(text));
        Assert.Equal(expected, Encoder.Encode(text, truncate: false).TokenIds.Length);
    }

    [Fact]
    public void Refuses_an_input_over_the_model_limit_naming_the_input_by_index_not_content()
    {
        var text = string.Join(' ', Enumerable.Repeat("hello", 300));

        var error = Assert.Throws<InferenceException>(() => Encoder.Encode(text, truncate: false, index: 3));

        Assert.Equal(InferenceErrorCodes.InputTooLong, error.Code);
        Assert.Equal("input", error.Param);
        Assert.Equal(3, error.InputIndex);
        Assert.True(error.IsClientError);
        Assert.Contains("302 tokens", error.Message, StringComparison.Ordinal);
        Assert.Contains("at most 256", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hello", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Accepts_an_input_of_exactly_the_limit_and_refuses_one_token_more()
    {
        var exactly = string.Join(' ', Enumerable.Repeat("word", 254));

        Assert.Equal(256, Encoder.Encode(exactly, truncate: false).TokenIds.Length);
        Assert.Throws<InferenceException>(() => Encoder.Encode(exactly + " word", truncate: false));
    }

    [Fact]
    public void Truncates_only_when_asked_keeping_the_first_wordpieces_and_sep()
    {
        var words = Enumerable.Range(0, 300).Select(i => i % 2 == 0 ? "alpha" : "beta").ToArray();
        var full = miniLm.ReferenceTokenizer.EncodeToIds(string.Join(' ', words), addSpecialTokens: true);

        var encoded = Encoder.Encode(string.Join(' ', words), truncate: true);

        Assert.True(encoded.Truncated);
        Assert.Equal(302, encoded.OriginalTokenCount);
        Assert.Equal(256, encoded.TokenIds.Length);
        Assert.Equal(full.Take(255), encoded.TokenIds.Take(255));
        Assert.Equal(102, encoded.TokenIds[^1]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\t\n\u0007")]
    public void Refuses_an_input_with_no_tokens(string text)
    {
        var error = Assert.Throws<InferenceException>(() => Encoder.Encode(text, truncate: true, index: 1));

        Assert.Equal(InferenceErrorCodes.EmptyInput, error.Code);
        Assert.Equal("input", error.Param);
        Assert.Equal(1, error.InputIndex);
    }

    // The reference BertTokenizer cannot strip accents without ICU; compare it on the folded text it would see under HF.
    private static string AsciiOrSelf(string text) => text.Replace("ünïcödé", "unicode", StringComparison.Ordinal);
}
