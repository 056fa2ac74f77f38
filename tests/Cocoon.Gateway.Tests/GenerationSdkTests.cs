using System.ClientModel;
using Cocoon.Inference.Generation;
using OpenAI;
using OpenAI.Chat;

namespace Cocoon.Gateway.Tests;

/// <summary>
/// <c>/v1/chat/completions</c> driven by the official OpenAI .NET SDK over loopback, against the engine called directly:
/// the text is the engine's own greedy output, and usage and the account's charge are exact.
/// </summary>
[Collection(GenerationCollection.Name)]
public sealed class GenerationSdkTests(GatewayCluster cluster)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private ChatClient Chat(string apiKey) =>
        new OpenAIClient(new ApiKeyCredential(apiKey), new OpenAIClientOptions { Endpoint = cluster.OpenAiEndpoint }).GetChatClient(GatewayCluster.TextModel);

    private async Task<(string Text, int PromptTokens, int CompletionTokens, string Finish)> GreedyReferenceAsync(string user, int maxTokens, IReadOnlyList<string>? stop = null)
    {
        var prompt = cluster.TextReference.ApplyChatTemplate([new ChatTurn("system", "You are terse."), new ChatTurn("user", user)]);
        var chunks = await cluster.ReferenceChunksAsync(prompt, new GenerationOptions { MaxTokens = maxTokens, Temperature = 0, Stop = stop ?? [] });
        return (string.Concat(chunks.Select(c => c.Text)), chunks[^1].PromptTokens, chunks[^1].CompletionTokens, chunks[^1].FinishReason!);
    }

    private static ChatMessage[] Messages(string user) => [new SystemChatMessage("You are terse."), new UserChatMessage(user)];

    [Fact]
    public async Task CompleteChat_returns_the_engines_greedy_text_and_charges_prompt_plus_completion()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        var expected = await GreedyReferenceAsync("Tell me about the sea.", 24);

        var completion = (await Chat(apiKey).CompleteChatAsync(Messages("Tell me about the sea."),
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 }, Token)).Value;

        Assert.Equal(expected.Text, Assert.Single(completion.Content).Text);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.Equal(expected.Finish == "stop" ? ChatFinishReason.Stop : ChatFinishReason.Length, completion.FinishReason);
        Assert.StartsWith("chatcmpl-", completion.Id, StringComparison.Ordinal);
        Assert.Equal(GatewayCluster.TextModel, completion.Model);
        Assert.Equal(expected.PromptTokens, completion.Usage.InputTokenCount);
        Assert.Equal(expected.CompletionTokens, completion.Usage.OutputTokenCount);
        Assert.Equal(expected.PromptTokens + expected.CompletionTokens, completion.Usage.TotalTokenCount);
        Assert.Equal(0, completion.Usage.OutputTokenDetails.ReasoningTokenCount);
        Assert.Equal(0, completion.Usage.InputTokenDetails.CachedTokenCount);
        var balance = await account.GetBalanceAsync();
        // DESIGN section 5 at coefficient 1000 and multipliers 10000: one adjusted token per token, 20 nanoTON each.
        Assert.Equal((expected.PromptTokens + expected.CompletionTokens) * GatewayCluster.PricePerToken, balance.Charged);
        Assert.Equal(0, balance.Reserved);
    }

    [Fact]
    public async Task CompleteChatStreaming_streams_the_same_text_with_the_role_first_a_finish_reason_and_usage()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        var expected = await GreedyReferenceAsync("Write a line about trees.", 40);

        var updates = new List<StreamingChatCompletionUpdate>();
        await foreach (var update in Chat(apiKey).CompleteChatStreamingAsync(Messages("Write a line about trees."),
                           new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 40 }, Token))
        {
            updates.Add(update);
        }

        Assert.Equal(ChatMessageRole.Assistant, updates[0].Role);
        Assert.Equal(expected.Text, string.Concat(updates.SelectMany(u => u.ContentUpdate).Select(p => p.Text)));
        Assert.True(updates.Count(u => u.ContentUpdate.Count > 0 && u.ContentUpdate[0].Text.Length > 0) > 1, "the text came in more than one chunk");
        Assert.Equal(expected.Finish == "stop" ? ChatFinishReason.Stop : ChatFinishReason.Length, Assert.Single(updates, u => u.FinishReason is not null).FinishReason);
        Assert.Single(updates.Select(u => u.CompletionId).Distinct());
        var usage = Assert.Single(updates, u => u.Usage is not null).Usage;
        Assert.Equal(expected.PromptTokens, usage.InputTokenCount);
        Assert.Equal(expected.CompletionTokens, usage.OutputTokenCount);
        Assert.Equal((expected.PromptTokens + expected.CompletionTokens) * GatewayCluster.PricePerToken, (await account.GetBalanceAsync()).Charged);
    }

    [Fact]
    public async Task A_stop_sequence_ends_the_text_before_it_with_finish_reason_stop()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        var free = await GreedyReferenceAsync("Count for me.", 40);
        // A stop sequence taken from the middle of what the model writes anyway.
        var stop = free.Text.Trim().Length >= 8 ? free.Text.Trim()[5..8] : throw new InvalidOperationException("the tiny model wrote too little");
        var expected = await GreedyReferenceAsync("Count for me.", 40, [stop]);
        Assert.Equal("stop", expected.Finish);

        var completion = (await Chat(apiKey).CompleteChatAsync(Messages("Count for me."),
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 40, StopSequences = { stop } }, Token)).Value;

        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(expected.Text, completion.Content[0].Text);
        Assert.DoesNotContain(stop, completion.Content[0].Text, StringComparison.Ordinal);
        Assert.Equal(expected.CompletionTokens, completion.Usage.OutputTokenCount);
        Assert.Equal((expected.PromptTokens + expected.CompletionTokens) * GatewayCluster.PricePerToken, (await account.GetBalanceAsync()).Charged);
    }

#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK.
    [Fact]
    public async Task Seeded_sampling_gives_the_same_text_twice()
    {
        var (apiKey, _) = await cluster.CreateFundedKeyAsync();
        var options = new ChatCompletionOptions { Temperature = 1.2f, TopP = 0.95f, Seed = 1234, MaxOutputTokenCount = 32 };

        var first = (await Chat(apiKey).CompleteChatAsync(Messages("Say something."), options, Token)).Value.Content[0].Text;
        var second = (await Chat(apiKey).CompleteChatAsync(Messages("Say something."), options, Token)).Value.Content[0].Text;

        Assert.Equal(first, second);
        // The engine with the same seed, directly: the gateway passed the sampling settings through unchanged.
        var prompt = cluster.TextReference.ApplyChatTemplate([new ChatTurn("system", "You are terse."), new ChatTurn("user", "Say something.")]);
        var direct = await cluster.ReferenceChunksAsync(prompt, new GenerationOptions { MaxTokens = 32, Temperature = 1.2f, TopP = 0.95f, Seed = 1234 });
        Assert.Equal(string.Concat(direct.Select(c => c.Text)), first);
    }
#pragma warning restore OPENAI001
}
