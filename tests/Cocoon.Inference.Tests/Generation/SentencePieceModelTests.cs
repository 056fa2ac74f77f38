using Cocoon.Inference.Generation;
using Cocoon.Inference.Models;

namespace Cocoon.Inference.Tests.Generation;

/// <summary>The tiny model with a SentencePiece BPE tokenizer (Llama's layout and byte fallback) instead of byte-level BPE.</summary>
public sealed class SentencePieceModelTests : IAsyncLifetime
{
    private readonly TinyLmFixture _reference;
    private string _folder = "";
    private TextGenerationEngine? _engine;

    public SentencePieceModelTests(TinyLmFixture reference) => _reference = reference;

    public ValueTask InitializeAsync()
    {
        _folder = Directory.CreateTempSubdirectory("cocoon-tiny-sp-").FullName;
        TinyModelBuilder.Write(_folder, new TinyModelSpec { Tokenizer = TokenizerKinds.SentencePiece });
        _engine = TextGenerationEngine.Create(ModelStore.LoadFolder(_folder), TinyLmFixture.Options(capacity: 2));
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _engine!.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    [Theory]
    [InlineData("The cocoon keeps the caterpillar safe.")]
    [InlineData("two  spaces, a\nnewline and ünïcødé 🦋 日本")]
    public void Text_round_trips_with_the_dummy_prefix_space_and_byte_fallback(string text)
    {
        var tokenizer = _engine!.Tokenizer;
        var ids = tokenizer.Encode(text);
        // SentencePiece puts a space (U+2581) before the text (add_dummy_prefix); characters outside the pieces become bytes.
        Assert.Equal(" " + text, tokenizer.Decode(ids));
        Assert.All(ids, id => Assert.InRange(id, 3, tokenizer.VocabularySize - 1));
    }

    [Fact]
    public void Added_chat_tokens_and_eos_are_known()
    {
        var tokenizer = _engine!.Tokenizer;
        var ids = tokenizer.Encode("<|im_start|>user\nhi<|im_end|>");
        Assert.Equal(tokenizer.SpecialTokens["<|im_start|>"], ids[0]);
        Assert.Equal(tokenizer.SpecialTokens["<|im_end|>"], ids[^1]);
        Assert.Equal([tokenizer.SpecialTokens["<|im_end|>"], 2], tokenizer.EosTokenIds);
    }

    [Fact]
    public async Task Kv_cached_greedy_decoding_gives_the_tokens_of_full_recompute()
    {
        const string prompt = "The butterfly opens the cocoon";
        var ids = _engine!.Tokenizer.Encode(prompt);
        var expected = new List<int>();
        var sequence = ids.ToList();
        var eos = _engine.Tokenizer.EosTokenIds;
        while (expected.Count < 24 && (expected.Count == 0 || !eos.Contains(expected[^1])))
        {
            var logits = _engine.Model.FullLogits(sequence.ToArray());
            var next = TokenSampler.ArgMax(logits.AsSpan((sequence.Count - 1) * _engine.Model.VocabularySize, _engine.Model.VocabularySize));
            expected.Add(next);
            sequence.Add(next);
        }

        var completion = await Completion.RunAsync(_engine, prompt, new GenerationOptions { MaxTokens = 24, Temperature = 0 }, TestContext.Current.CancellationToken);

        Assert.Equal(expected, completion.Tokens);
        Assert.Equal(_engine.Tokenizer.Decode(expected.Where(t => !eos.Contains(t))), completion.Text);
        Assert.NotEqual(_reference.Manifest.Dimensions, _engine.Model.VocabularySize);
    }
}
