using Cocoon.Inference.Generation;

namespace Cocoon.Inference.Tests.Generation;

public sealed class SamplingTests(TinyLmFixture fixture)
{
    private const string Prompt = "The quick brown fox";

    [Fact]
    public async Task The_same_seed_gives_the_same_tokens_and_another_seed_others()
    {
        var ct = TestContext.Current.CancellationToken;
        var options = new GenerationOptions { MaxTokens = 32, Temperature = 1f, Seed = 42 };
        var first = await Completion.RunAsync(fixture.Engine, Prompt, options, ct);
        var again = await Completion.RunAsync(fixture.Engine, Prompt, options, ct);
        var other = await Completion.RunAsync(fixture.Engine, Prompt, options with { Seed = 43 }, ct);

        Assert.Equal(first.Tokens, again.Tokens);
        Assert.Equal(first.Text, again.Text);
        Assert.NotEqual(first.Tokens, other.Tokens);
        Assert.NotEqual(fixture.ReferenceGreedy(fixture.Engine.Tokenizer.Encode(Prompt), 32), first.Tokens);
    }

    [Fact]
    public async Task Top_k_one_and_a_tiny_top_p_are_greedy()
    {
        var ct = TestContext.Current.CancellationToken;
        var greedy = fixture.ReferenceGreedy(fixture.Engine.Tokenizer.Encode(Prompt), 24);
        var topK = await Completion.RunAsync(fixture.Engine, Prompt, new GenerationOptions { MaxTokens = 24, Temperature = 1.5f, TopK = 1, Seed = 1 }, ct);
        var topP = await Completion.RunAsync(fixture.Engine, Prompt, new GenerationOptions { MaxTokens = 24, Temperature = 1.5f, TopP = 1e-6f, Seed = 1 }, ct);

        Assert.Equal(greedy, topK.Tokens);
        Assert.Equal(greedy, topP.Tokens);
    }

    [Fact]
    public async Task Every_sampled_token_is_among_the_top_k_of_the_reference_logits()
    {
        var ct = TestContext.Current.CancellationToken;
        var prompt = fixture.Engine.Tokenizer.Encode(Prompt);
        var completion = await Completion.RunAsync(fixture.Engine, Prompt, new GenerationOptions { MaxTokens = 24, Temperature = 2f, TopK = 3, Seed = 7 }, ct);

        var sequence = prompt.ToList();
        var notFirst = 0;
        foreach (var token in completion.Tokens)
        {
            var logits = fixture.ReferenceLogits(sequence);
            var top = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(3).ToList();
            Assert.Contains(token, top);
            notFirst += token == top[0] ? 0 : 1;
            sequence.Add(token);
        }

        // At temperature 2 over three candidates, not every pick is the most likely one.
        Assert.True(notFirst > 0);
    }

    [Fact]
    public async Task Every_sampled_token_is_inside_the_top_p_nucleus_of_the_reference_logits()
    {
        var ct = TestContext.Current.CancellationToken;
        var prompt = fixture.Engine.Tokenizer.Encode(Prompt);
        const float topP = 0.5f;
        var completion = await Completion.RunAsync(fixture.Engine, Prompt, new GenerationOptions { MaxTokens = 24, Temperature = 1f, TopP = topP, Seed = 11 }, ct);

        var sequence = prompt.ToList();
        foreach (var token in completion.Tokens)
        {
            var logits = fixture.ReferenceLogits(sequence);
            var max = logits.Max();
            var weights = logits.Select(l => Math.Exp(l - max)).ToArray();
            var total = weights.Sum();
            var nucleus = new HashSet<int>();
            var mass = 0.0;
            foreach (var i in Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i))
            {
                nucleus.Add(i);
                mass += weights[i] / total;
                if (mass >= topP)
                {
                    break;
                }
            }

            Assert.Contains(token, nucleus);
            sequence.Add(token);
        }
    }

    [Theory]
    [InlineData(1.5f, 0f)]
    [InlineData(0f, 2f)]
    [InlineData(0.7f, 0.4f)]
    [InlineData(-1f, 0f)]
    public async Task Penalties_change_greedy_decoding_as_the_reference_computes(float frequency, float presence)
    {
        var ct = TestContext.Current.CancellationToken;
        var prompt = fixture.Engine.Tokenizer.Encode(Prompt);
        var expected = fixture.ReferenceGreedy(prompt, 40, frequency, presence);
        var plain = fixture.ReferenceGreedy(prompt, 40);

        var completion = await Completion.RunAsync(fixture.Engine, Prompt,
            new GenerationOptions { MaxTokens = 40, Temperature = 0, FrequencyPenalty = frequency, PresencePenalty = presence }, ct);

        Assert.Equal(expected, completion.Tokens);
        Assert.NotEqual(plain, completion.Tokens);
    }
}
