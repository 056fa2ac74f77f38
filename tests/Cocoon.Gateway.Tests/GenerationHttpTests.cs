using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Cocoon.Abstractions.Inference;
using Cocoon.Inference.Generation;

namespace Cocoon.Gateway.Tests;

/// <summary>
/// <c>/v1/chat/completions</c> and <c>/v1/completions</c> over raw HTTP: the exact server-sent events, the legacy completions
/// shapes, refusals (each naming its param, nothing charged), and what a stream that stops early costs.
/// </summary>
[Collection(GenerationCollection.Name)]
public sealed class GenerationHttpTests(GatewayCluster cluster)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private HttpClient Http(string apiKey)
    {
        var http = new HttpClient { BaseAddress = cluster.Gateway };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return http;
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private async Task<IReadOnlyList<GenerationChunk>> GreedyAsync(string prompt, int maxTokens) =>
        await cluster.ReferenceChunksAsync(prompt, new GenerationOptions { MaxTokens = maxTokens, Temperature = 0 });

    private string ChatPrompt(string user) => cluster.TextReference.ApplyChatTemplate([new ChatTurn("user", user)]);

    // The events of an SSE body, each "data: ..." payload; asserts the framing is exactly OpenAI's.
    private static List<string> Events(string body)
    {
        Assert.EndsWith("\n\n", body, StringComparison.Ordinal);
        var events = body[..^2].Split("\n\n");
        Assert.All(events, e => Assert.StartsWith("data: ", e, StringComparison.Ordinal));
        return [.. events.Select(e => e["data: ".Length..])];
    }

    [Fact]
    public async Task Streamed_chat_is_OpenAIs_event_sequence_role_then_text_then_finish_then_usage_then_DONE()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        using var http = Http(apiKey);
        var expected = await GreedyAsync(ChatPrompt("Hello there"), 20);

        using var response = await http.PostAsync("v1/chat/completions", Json("""
            {"model":"cocoon-tiny-lm","messages":[{"role":"user","content":"Hello there"}],"temperature":0,"max_tokens":20,
             "stream":true,"stream_options":{"include_usage":true}}
            """), Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = Events(await response.Content.ReadAsStringAsync(Token));
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        var id = chunks[0].GetProperty("id").GetString()!;
        Assert.StartsWith("chatcmpl-", id, StringComparison.Ordinal);
        Assert.All(chunks, c =>
        {
            Assert.Equal(id, c.GetProperty("id").GetString());
            Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString());
            Assert.Equal("cocoon-tiny-lm", c.GetProperty("model").GetString());
            Assert.True(c.GetProperty("created").GetInt64() > 1_700_000_000);
        });

        // First: the role with empty content. Then text deltas, a delta-less finish chunk, and the usage chunk.
        var first = chunks[0].GetProperty("choices")[0];
        Assert.Equal("assistant", first.GetProperty("delta").GetProperty("role").GetString());
        Assert.Equal("", first.GetProperty("delta").GetProperty("content").GetString());
        var usageChunk = chunks[^1];
        Assert.Equal(0, usageChunk.GetProperty("choices").GetArrayLength());
        var finish = chunks[^2].GetProperty("choices")[0];
        Assert.Equal(expected[^1].FinishReason, finish.GetProperty("finish_reason").GetString());
        Assert.Empty(finish.GetProperty("delta").EnumerateObject());
        var texts = chunks[1..^2].Select(c => c.GetProperty("choices")[0]).ToList();
        Assert.All(texts, t => Assert.Equal(JsonValueKind.Null, t.GetProperty("finish_reason").ValueKind));
        Assert.All(chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
        Assert.Equal(string.Concat(expected.Select(c => c.Text)), string.Concat(texts.Select(t => t.GetProperty("delta").GetProperty("content").GetString())));

        var usage = usageChunk.GetProperty("usage");
        var (prompt, completion) = (expected[^1].PromptTokens, expected[^1].CompletionTokens);
        Assert.Equal(prompt, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(completion, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(prompt + completion, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32());
        var cost = (prompt + completion) * GatewayCluster.PricePerToken;
        Assert.Equal(cost, usageChunk.GetProperty("cocoon").GetProperty("cost_nanoton").GetInt64());
        Assert.Equal("req_" + id["chatcmpl-".Length..], usageChunk.GetProperty("cocoon").GetProperty("request_id").GetString());
        var balance = await account.GetBalanceAsync();
        Assert.Equal(cost, balance.Charged);
        Assert.Equal(balance.Available, usageChunk.GetProperty("cocoon").GetProperty("available_nanoton").GetInt64());
    }

    [Fact]
    public async Task Completions_plain_and_streamed_return_the_engines_greedy_text_of_the_raw_prompt()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        using var http = Http(apiKey);
        const string Prompt = "Once upon a time";
        // OpenAI's default max_tokens for completions is 16.
        var expected = await GreedyAsync(Prompt, 16);
        var text = string.Concat(expected.Select(c => c.Text));

        using var plain = await http.PostAsync("v1/completions", Json("""{"model":"cocoon-tiny-lm","prompt":"Once upon a time","temperature":0}"""), Token);
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        using var body = JsonDocument.Parse(await plain.Content.ReadAsStringAsync(Token));
        var root = body.RootElement;
        Assert.StartsWith("cmpl-", root.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("text_completion", root.GetProperty("object").GetString());
        var choice = Assert.Single(root.GetProperty("choices").EnumerateArray());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal(text, choice.GetProperty("text").GetString());
        Assert.Equal(expected[^1].FinishReason, choice.GetProperty("finish_reason").GetString());
        Assert.Equal(expected[^1].PromptTokens, root.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expected[^1].CompletionTokens, root.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        using var streamed = await http.PostAsync("v1/completions", Json("""{"model":"cocoon-tiny-lm","prompt":["Once upon a time"],"temperature":0,"stream":true}"""), Token);
        var events = Events(await streamed.Content.ReadAsStringAsync(Token));
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.All(chunks, c => Assert.False(c.TryGetProperty("usage", out _), "no usage without include_usage"));
        Assert.Equal(text, string.Concat(chunks.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString())));
        Assert.Equal(expected[^1].FinishReason, chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());

        var tokens = expected[^1].PromptTokens + expected[^1].CompletionTokens;
        Assert.Equal(2 * tokens * GatewayCluster.PricePerToken, (await account.GetBalanceAsync()).Charged);
    }

    public static TheoryData<string, string, string, int, string, string?> BadRequests() => new()
    {
        // name, path, body, status, code, param
        { "tools", "chat/completions", """{"model":"cocoon-tiny-lm","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}""", 400, "unsupported_parameter", "tools" },
        { "logprobs", "chat/completions", """{"model":"cocoon-tiny-lm","messages":[{"role":"user","content":"x"}],"logprobs":true}""", 400, "unsupported_parameter", "logprobs" },
        { "n 2", "chat/completions", """{"model":"cocoon-tiny-lm","messages":[{"role":"user","content":"x"}],"n":2}""", 400, "unsupported_value", "n" },
        { "unknown field", "chat/completions", """{"model":"cocoon-tiny-lm","messages":[{"role":"user","content":"x"}],"temprature":0}""", 400, "unknown_parameter", "temprature" },
        { "temperature too high", "chat/completions", """{"model":"cocoon-tiny-lm","messages":[{"role":"user","content":"x"}],"temperature":2.5}""", 400, "invalid_value", "temperature" },
        { "temperature a string", "chat/completions", """{"model":"cocoon-tiny-lm","messages":[{"role":"user","content":"x"}],"temperature":"hot"}""", 400, "invalid_type", "temperature" },
        { "five stops", "chat/completions", """{"model":"cocoon-tiny-lm","messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]}""", 400, "invalid_value", "stop" },
        { "max_tokens zero", "chat/completions", """{"model":"cocoon-tiny-lm","messages":[{"role":"user","content":"x"}],"max_tokens":0}""", 400, "invalid_value", "max_tokens" },
        { "stream_options without stream", "chat/completions", """{"model":"cocoon-tiny-lm","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}""", 400, "invalid_value", "stream_options" },
        { "no messages", "chat/completions", """{"model":"cocoon-tiny-lm"}""", 400, "missing_required_parameter", "messages" },
        { "empty messages", "chat/completions", """{"model":"cocoon-tiny-lm","messages":[]}""", 400, "invalid_value", "messages" },
        { "tool role", "chat/completions", """{"model":"cocoon-tiny-lm","messages":[{"role":"tool","content":"x"}]}""", 400, "unsupported_value", "messages" },
        { "image part", "chat/completions", """{"model":"cocoon-tiny-lm","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}""", 400, "unsupported_value", "messages" },
        { "echo", "completions", """{"model":"cocoon-tiny-lm","prompt":"x","echo":true}""", 400, "unsupported_parameter", "echo" },
        { "two prompts", "completions", """{"model":"cocoon-tiny-lm","prompt":["a","b"]}""", 400, "unsupported_value", "prompt" },
        { "token prompt", "completions", """{"model":"cocoon-tiny-lm","prompt":[1,2,3]}""", 400, "unsupported_value", "prompt" },
        { "unknown model", "chat/completions", """{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}""", 404, "model_not_found", "model" },
        { "embedding model", "completions", """{"model":"all-minilm-l6-v2","prompt":"x"}""", 400, "wrong_model_kind", "model" },
        { "chat over the context", "chat/completions", """{"model":"cocoon-tiny-lm","messages":[{"role":"user","content":"x"}],"max_tokens":100000}""", 400, "context_length_exceeded", "messages" },
        { "prompt over the context", "completions", "{\"model\":\"cocoon-tiny-lm\",\"prompt\":\"" + string.Concat(Enumerable.Repeat("lorem ipsum ", 400)) + "\"}", 400, "context_length_exceeded", "prompt" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task A_bad_request_gets_the_right_error_and_charges_nothing(string name, string path, string body, int status, string code, string? param)
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        using var http = Http(apiKey);

        using var response = await http.PostAsync("v1/" + path, Json(body), Token);

        Assert.True(status == (int)response.StatusCode, $"{name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Token)}");
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Token));
        Assert.Equal(code, error.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(param, error.RootElement.GetProperty("error").GetProperty("param").GetString());
        var balance = await account.GetBalanceAsync();
        Assert.Equal(0, balance.Charged);
        Assert.Equal(0, balance.Reserved);
    }

    [Fact]
    public async Task An_account_that_cannot_cover_the_worst_case_gets_402_and_nothing_runs()
    {
        // 60 prompt tokens or so plus 100 completion tokens at 20 nanoTON is far above 1000 nanoTON.
        var (apiKey, account) = await cluster.CreateFundedKeyAsync(nanoTon: 1000);
        using var http = Http(apiKey);

        using var response = await http.PostAsync("v1/chat/completions", Json("""
            {"model":"cocoon-tiny-lm","messages":[{"role":"user","content":"Hello"}],"max_tokens":100,"stream":true}
            """), Token);

        Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Token));
        Assert.Equal("insufficient_quota", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        var balance = await account.GetBalanceAsync();
        Assert.Equal((1000, 0, 0), (balance.Balance, balance.Reserved, balance.Charged));
    }

    [Fact]
    public async Task A_caller_that_stops_while_holding_its_third_chunk_pays_exactly_for_the_two_it_acknowledged_and_frees_the_slot()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        var prompt = ChatPrompt("Tell me a long story");
        var reference = await GreedyAsync(prompt, 120);
        var request = new GenerationRequest { Model = GatewayCluster.TextModel, Messages = [new ChatMessage("user", "Tell me a long story")], MaxTokens = 120, Temperature = 0 };

        // The service grain as Cocoon.Client callers (and the gateway) use it: one chunk per call. A chunk counts as delivered
        // once the caller asks for the next one (the gateway asks only after writing it to the client), so a caller that
        // stops while holding a chunk it has not passed on is not charged for that chunk.
        var taken = new List<PaidGenerationChunk>();
        await foreach (var chunk in cluster.Proxy.Grains.GetGrain<IInferenceServiceGrain>(0).ChatAsync(apiKey, request, Token).WithBatchSize(1))
        {
            taken.Add(chunk);
            if (taken.Count == 3)
            {
                break;
            }
        }

        Assert.Equal(string.Concat(reference.Take(3).Select(c => c.Text)), string.Concat(taken.Select(c => c.Text)));
        var balance = await WaitSettledAsync(account);
        Assert.Equal((reference[1].PromptTokens + reference[1].CompletionTokens) * GatewayCluster.PricePerToken, balance.Charged);
        await WaitIdleAsync();
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_stream_pays_only_for_what_was_sent_and_frees_the_slot()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        var prompt = ChatPrompt("Tell me everything");
        var maxTokens = cluster.TextReference.ContextLength - cluster.TextReference.CountTokens(prompt);
        var reference = await GreedyAsync(prompt, maxTokens);
        // No draining of the unread rest on dispose (HttpClient's default keeps the connection for reuse): the client goes away.
        using var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = cluster.Gateway };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = Json($$"""{"model":"cocoon-tiny-lm","messages":[{"role":"user","content":"Tell me everything"}],"temperature":0,"max_tokens":{{maxTokens}},"stream":true}"""),
        };

        using (var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Token))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Token));
            var events = 0;
            while (events < 4 && await reader.ReadLineAsync(Token) is { } line)
            {
                events += line.StartsWith("data: ", StringComparison.Ordinal) ? 1 : 0;
            }
        }

        // Gone after the role chunk and three text chunks: the charge is the prompt plus the completion tokens of the
        // chunks the gateway wrote before it noticed, a prefix of the reference that is at least three chunks long.
        var balance = await WaitSettledAsync(account);
        var charged = balance.Charged / GatewayCluster.PricePerToken;
        Assert.Equal(0, balance.Charged % GatewayCluster.PricePerToken);
        Assert.Contains(charged, reference.Skip(2).Select(c => (long)c.PromptTokens + c.CompletionTokens));
        Assert.True(charged < reference[^1].PromptTokens + reference[^1].CompletionTokens, "generation stopped before the end");
        await WaitIdleAsync();
    }

    private static async Task<Abstractions.Escrow.EscrowBalance> WaitSettledAsync(Abstractions.Escrow.IEscrowAccountGrain account)
    {
        for (var i = 0; i < 200; i++)
        {
            var balance = await account.GetBalanceAsync();
            if (balance.Reserved == 0 && balance.Charged > 0)
            {
                return balance;
            }

            await Task.Delay(25, Token);
        }

        throw new TimeoutException("the stream was never settled");
    }

    private async Task WaitIdleAsync()
    {
        for (var i = 0; i < 200 && cluster.WorkerTextEngines().Any(e => e.Running > 0); i++)
        {
            await Task.Delay(25, Token);
        }

        Assert.All(cluster.WorkerTextEngines(), e => Assert.Equal(0, e.Running));
    }
}
