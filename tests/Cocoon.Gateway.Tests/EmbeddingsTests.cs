using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Inference;
using Cocoon.Client;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Cocoon.Gateway.Tests;

public sealed class EmbeddingsTests(GatewayCluster cluster)
{
    private static readonly string[] Sentences =
    [
        "A man is playing a guitar.",
        "Someone is strumming an acoustic guitar on stage.",
        "The quarterly tax filing deadline is next Tuesday.",
        "Ünïcödé text, with punctuation & numbers: 3.14159!",
    ];

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private OpenAIClient OpenAi(string apiKey) =>
        new(new ApiKeyCredential(apiKey), new OpenAIClientOptions { Endpoint = cluster.OpenAiEndpoint });

    [Fact]
    public async Task OpenAI_SDK_gets_unit_vectors_equal_to_an_unbatched_direct_run_and_pays_exactly()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        var before = await account.GetBalanceAsync();

        var result = await OpenAi(apiKey).GetEmbeddingClient(GatewayCluster.Model).GenerateEmbeddingsAsync(Sentences, cancellationToken: Token);

        var embeddings = result.Value;
        Assert.Equal(Sentences.Length, embeddings.Count);
        for (var i = 0; i < Sentences.Length; i++)
        {
            var vector = embeddings[i].ToFloats().Span;
            Assert.Equal(384, vector.Length);
            Assert.Equal(1.0, Vectors.Norm(vector), 5);
            Assert.True(Vectors.MaxAbsDifference(vector, cluster.Reference(Sentences[i])) <= 1e-5, $"input {i} differs from the direct run");
        }

        var tokens = Sentences.Sum(cluster.TokenCount);
        Assert.Equal(tokens, embeddings.Usage.InputTokenCount);
        Assert.Equal(tokens, embeddings.Usage.TotalTokenCount);
        var after = await account.GetBalanceAsync();
        // DESIGN section 5 at coefficient 1000 and multiplier 10000: one adjusted token per token.
        Assert.Equal(tokens * GatewayCluster.PricePerToken, before.Balance - after.Balance);
        Assert.Equal(0, after.Reserved);
    }

    [Fact]
    public async Task Close_sentences_score_higher_than_unrelated_ones()
    {
        var (apiKey, _) = await cluster.CreateFundedKeyAsync();

        var result = await OpenAi(apiKey).GetEmbeddingClient(GatewayCluster.Model).GenerateEmbeddingsAsync(Sentences[..3], cancellationToken: Token);

        var v = result.Value.Select(e => e.ToFloats().ToArray()).ToArray();
        var close = Vectors.Cosine(v[0], v[1]);
        var unrelated = Vectors.Cosine(v[0], v[2]);
        Assert.True(close > unrelated + 0.3, $"close {close:F3} vs unrelated {unrelated:F3}");
    }

    [Fact]
    public async Task Extensions_AI_embedding_generator_works_against_the_gateway()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        IEmbeddingGenerator<string, Embedding<float>> generator = OpenAi(apiKey).GetEmbeddingClient(GatewayCluster.Model).AsIEmbeddingGenerator();

        var embeddings = await generator.GenerateAsync(["The cat sits outside"], cancellationToken: Token);

        var vector = Assert.Single(embeddings).Vector.Span;
        Assert.True(Vectors.MaxAbsDifference(vector, cluster.Reference("The cat sits outside")) <= 1e-5);
        Assert.Equal(cluster.TokenCount("The cat sits outside"), embeddings.Usage!.InputTokenCount);
        Assert.Equal(cluster.TokenCount("The cat sits outside") * GatewayCluster.PricePerToken, (await account.GetBalanceAsync()).Charged);
    }

    [Fact]
    public async Task Float_and_base64_encodings_carry_the_same_vector()
    {
        var (apiKey, _) = await cluster.CreateFundedKeyAsync();
        using var http = Http(apiKey);

        using var floats = await PostAsync(http, """{"model":"all-minilm-l6-v2","input":"same text","encoding_format":"float"}""");
        using var base64 = await PostAsync(http, """{"model":"all-minilm-l6-v2","input":"same text","encoding_format":"base64"}""");

        var f = floats.RootElement.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        var bytes = Convert.FromBase64String(base64.RootElement.GetProperty("data")[0].GetProperty("embedding").GetString()!);
        var b = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, b, 0, bytes.Length);
        Assert.Equal(f, b);
        Assert.Equal("list", floats.RootElement.GetProperty("object").GetString());
        Assert.Equal("embedding", floats.RootElement.GetProperty("data")[0].GetProperty("object").GetString());
    }

    [Fact]
    public async Task A_long_input_is_truncated_only_when_the_caller_asks()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        using var http = Http(apiKey);
        var longText = string.Join(' ', Enumerable.Repeat("word", 400));

        using var refused = await http.PostAsync("v1/embeddings", Json($$"""{"model":"all-minilm-l6-v2","input":"{{longText}}"}"""), Token);
        await AssertErrorAsync(refused, HttpStatusCode.BadRequest, "input_too_long", "input");
        Assert.Equal(0, (await account.GetBalanceAsync()).Charged);

        using var truncated = await PostAsync(http, $$"""{"model":"all-minilm-l6-v2","input":"{{longText}}","truncate":true}""");
        Assert.Equal(256, truncated.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(256 * GatewayCluster.PricePerToken, (await account.GetBalanceAsync()).Charged);
    }

    public static TheoryData<string, string?, int, string, string?> BadRequests() => new()
    {
        // name, body (null: a 10 MB body), status, code, param
        { "unknown model", """{"model":"no-such-model","input":"x"}""", 404, "model_not_found", "model" },
        { "empty string", """{"model":"all-minilm-l6-v2","input":""}""", 400, "empty_input", "input" },
        { "empty array", """{"model":"all-minilm-l6-v2","input":[]}""", 400, "empty_input", "input" },
        { "empty item", """{"model":"all-minilm-l6-v2","input":["a",""]}""", 400, "empty_input", "input" },
        { "input a number", """{"model":"all-minilm-l6-v2","input":5}""", 400, "invalid_type", "input" },
        { "input items not strings", """{"model":"all-minilm-l6-v2","input":["a",{"b":1}]}""", 400, "invalid_type", "input" },
        { "token ids", """{"model":"all-minilm-l6-v2","input":[101,102]}""", 400, "unsupported_input", "input" },
        { "model a number", """{"model":7,"input":"x"}""", 400, "invalid_type", "model" },
        { "model missing", """{"input":"x"}""", 400, "missing_required_parameter", "model" },
        { "input missing", """{"model":"all-minilm-l6-v2"}""", 400, "missing_required_parameter", "input" },
        { "dimensions", """{"model":"all-minilm-l6-v2","input":"x","dimensions":128}""", 400, "unsupported_parameter", "dimensions" },
        { "max_coefficient not a number", """{"model":"all-minilm-l6-v2","input":"x","max_coefficient":"high"}""", 400, "invalid_value", "max_coefficient" },
        { "max_coefficient zero", """{"model":"all-minilm-l6-v2","input":"x","max_coefficient":0}""", 400, "invalid_value", "max_coefficient" },
        { "bad encoding", """{"model":"all-minilm-l6-v2","input":"x","encoding_format":"int8"}""", 400, "invalid_value", "encoding_format" },
        { "unknown field", """{"model":"all-minilm-l6-v2","input":"x","temperature":1}""", 400, "unknown_parameter", "temperature" },
        { "not json", "{model:", 400, "invalid_json", null },
        { "json array", "[1,2]", 400, "invalid_json", null },
        { "10 MB body", null, 413, "request_too_large", null },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task A_bad_request_gets_the_right_error_and_charges_nothing(string name, string? body, int status, string code, string? param)
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        using var http = Http(apiKey);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/embeddings")
        {
            Content = body is null
                ? new ByteArrayContent(Encoding.UTF8.GetBytes("{\"model\":\"all-minilm-l6-v2\",\"input\":\"" + new string('a', 10 * 1024 * 1024) + "\"}"))
                : Json(body),
        };
        // As well-behaved clients do for large bodies: the gateway answers 413 before a byte of the body is sent.
        request.Headers.ExpectContinue = body is null;

        using var response = await http.SendAsync(request, Token);

        await AssertErrorAsync(response, (HttpStatusCode)status, code, param, name);
        Assert.Equal(new EscrowBalance(1_000_000_000, 0, 0, 1_000_000_000), await account.GetBalanceAsync());
    }

    [Fact]
    public async Task Invalid_UTF8_is_refused_and_charges_nothing()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        using var http = Http(apiKey);
        var bytes = Encoding.UTF8.GetBytes("{\"model\":\"all-minilm-l6-v2\",\"input\":\"ab\"}");
        bytes[^4] = 0xFF; // 'a' of "ab" becomes a lone 0xFF byte

        using var response = await http.PostAsync("v1/embeddings", new ByteArrayContent(bytes), Token);

        await AssertErrorAsync(response, HttpStatusCode.BadRequest, "invalid_utf8", null);
        Assert.Equal(0, (await account.GetBalanceAsync()).Charged);
    }

    [Theory]
    [InlineData(null, "missing_api_key")]
    [InlineData("sk-cocoon-not-a-real-key", "invalid_api_key")]
    public async Task A_missing_or_wrong_key_is_401(string? key, string code)
    {
        using var http = Http(key);

        using var response = await http.PostAsync("v1/embeddings", Json("""{"model":"all-minilm-l6-v2","input":"x"}"""), Token);
        using var models = await http.GetAsync("v1/models", Token);

        await AssertErrorAsync(response, HttpStatusCode.Unauthorized, code, null);
        await AssertErrorAsync(models, HttpStatusCode.Unauthorized, code, null);
    }

    [Fact]
    public async Task A_wrong_key_is_401_even_when_the_body_is_malformed_too()
    {
        using var http = Http("sk-cocoon-not-a-real-key");

        using var response = await http.PostAsync("v1/embeddings", Json("{model:"), Token);

        await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_api_key", null);
    }

    [Fact]
    public async Task A_revoked_key_is_401()
    {
        var (apiKey, _) = await cluster.CreateFundedKeyAsync();
        await cluster.Proxy.Grains.GetGrain<Abstractions.Accounts.IApiKeyGrain>(Abstractions.Accounts.ApiKeys.Hash(apiKey)).RevokeAsync();
        using var http = Http(apiKey);

        using var response = await http.PostAsync("v1/embeddings", Json("""{"model":"all-minilm-l6-v2","input":"x"}"""), Token);

        await AssertErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_api_key", null);
    }

    [Fact]
    public async Task An_account_that_cannot_cover_the_worst_case_gets_402_and_keeps_its_balance()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync(nanoTon: 100);
        using var http = Http(apiKey);

        using var response = await http.PostAsync("v1/embeddings", Json("""{"model":"all-minilm-l6-v2","input":"x"}"""), Token);

        await AssertErrorAsync(response, HttpStatusCode.PaymentRequired, "insufficient_quota", null);
        Assert.Equal(new EscrowBalance(100, 0, 0, 100), await account.GetBalanceAsync());
    }

    [Fact]
    public async Task A_deployed_model_with_no_live_worker_is_503_with_Retry_After_and_charges_nothing()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        var model = "idle-" + Guid.NewGuid().ToString("N")[..8];
        await cluster.Proxy.Grains.GetGrain<Abstractions.Models.IModelDeploymentGrain>(model).DeployAsync(new Abstractions.Models.ModelDeployment
        {
            Name = model,
            Kind = Abstractions.Models.ModelKind.Embedding,
            ModelHash = "0000",
            ContextLength = 256,
            Dimensions = 384,
        });
        using var http = Http(apiKey);

        using var response = await http.PostAsync("v1/embeddings", Json("{\"model\":\"" + model + "\",\"input\":\"x\"}"), Token);

        Assert.Equal("1", response.Headers.RetryAfter?.ToString());
        await AssertErrorAsync(response, HttpStatusCode.ServiceUnavailable, "no_worker_available", "model");
        Assert.Equal(new EscrowBalance(1_000_000_000, 0, 0, 1_000_000_000), await account.GetBalanceAsync());
    }

    [Fact]
    public async Task Max_coefficient_below_every_worker_is_503_and_at_their_coefficient_is_served()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        using var http = Http(apiKey);

        using var capped = await http.PostAsync("v1/embeddings", Json("""{"model":"all-minilm-l6-v2","input":"x","max_coefficient":999}"""), Token);
        await AssertErrorAsync(capped, HttpStatusCode.ServiceUnavailable, "no_worker_available", "max_coefficient");
        Assert.Equal(0, (await account.GetBalanceAsync()).Charged);

        using var served = await PostAsync(http, """{"model":"all-minilm-l6-v2","input":"x","max_coefficient":1000}""");
        Assert.Equal(1, served.RootElement.GetProperty("cocoon").GetProperty("attempts").GetInt32());
        Assert.Equal(cluster.TokenCount("x") * GatewayCluster.PricePerToken, (await account.GetBalanceAsync()).Charged);
    }

    [Fact]
    public async Task Models_lists_the_deployment_with_its_live_workers()
    {
        var (apiKey, _) = await cluster.CreateFundedKeyAsync();

        var models = await OpenAi(apiKey).GetOpenAIModelClient().GetModelsAsync(Token);

        var model = Assert.Single(models.Value, m => m.Id == GatewayCluster.Model);
        Assert.Equal("cocoon", model.OwnedBy);
        using var http = Http(apiKey);
        using var raw = JsonDocument.Parse(await http.GetStringAsync("v1/models", Token));
        var listed = raw.RootElement.GetProperty("data").EnumerateArray().Single(m => m.GetProperty("id").GetString() == GatewayCluster.Model);
        Assert.Equal(2, listed.GetProperty("cocoon").GetProperty("workers").GetInt32());
        var loads = listed.GetProperty("cocoon").GetProperty("worker_loads").EnumerateArray().ToList();
        Assert.Equal(2, loads.Count);
        Assert.All(loads, l =>
        {
            Assert.Equal(1000, l.GetProperty("coefficient").GetInt64());
            Assert.Equal(2, l.GetProperty("capacity").GetInt32());
        });
    }

    [Fact]
    public async Task Requests_run_only_on_the_worker_silos_and_spread_over_both()
    {
        var (apiKey, _) = await cluster.CreateFundedKeyAsync();
        using var http = Http(apiKey);

        // Routing prefers the worker with the better recent latency and failure record (earlier tests shape both), so
        // one round of concurrent requests may all land on one worker; the running-count factor and the exploration
        // share reach the other within a few rounds (the chance of 20 rounds missing it is below 1e-5).
        var workers = new HashSet<string>();
        for (var round = 0; round < 20 && workers.Count < 2; round++)
        {
            var answered = await Task.WhenAll(Enumerable.Range(0, 24).Select(async i =>
            {
                using var doc = await PostAsync(http, $$"""{"model":"all-minilm-l6-v2","input":"request number {{round}}.{{i}}"}""");
                return doc.RootElement.GetProperty("cocoon").GetProperty("worker").GetString()!;
            }));
            workers.UnionWith(answered);
        }

        Assert.Equal(["worker-a.all-minilm-l6-v2", "worker-b.all-minilm-l6-v2"], workers.Order().ToArray());
        // The proxy silo has no engine at all: nothing could have run there.
        Assert.Empty(cluster.Proxy.Host.Services.GetService(typeof(Grains.Inference.LocalWorkers)) is Grains.Inference.LocalWorkers local ? local.All : []);
    }

    [Fact]
    public async Task An_app_backend_embeds_through_Cocoon_Client_with_typed_grains()
    {
        var (apiKey, account) = await cluster.CreateFundedKeyAsync();
        await using var client = await CocoonClusterClient.ConnectAsync(new CocoonClientOptions
        {
            ClusterId = cluster.ClusterId,
            ServiceId = cluster.ClusterId,
            MembershipConnectionString = cluster.ConnectionString,
        }, Token);
        var service = client.Grains.GetGrain<IInferenceServiceGrain>(0);

        var response = await service.EmbedAsync(apiKey, new EmbeddingRequest { Model = GatewayCluster.Model, Inputs = ["typed call"] }, Token);
        var refused = await Assert.ThrowsAsync<CocoonApiException>(() =>
            service.EmbedAsync("sk-wrong", new EmbeddingRequest { Model = GatewayCluster.Model, Inputs = ["x"] }, Token));

        Assert.True(Vectors.MaxAbsDifference(response.Result.Vectors[0], cluster.Reference("typed call")) <= 1e-5);
        Assert.Equal(response.CostNanoTon, (await account.GetBalanceAsync()).Charged);
        Assert.Equal(401, refused.Status);
    }

    private HttpClient Http(string? apiKey)
    {
        var http = new HttpClient { BaseAddress = cluster.Gateway, Timeout = TimeSpan.FromSeconds(60) };
        if (apiKey is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        return http;
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task<JsonDocument> PostAsync(HttpClient http, string body)
    {
        using var response = await http.PostAsync("v1/embeddings", Json(body), Token);
        var text = await response.Content.ReadAsStringAsync(Token);
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text);
    }

    private static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code, string? param, string? because = null)
    {
        var text = await response.Content.ReadAsStringAsync(Token);
        Assert.True(status == response.StatusCode, $"{because}: expected {(int)status}, got {(int)response.StatusCode}: {text}");
        using var doc = JsonDocument.Parse(text);
        var error = doc.RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("type").GetString()));
        var actualParam = error.GetProperty("param");
        Assert.Equal(param, actualParam.ValueKind == JsonValueKind.Null ? null : actualParam.GetString());
    }
}
