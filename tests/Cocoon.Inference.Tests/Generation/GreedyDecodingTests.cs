using Cocoon.Inference.Generation;

namespace Cocoon.Inference.Tests.Generation;

public sealed class GreedyDecodingTests(TinyLmFixture fixture)
{
    public static TheoryData<string> Prompts => new()
    {
        "The cocoon",
        "Hello! How are you today?",
        "<|im_start|>user\nWhat is the weather like?<|im_end|>\n<|im_start|>assistant\n",
        "Zebra 42 ünïcødé ✓ 🦋",
    };

    [Theory]
    [MemberData(nameof(Prompts))]
    public async Task Kv_cached_greedy_decoding_gives_the_tokens_of_full_recompute(string prompt)
    {
        var ids = fixture.Engine.Tokenizer.Encode(prompt);
        var expected = fixture.ReferenceGreedy(ids, maxTokens: 24);

        var completion = await Completion.RunAsync(fixture.Engine, prompt, new GenerationOptions { MaxTokens = 24, Temperature = 0 }, TestContext.Current.CancellationToken);
        TestContext.Current.TestOutputHelper?.WriteLine($"{completion.Last.FinishReason}: [{string.Join(",", completion.Tokens)}] {completion.Text}");

        Assert.Equal(expected, completion.Tokens);
        var last = completion.Last;
        Assert.Equal(ids.Length, last.PromptTokens);
        Assert.Equal(expected.Count, last.CompletionTokens);
        var eos = fixture.Engine.Tokenizer.EosTokenIds;
        Assert.Equal(eos.Contains(expected[^1]) ? "stop" : "length", last.FinishReason);
        var visible = expected.Where(t => !eos.Contains(t));
        Assert.Equal(fixture.Engine.Tokenizer.Decode(visible), completion.Text);
        Assert.Single(completion.Chunks, c => c.FinishReason is not null);
        Assert.Null(completion.Chunks[..^1].FirstOrDefault(c => c.FinishReason is not null));
    }
}
