using Cocoon.Inference.Embeddings;

namespace Cocoon.Inference.Tests;

public class EmbeddingEngineTests(MiniLmFixture miniLm)
{
    private static readonly string[] Texts =
    [
        "The weather is lovely today.",
        "It's so sunny outside!",
        "He drove to the stadium.",
        "This is an example sentence",
        "Each sentence is converted",
        "A man is eating food.",
        "A much longer input, so that every batch it joins has to pad the shorter ones: padding must change nothing at all in the result.",
        "Café",
        "東京",
        "ok",
    ];

    [Fact]
    public async Task Vectors_are_384_dimensional_and_unit_length()
    {
        var result = await miniLm.Engine.EmbedAsync(Texts, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(Texts.Length, result.Vectors.Count);
        Assert.All(result.Vectors, v => Assert.Equal(384, v.Length));
        Assert.All(result.Vectors, v => Assert.Equal(1.0, Vectors.Norm(v), 1e-6));
        Assert.Equal(384, miniLm.Engine.Dimensions);
        Assert.Equal(256, miniLm.Engine.MaxSequenceLength);
    }

    [Fact]
    public async Task Concurrent_batched_requests_equal_unbatched_direct_onnx_runs_to_1e_5()
    {
        var ct = TestContext.Current.CancellationToken;
        // Eight callers at once, each with a different slice: the batcher mixes lengths from several requests.
        var calls = Enumerable.Range(0, 8)
            .Select(i => miniLm.Engine.EmbedAsync(Texts.Skip(i % Texts.Length).Take(3).ToArray(), cancellationToken: ct))
            .ToArray();
        var results = await Task.WhenAll(calls);

        for (var i = 0; i < calls.Length; i++)
        {
            var texts = Texts.Skip(i % Texts.Length).Take(3).ToArray();
            for (var j = 0; j < texts.Length; j++)
            {
                Assert.True(Vectors.MaxAbsDifference(miniLm.Reference(AsHuggingFaceSees(texts[j])), results[i].Vectors[j]) < 1e-5, $"call {i} input {j}");
            }
        }
    }

    [Fact]
    public void One_padded_batch_of_mixed_lengths_equals_one_run_per_text_to_1e_5()
    {
        // The engine's runner on one explicit batch (lengths 7, 32, 3, ...), against one unpadded run per text.
        var runner = new SentenceEmbeddingRunner(miniLm.ReferenceSession, 384, paddingId: 0, normalize: true);
        var sequences = Texts.Select(t => miniLm.Engine.Encoder.Encode(t, truncate: false).TokenIds).ToArray();
        Assert.True(sequences.Select(s => s.Length).Distinct().Count() > 5);

        var batched = runner.Run(sequences);

        for (var i = 0; i < Texts.Length; i++)
        {
            Assert.True(Vectors.MaxAbsDifference(miniLm.Reference(AsHuggingFaceSees(Texts[i])), batched[i]) < 1e-5, Texts[i]);
        }
    }

    [Fact]
    public async Task Reproduces_the_similarities_sentence_transformers_publishes_for_this_model()
    {
        // sentence-transformers' quickstart for all-MiniLM-L6-v2 prints, for these three sentences,
        // similarity [[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]].
        var result = await miniLm.Engine.EmbedAsync(Texts[..3], cancellationToken: TestContext.Current.CancellationToken);
        var v = result.Vectors;

        Assert.Equal(0.6660, Vectors.Cosine(v[0], v[1]), 0.0005);
        Assert.Equal(0.1046, Vectors.Cosine(v[0], v[2]), 0.0005);
        Assert.Equal(0.1411, Vectors.Cosine(v[1], v[2]), 0.0005);
        Assert.True(Vectors.Cosine(v[0], v[1]) > Vectors.Cosine(v[0], v[2]));
    }

    [Fact]
    public async Task Close_sentences_score_higher_than_unrelated_ones()
    {
        string[] texts = ["A man is eating food.", "A man is eating a piece of bread.", "The new movie is awesome.", "A monkey is playing drums."];
        var v = (await miniLm.Engine.EmbedAsync(texts, cancellationToken: TestContext.Current.CancellationToken)).Vectors;

        var close = Vectors.Cosine(v[0], v[1]);
        Assert.True(close > Vectors.Cosine(v[0], v[2]) + 0.3);
        Assert.True(close > Vectors.Cosine(v[0], v[3]) + 0.3);
    }

    [Fact]
    public async Task Matches_the_known_embedding_of_this_is_an_example_sentence()
    {
        // The first eight components, taken once from the unbatched direct path (MiniLmFixture.Reference); they are
        // also the values sentence-transformers prints for this model and sentence in its model-card example
        // (0.0676569, 0.0634959, 0.0487131, 0.0793050, 0.0374480, 0.0026528, 0.0393749, -0.0070984).
        float[] expected = [0.067656904f, 0.063495874f, 0.04871314f, 0.07930491f, 0.037448023f, 0.0026527804f, 0.039374948f, -0.007098409f];

        var vector = (await miniLm.Engine.EmbedAsync(["This is an example sentence"], cancellationToken: TestContext.Current.CancellationToken)).Vectors[0];

        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], vector[i], 1e-5f);
        }
    }

    [Fact]
    public async Task Reports_token_counts_equal_to_the_tokenizer_count_including_cls_and_sep()
    {
        var result = await miniLm.Engine.EmbedAsync(Texts, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(Texts.Select(miniLm.Engine.CountTokens), result.TokenCounts);
        Assert.Equal(8, result.TokenCounts[0]); // [CLS] the weather is lovely today . [SEP]
        Assert.Equal(result.TokenCounts.Sum(), result.TotalTokens);
        Assert.All(result.Truncated, Assert.False);
    }

    [Fact]
    public async Task Refuses_a_too_long_input_unless_truncation_is_asked_and_then_counts_what_ran()
    {
        var ct = TestContext.Current.CancellationToken;
        var longText = string.Join(' ', Enumerable.Repeat("hello world", 200));

        var error = await Assert.ThrowsAsync<InferenceException>(() => miniLm.Engine.EmbedAsync(["short", longText], cancellationToken: ct));
        var result = await miniLm.Engine.EmbedAsync(["short", longText], new EmbeddingOptions { Truncate = true }, ct);

        Assert.Equal(InferenceErrorCodes.InputTooLong, error.Code);
        Assert.Equal(1, error.InputIndex);
        Assert.Equal([false, true], result.Truncated);
        Assert.Equal([3, 256], result.TokenCounts);
        var runner = new SentenceEmbeddingRunner(miniLm.ReferenceSession, 384, paddingId: 0, normalize: true);
        var truncatedIds = miniLm.Engine.Encoder.Encode(longText, truncate: true).TokenIds;
        Assert.True(Vectors.MaxAbsDifference(runner.Run([truncatedIds])[0], result.Vectors[1]) < 1e-5);
    }

    [Fact]
    public async Task Refuses_an_empty_request_and_an_empty_input()
    {
        var ct = TestContext.Current.CancellationToken;

        var none = await Assert.ThrowsAsync<InferenceException>(() => miniLm.Engine.EmbedAsync([], cancellationToken: ct));
        var blank = await Assert.ThrowsAsync<InferenceException>(() => miniLm.Engine.EmbedAsync(["fine", ""], cancellationToken: ct));

        Assert.Equal(InferenceErrorCodes.EmptyInput, none.Code);
        Assert.Equal("input", none.Param);
        Assert.Null(none.InputIndex);
        Assert.Equal(InferenceErrorCodes.EmptyInput, blank.Code);
        Assert.Equal(1, blank.InputIndex);
    }

    [Fact]
    public void Reports_the_model_it_serves()
    {
        Assert.Equal("all-minilm-l6-v2", miniLm.Engine.ModelName);
        Assert.Equal(Cocoon.Inference.Models.BuiltInModels.MiniLmOnnxSha256, miniLm.Engine.ModelSha256);
    }

    // The reference tokenizer (Microsoft.ML.Tokenizers alone) cannot strip accents without ICU, so it is given the
    // text as Hugging Face's normalizer leaves it: lower-cased, "é" without its accent.
    private static string AsHuggingFaceSees(string text) => text == "Café" ? "cafe" : text;
}
