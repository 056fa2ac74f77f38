using Cocoon.Inference.Generation;

namespace Cocoon.Inference.Tests.Generation;

public sealed class OptionValidationTests(TinyLmFixture fixture)
{
    public static TheoryData<string, GenerationOptions> BadOptions => new()
    {
        { "max_tokens", new GenerationOptions { MaxTokens = 0 } },
        { "temperature", new GenerationOptions { MaxTokens = 1, Temperature = -0.1f } },
        { "temperature", new GenerationOptions { MaxTokens = 1, Temperature = 2.5f } },
        { "temperature", new GenerationOptions { MaxTokens = 1, Temperature = float.NaN } },
        { "top_p", new GenerationOptions { MaxTokens = 1, TopP = 0f } },
        { "top_p", new GenerationOptions { MaxTokens = 1, TopP = 1.01f } },
        { "top_k", new GenerationOptions { MaxTokens = 1, TopK = -1 } },
        { "frequency_penalty", new GenerationOptions { MaxTokens = 1, FrequencyPenalty = 2.5f } },
        { "presence_penalty", new GenerationOptions { MaxTokens = 1, PresencePenalty = -3f } },
        { "stop", new GenerationOptions { MaxTokens = 1, Stop = ["a", "b", "c", "d", "e"] } },
        { "stop", new GenerationOptions { MaxTokens = 1, Stop = [""] } },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void A_bad_option_is_refused_naming_it_before_anything_runs(string param, GenerationOptions options)
    {
        var steps = fixture.Engine.DecodeSteps;
        var error = Assert.Throws<InferenceException>(() => fixture.Engine.GenerateAsync("The cocoon", options, TestContext.Current.CancellationToken));

        Assert.Equal(InferenceErrorCodes.InvalidRequest, error.Code);
        Assert.Equal(param, error.Param);
        Assert.True(error.IsClientError);
        Assert.Equal(steps, fixture.Engine.DecodeSteps);
    }

    [Fact]
    public void An_empty_prompt_is_refused()
    {
        var error = Assert.Throws<InferenceException>(() => fixture.Engine.GenerateAsync("", new GenerationOptions { MaxTokens = 1 }, TestContext.Current.CancellationToken));
        Assert.Equal(InferenceErrorCodes.InvalidRequest, error.Code);
        Assert.Equal("prompt", error.Param);
    }

    [Fact]
    public void A_prompt_longer_than_the_context_is_context_length_exceeded()
    {
        var prompt = string.Concat(Enumerable.Repeat("zebra 1 ", 200));
        Assert.True(fixture.Engine.CountTokens(prompt) > fixture.Engine.ContextLength);
        var error = Assert.Throws<InferenceException>(() => fixture.Engine.GenerateAsync(prompt, new GenerationOptions { MaxTokens = 1 }, TestContext.Current.CancellationToken));
        Assert.Equal(InferenceErrorCodes.ContextLengthExceeded, error.Code);
    }
}
