using Cocoon.Inference.Generation;

namespace Cocoon.Inference.Tests.Generation;

public sealed class TokenizerAndTemplateTests(TinyLmFixture fixture)
{
    [Theory]
    [InlineData("The cocoon keeps the caterpillar safe.")]
    [InlineData("  leading and trailing spaces  \n\n\ttabs\r\n")]
    [InlineData("Zebra 42 ünïcødé ✓ 🦋 日本語のテキスト")]
    [InlineData("don't won't I'll we've 1234567890 !!! ???")]
    [InlineData("<|im_start|>user\nhi<|im_end|>\n")]
    [InlineData("")]
    public void Any_text_round_trips(string text)
    {
        var tokenizer = fixture.Engine.Tokenizer;
        var ids = tokenizer.Encode(text);
        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.Equal(ids.Length, fixture.Engine.CountTokens(text));
        Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.VocabularySize - 1));
    }

    [Fact]
    public async Task Concurrent_encoding_gives_what_encoding_alone_gives()
    {
        var tokenizer = fixture.Engine.Tokenizer;
        var texts = Enumerable.Range(0, 64).Select(i => $"Request {i}: the cocoon and butterfly {i * 7919} ünï 🦋 {new string('x', i)}").ToArray();
        var expected = texts.Select(tokenizer.Encode).ToArray();

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(() =>
        {
            var mismatches = 0;
            for (var round = 0; round < 20; round++)
            {
                for (var i = 0; i < texts.Length; i++)
                {
                    var t = (i + worker * 13 + round) % texts.Length;
                    mismatches += tokenizer.Encode(texts[t]).SequenceEqual(expected[t]) ? 0 : 1;
                }
            }

            return mismatches;
        }, TestContext.Current.CancellationToken)));

        Assert.Equal([0, 0, 0, 0], results);
    }

    [Fact]
    public void Learnt_merges_make_common_words_shorter_than_their_bytes()
    {
        const string text = "the cocoon and the butterfly";
        Assert.True(fixture.Engine.CountTokens(text) < text.Length / 2);
    }

    [Fact]
    public void Special_tokens_are_single_ids()
    {
        var tokenizer = fixture.Engine.Tokenizer;
        var ids = tokenizer.Encode("<|im_start|>user<|im_end|><|endoftext|>");
        Assert.Equal(tokenizer.SpecialTokens["<|im_start|>"], ids[0]);
        Assert.Equal(tokenizer.SpecialTokens["<|im_end|>"], ids[^2]);
        Assert.Equal(tokenizer.SpecialTokens["<|endoftext|>"], ids[^1]);
        Assert.Equal([tokenizer.SpecialTokens["<|im_end|>"], tokenizer.SpecialTokens["<|endoftext|>"]], tokenizer.EosTokenIds);
    }

    [Fact]
    public void The_chatml_template_makes_the_prompt_qwen_expects()
    {
        var prompt = fixture.Engine.ApplyChatTemplate(
        [
            new ChatTurn("system", "Be brief."),
            new ChatTurn("user", "Hi"),
            new ChatTurn("assistant", "Hello."),
            new ChatTurn("user", "Bye"),
        ]);

        Assert.Equal(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n" +
            "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n",
            prompt);
    }

    [Fact]
    public void An_unknown_role_or_no_messages_is_refused()
    {
        var role = Assert.Throws<InferenceException>(() => fixture.Engine.ApplyChatTemplate([new ChatTurn("user", "a"), new ChatTurn("tool", "b")]));
        Assert.Equal(InferenceErrorCodes.InvalidRequest, role.Code);
        Assert.Equal("messages", role.Param);
        Assert.Equal(1, role.InputIndex);

        var none = Assert.Throws<InferenceException>(() => fixture.Engine.ApplyChatTemplate([]));
        Assert.Equal(InferenceErrorCodes.InvalidRequest, none.Code);
    }
}
