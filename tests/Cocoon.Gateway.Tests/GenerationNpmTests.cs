using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cocoon.Inference.Generation;

namespace Cocoon.Gateway.Tests;

/// <summary>
/// The official <c>openai</c> npm package (tests/openai-npm-oracle) against the gateway over loopback: chat and completions,
/// plain and streamed, equal to the engine's greedy output, with exact usage and charges.
/// </summary>
[Collection(GenerationCollection.Name)]
public sealed class GenerationNpmTests(GatewayCluster cluster)
{
    [Fact]
    public async Task The_openai_npm_package_gets_the_engines_text_usage_and_errors()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        const string User = "Hello from npm";
        const string Prompt = "The package says";
        var chat = await cluster.ReferenceChunksAsync(cluster.TextReference.ApplyChatTemplate([new ChatTurn("user", User)]), new GenerationOptions { MaxTokens = 20, Temperature = 0 });
        var completion = await cluster.ReferenceChunksAsync(Prompt, new GenerationOptions { MaxTokens = 12, Temperature = 0 });
        var chatText = string.Concat(chat.Select(c => c.Text));
        var completionText = string.Concat(completion.Select(c => c.Text));

        var result = await RunAsync(new { baseURL = cluster.OpenAiEndpoint.ToString(), apiKey, model = GatewayCluster.TextModel, chatUser = User, prompt = Prompt });

        var plain = result["chat"]!;
        Assert.StartsWith("chatcmpl-", (string)plain["id"]!, StringComparison.Ordinal);
        Assert.Equal("chat.completion", (string)plain["object"]!);
        Assert.Equal("assistant", (string)plain["role"]!);
        Assert.Equal(chatText, (string)plain["text"]!);
        Assert.Equal(chat[^1].FinishReason, (string)plain["finish"]!);
        AssertUsage(plain["usage"]!, chat[^1]);

        var stream = result["chatStream"]!;
        Assert.Single(stream["ids"]!.AsArray());
        Assert.Equal("chat.completion.chunk", (string)Assert.Single(stream["objects"]!.AsArray())!);
        Assert.Equal("assistant", (string)stream["firstRole"]!);
        Assert.Equal(chatText, (string)stream["text"]!);
        Assert.Equal(chat[^1].FinishReason, (string)Assert.Single(stream["finishes"]!.AsArray())!);
        Assert.Equal(0, (int)stream["lastChoices"]!);
        AssertUsage(stream["usage"]!, chat[^1]);

        Assert.Equal(chatText, (string)result["chatHelper"]!["text"]!);
        Assert.Equal(chat[^1].FinishReason, (string)result["chatHelper"]!["finish"]!);

        var legacy = result["completion"]!;
        Assert.StartsWith("cmpl-", (string)legacy["id"]!, StringComparison.Ordinal);
        Assert.Equal("text_completion", (string)legacy["object"]!);
        Assert.Equal(completionText, (string)legacy["text"]!);
        Assert.Equal(completion[^1].FinishReason, (string)legacy["finish"]!);
        AssertUsage(legacy["usage"]!, completion[^1]);
        Assert.Equal(completionText, (string)result["completionStream"]!["text"]!);
        Assert.Equal(completion[^1].FinishReason, (string)Assert.Single(result["completionStream"]!["finishes"]!.AsArray())!);
        AssertUsage(result["completionStream"]!["usage"]!, completion[^1]);

        var refused = result["refused"]!;
        Assert.Equal(400, (int)refused["status"]!);
        Assert.Equal("unsupported_parameter", (string)refused["code"]!);
        Assert.Equal("logprobs", (string)refused["param"]!);

        // Three chats and two completions were served and paid; the refusal cost nothing.
        var tokens = 3 * (chat[^1].PromptTokens + chat[^1].CompletionTokens) + 2 * (completion[^1].PromptTokens + completion[^1].CompletionTokens);
        var balance = await account.GetBalanceAsync();
        Assert.Equal(tokens * GatewayCluster.PricePerToken, balance.Charged);
        Assert.Equal(0, balance.Reserved);
    }

    private static void AssertUsage(JsonNode usage, GenerationChunk last)
    {
        Assert.Equal(last.PromptTokens, (int)usage["prompt_tokens"]!);
        Assert.Equal(last.CompletionTokens, (int)usage["completion_tokens"]!);
        Assert.Equal(last.PromptTokens + last.CompletionTokens, (int)usage["total_tokens"]!);
    }

    private static async Task<JsonNode> RunAsync(object input)
    {
        var dir = NpmOracleDirectory();
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "openai")))
        {
            var (code, _, err) = await RunProcessAsync("npm", "ci --no-audit --no-fund", dir, null, TimeSpan.FromMinutes(5));
            Assert.True(code == 0, $"`npm ci` in {dir} failed ({code}): {err}");
        }

        var (exit, output, error) = await RunProcessAsync("node", "oracle.mjs", dir, JsonSerializer.Serialize(input), TimeSpan.FromMinutes(2));
        Assert.True(exit == 0, $"the npm oracle failed ({exit}): {error}");
        return JsonNode.Parse(output)!;
    }

    private static string NpmOracleDirectory()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "tests", "openai-npm-oracle")))
        {
            dir = dir.Parent;
        }

        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("cannot find tests/openai-npm-oracle above " + AppContext.BaseDirectory), "tests", "openai-npm-oracle");
    }

    private static async Task<(int Code, string Out, string Err)> RunProcessAsync(string file, string args, string dir, string? stdin, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file, args)
        {
            WorkingDirectory = dir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"`{file}` is not installed or not on PATH; the npm oracle test needs Node.js and npm ({e.Message})", e);
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            await process.StandardInput.WriteAsync(stdin ?? "");
            process.StandardInput.Close();
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"`{file} {args}` did not finish within {timeout}.");
            }

            return (process.ExitCode, await output, await error);
        }
    }
}

/// <summary>The generation tests run one after another: they check that the workers' engines are idle afterwards.</summary>
[CollectionDefinition(Name)]
public sealed class GenerationCollection
{
    public const string Name = "generation";
}
