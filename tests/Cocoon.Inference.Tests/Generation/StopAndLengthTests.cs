using System.Text;
using Cocoon.Inference.Generation;

namespace Cocoon.Inference.Tests.Generation;

public sealed class StopAndLengthTests(TinyLmFixture fixture)
{
    private const string Prompt = "Hello! How are you today? I am";

    [Theory]
    [InlineData(2, 3)]
    [InlineData(6, 1)]
    [InlineData(10, 4)]
    public async Task A_stop_sequence_ends_the_completion_and_never_reaches_the_client(int from, int length)
    {
        var ct = TestContext.Current.CancellationToken;
        var greedy = new GenerationOptions { MaxTokens = 40, Temperature = 0 };
        var full = await Completion.RunAsync(fixture.Engine, Prompt, greedy, ct);
        var stop = CleanWindow(full.Text, from, length);
        var cut = full.Text.IndexOf(stop, StringComparison.Ordinal);

        var stopped = await Completion.RunAsync(fixture.Engine, Prompt, greedy with { Stop = ["never-generated-\u2603", stop] }, ct);

        Assert.Equal(full.Text[..cut], stopped.Text);
        Assert.Equal("stop", stopped.Last.FinishReason);
        // Decoding ends with the token that completed the stop sequence; every token up to it is counted.
        var tokens = Enumerable.Range(1, full.Tokens.Count).First(n => fixture.Engine.Tokenizer.Decode(full.Tokens.Take(n)).Contains(stop, StringComparison.Ordinal));
        Assert.Equal(full.Tokens.Take(tokens), stopped.Tokens);
        Assert.Equal(tokens, stopped.Last.CompletionTokens);
        var sent = new StringBuilder();
        foreach (var chunk in stopped.Chunks)
        {
            sent.Append(chunk.Text);
            Assert.DoesNotContain(stop, sent.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Max_tokens_ends_with_length_and_counts_exactly()
    {
        var ct = TestContext.Current.CancellationToken;
        var completion = await Completion.RunAsync(fixture.Engine, "The cocoon", new GenerationOptions { MaxTokens = 7, Temperature = 0 }, ct);

        Assert.Equal("length", completion.Last.FinishReason);
        Assert.Equal(7, completion.Last.CompletionTokens);
        Assert.Equal(7, completion.Tokens.Count);
        Assert.Equal(fixture.Engine.Tokenizer.Decode(completion.Tokens), completion.Text);
        Assert.All(completion.Chunks, c => Assert.Equal(fixture.Engine.CountTokens("The cocoon"), c.PromptTokens));
        var counts = completion.Chunks.Select(c => c.CompletionTokens).ToList();
        Assert.Equal(counts.Order(), counts);
    }

    [Fact]
    public async Task A_prompt_that_fills_the_context_with_max_tokens_runs_to_the_last_position()
    {
        var ct = TestContext.Current.CancellationToken;
        var prompt = string.Concat(Enumerable.Repeat("one two ", 60));
        var n = fixture.Engine.CountTokens(prompt);
        var maxTokens = fixture.Engine.ContextLength - n;
        Assert.InRange(maxTokens, 4, 200);

        var completion = await Completion.RunAsync(fixture.Engine, prompt, new GenerationOptions { MaxTokens = maxTokens, Temperature = 1, Seed = 3 }, ct);
        Assert.InRange(completion.Last.CompletionTokens, 1, maxTokens);

        var over = Assert.Throws<InferenceException>(() => fixture.Engine.GenerateAsync(prompt, new GenerationOptions { MaxTokens = maxTokens + 1 }, ct));
        Assert.Equal(InferenceErrorCodes.ContextLengthExceeded, over.Code);
        Assert.True(over.IsClientError);
        Assert.Contains(fixture.Engine.ContextLength.ToString(System.Globalization.CultureInfo.InvariantCulture), over.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("one two", over.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Completion_text_holds_back_a_partial_utf8_character_and_a_possible_stop()
    {
        var text = new CompletionText(["ab", "\u00e9z"]);
        var e = Encoding.UTF8.GetBytes("\u00e9");

        Assert.Equal("x", text.Append("xa"u8));
        Assert.Equal("ac", text.Append("c"u8));
        Assert.Equal("", text.Append(e.AsSpan(0, 1)));
        Assert.Equal("", text.Append(e.AsSpan(1)));
        Assert.Equal("\u00e9y", text.Append("y"u8));
        Assert.Equal("", text.Append(e));
        Assert.Equal("", text.Append("z"u8));
        Assert.True(text.Stopped);
        Assert.Equal("", text.Append("more"u8));
    }

    [Fact]
    public void Completion_text_flushes_what_it_held_back_at_the_end()
    {
        var text = new CompletionText(["abc"]);
        Assert.Equal("x", text.Append("xab"u8));
        Assert.Equal("", text.Append([0xE2, 0x98]));
        Assert.Equal("ab\uFFFD", text.Finish());
        Assert.False(text.Stopped);
    }

    private static string CleanWindow(string text, int from, int length)
    {
        for (var i = from; i + length <= text.Length; i++)
        {
            var window = text.Substring(i, length);
            if (!window.Contains('\uFFFD') && !char.IsSurrogate(window[0]) && !char.IsSurrogate(window[^1]))
            {
                return window;
            }
        }

        throw new InvalidOperationException("The greedy completion has no clean window for a stop sequence.");
    }
}
