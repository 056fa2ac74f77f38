using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Cocoon.Security.Tests;

/// <summary>
/// Bad input over HTTP (issue 10 item 3): every malformed, oversized, mistyped or unauthenticated request to the gateway's
/// POST endpoints gets a 4xx OpenAI error object (error.message, type, code, param), never a 500, and the caller's account
/// is unchanged afterwards; a body that never finishes is cut off and the gateway keeps serving.
/// </summary>
public sealed class HttpBadInputTests(SecurityCluster cluster)
{
    private const string Model = SecurityCluster.Model;
    private static readonly string[] Endpoints = ["/v1/embeddings", "/v1/chat/completions", "/v1/completions"];

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Bodies every endpoint must refuse.</summary>
    private static IEnumerable<(string Name, byte[] Body)> CommonBodies()
    {
        static (string, byte[]) T(string name, string body) => (name, Encoding.UTF8.GetBytes(body));
        yield return T("empty", "");
        yield return T("truncated", "{\"model\":");
        yield return T("not json", "model=x&input=y");
        yield return T("null", "null");
        yield return T("array", "[]");
        yield return T("number", "42");
        yield return T("string", "\"hello\"");
        yield return T("trailing comma", $$"""{"model":"{{Model}}",}""");
        yield return T("comment", $$"""{"model":"{{Model}}" /* hi */}""");
        yield return T("two documents", $$"""{"model":"{{Model}}"}{"model":"{{Model}}"}""");
        yield return T("nested arrays 10000 deep", new string('[', 10_000) + new string(']', 10_000));
        yield return T("nested objects 10000 deep", string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000));
        yield return T("deep value in model", $$"""{"model":{{new string('[', 5_000)}}{{new string(']', 5_000)}}}""");
        yield return ("invalid utf-8", [.. "{\"model\":\""u8, 0xff, 0xfe, 0xc3, .. "\",\"input\":\"x\"}"u8]);
        yield return ("lone surrogate escape", Encoding.UTF8.GetBytes($$"""{"model":"{{Model}}","input":"\ud800","prompt":"\ud800","messages":[{"role":"user","content":"\ud800"}],"max_tokens":"x"}"""));
        yield return T("model missing", """{"input":"x","prompt":"x","messages":[{"role":"user","content":"x"}]}""");
        foreach (var model in new[] { "1", "true", "null", "[]", "{}", "\"\"", "1.5" })
        {
            yield return T("model " + model, $$"""{"model":{{model}},"input":"x","prompt":"x","messages":[{"role":"user","content":"x"}]}""");
        }

        yield return T("model 10 KB", $$"""{"model":"{{new string('a', 10_240)}}","input":"x","prompt":"x","messages":[{"role":"user","content":"x"}]}""");
        yield return T("model with control characters", """{"model":"\u0000\u0001\n\u001b[31m","input":"x","prompt":"x","messages":[{"role":"user","content":"x"}]}""");
        yield return T("model path traversal", """{"model":"../../../../etc/passwd","input":"x","prompt":"x","messages":[{"role":"user","content":"x"}]}""");
        yield return T("model url-ish", """{"model":"http://169.254.169.254/latest","input":"x","prompt":"x","messages":[{"role":"user","content":"x"}]}""");
        yield return T("unknown field", $$"""{"model":"{{Model}}","input":"x","prompt":"x","messages":[{"role":"user","content":"x"}],"bogus_field":1}""");
    }

    private static IEnumerable<(string Name, string Body)> EmbeddingBodies()
    {
        foreach (var input in new[] { "1", "true", "null", "{}", "[1]", "[[1,2]]", "[]", "[null]", "[\"a\", 1]" })
        {
            yield return ("input " + input, $$"""{"model":"{{Model}}","input":{{input}}}""");
        }

        yield return ("input missing", $$"""{"model":"{{Model}}"}""");
        yield return ("too many inputs", $$"""{"model":"{{Model}}","input":[{{string.Join(',', Enumerable.Repeat("\"x\"", 2049))}}]}""");
        yield return ("input too long", $$"""{"model":"{{Model}}","input":"{{string.Concat(Enumerable.Repeat("word ", 2_000))}}"}""");
        foreach (var (field, value) in new[]
        {
            ("encoding_format", "1"), ("encoding_format", "\"bogus\""), ("truncate", "\"yes\""), ("truncate", "1"),
            ("max_coefficient", "\"x\""), ("max_coefficient", "-1"), ("max_coefficient", "1.5"), ("max_coefficient", "1e30"),
            ("max_coefficient", "99999999999999999999999"), ("user", "5"), ("user", "{}"), ("dimensions", "10"),
        })
        {
            yield return ($"{field} {value}", $$"""{"model":"{{Model}}","input":"x","{{field}}":{{value}}}""");
        }

        yield return ("unknown model", """{"model":"no-such-model","input":"x"}""");
    }

    private static IEnumerable<(string Name, string Body)> GenerationBodies(bool chat)
    {
        var content = chat ? "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" : "\"prompt\":\"hi\"";
        foreach (var maxTokens in new[] { "-1", "0", "1.5", "\"10\"", "1e12", "99999999999999999999", "-99999999999999999999", "null,\"max_tokens\":-5", "true", "[]" })
        {
            yield return ("max_tokens " + maxTokens, $$"""{"model":"{{Model}}",{{content}},"max_tokens":{{maxTokens}}}""");
        }

        foreach (var (field, value) in new[]
        {
            ("temperature", "\"hot\""), ("temperature", "-1"), ("temperature", "1e309"), ("top_p", "2"), ("top_p", "\"x\""), ("n", "2"),
            ("stream", "\"yes\""), ("stop", "5"), ("stop", "[1]"), ("seed", "\"x\""), ("seed", "1.5"), ("presence_penalty", "\"x\""),
            ("frequency_penalty", "100"), ("max_coefficient", "-1"), ("max_coefficient", "\"x\""), ("logprobs", "\"x\""),
            ("stream_options", "5"), ("user", "5"),
        })
        {
            yield return ($"{field} {value}", $$"""{"model":"{{Model}}",{{content}},"{{field}}":{{value}}}""");
        }

        if (chat)
        {
            foreach (var messages in new[] { "\"x\"", "[]", "[1]", "null", "{}", "[{}]", "[{\"role\":\"pirate\",\"content\":\"x\"}]", "[{\"role\":\"user\",\"content\":5}]", "[{\"role\":\"user\"}]", "[{\"role\":5,\"content\":\"x\"}]" })
            {
                yield return ("messages " + messages, $$"""{"model":"{{Model}}","messages":{{messages}}}""");
            }
        }
        else
        {
            foreach (var prompt in new[] { "5", "null", "[1,2]", "{}", "true" })
            {
                yield return ("prompt " + prompt, $$"""{"model":"{{Model}}","prompt":{{prompt}}}""");
            }
        }

        // The fixture serves only an embedding model: a well-formed generation request for it is refused too.
        yield return ("embedding model for generation", $$"""{"model":"{{Model}}",{{content}}}""");
        yield return ("unknown model", $$"""{"model":"no-such-model",{{content}}}""");
    }

    private static HttpClient Client(SecurityCluster cluster) => new() { BaseAddress = cluster.Gateway, Timeout = TimeSpan.FromSeconds(60) };

    private static async Task<(int Status, string Body)> PostAsync(HttpClient http, string path, byte[] body, string? authorization, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        // The server may answer (413) before reading the body; with 100-continue the client waits for it instead of
        // writing into a closed connection.
        request.Headers.ExpectContinue = body.Length > 1024 * 1024;
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await http.SendAsync(request, Token);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(Token));
    }

    // Money, not write counters: a refused request may reserve and release (two signed rows) and still move nothing.
    private static void AssertSameMoney(Abstractions.Escrow.EscrowLedger before, Abstractions.Escrow.EscrowLedger after)
    {
        Assert.Equal(before.Balance, after.Balance);
        Assert.Equal(before.ChargedTokens, after.ChargedTokens);
    }

    private static void AssertOpenAiRefusal(string what, int status, string body)
    {
        Assert.True(status is >= 400 and < 500, $"{what}: HTTP {status} {body[..Math.Min(body.Length, 300)]}");
        JsonElement error;
        try
        {
            using var json = JsonDocument.Parse(body);
            error = json.RootElement.GetProperty("error").Clone();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException)
        {
            Assert.Fail($"{what}: HTTP {status} without an OpenAI error object: {body[..Math.Min(body.Length, 300)]}");
            return;
        }

        Assert.True(error.GetProperty("message").ValueKind == JsonValueKind.String && error.GetProperty("message").GetString()!.Length > 0, what);
        Assert.True(error.GetProperty("type").ValueKind == JsonValueKind.String, what);
        Assert.True(error.TryGetProperty("code", out _), what + ": no error.code");
        Assert.True(error.TryGetProperty("param", out _), what + ": no error.param");
    }

    [Fact]
    public async Task Every_malformed_body_gets_a_4xx_error_object_and_charges_nothing()
    {
        var (key, account) = await cluster.CreateFundedKeyAsync();
        var before = await cluster.LedgerAsync(account);
        using var http = Client(cluster);
        var cases = new List<(string Path, string Name, byte[] Body)>();
        foreach (var path in Endpoints)
        {
            cases.AddRange(CommonBodies().Select(c => (path, c.Name, c.Body)));
        }

        cases.AddRange(EmbeddingBodies().Select(c => ("/v1/embeddings", c.Name, Encoding.UTF8.GetBytes(c.Body))));
        cases.AddRange(GenerationBodies(chat: true).Select(c => ("/v1/chat/completions", c.Name, Encoding.UTF8.GetBytes(c.Body))));
        cases.AddRange(GenerationBodies(chat: false).Select(c => ("/v1/completions", c.Name, Encoding.UTF8.GetBytes(c.Body))));

        foreach (var (path, name, body) in cases)
        {
            var (status, text) = await PostAsync(http, path, body, "Bearer " + key);
            AssertOpenAiRefusal($"{path} {name}", status, text);
        }

        AssertSameMoney(before, await cluster.LedgerAsync(account));
    }

    [Fact]
    public async Task A_body_over_8_MiB_is_413_whether_announced_or_streamed()
    {
        var (key, account) = await cluster.CreateFundedKeyAsync();
        var before = await cluster.LedgerAsync(account);
        using var http = Client(cluster);
        var huge = Encoding.UTF8.GetBytes($$"""{"model":"{{Model}}","input":"{{new string('a', 9 * 1024 * 1024)}}"}""");

        foreach (var path in Endpoints)
        {
            var (status, text) = await PostAsync(http, path, huge, "Bearer " + key);
            Assert.Equal(413, status);
            AssertOpenAiRefusal(path + " 9 MiB", status, text);

            // Chunked: no Content-Length to refuse up front, so the limit is found while reading.
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StreamContent(new MemoryStream(huge)) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.TransferEncodingChunked = true;
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            try
            {
                using var response = await http.SendAsync(request, Token);
                AssertOpenAiRefusal(path + " 9 MiB chunked", (int)response.StatusCode, await response.Content.ReadAsStringAsync(Token));
                Assert.Equal(413, (int)response.StatusCode);
            }
            catch (HttpRequestException e) when (e.InnerException is IOException)
            {
                // Kestrel answered 413 and closed the connection while the client was still writing the last MiB.
            }
        }

        AssertSameMoney(before, await cluster.LedgerAsync(account));
        var (okStatus, okText) = await PostAsync(http, "/v1/embeddings", Encoding.UTF8.GetBytes($$"""{"model":"{{Model}}","input":"after"}"""), "Bearer " + key);
        Assert.True(okStatus == 200, okText);
    }

    [Fact]
    public async Task Missing_or_odd_authorization_is_401_and_charges_nothing()
    {
        var (key, account) = await cluster.CreateFundedKeyAsync();
        var before = await cluster.LedgerAsync(account);
        using var http = Client(cluster);
        var good = Encoding.UTF8.GetBytes($$"""{"model":"{{Model}}","input":"x","prompt":"x"}""");
        foreach (var path in Endpoints)
        {
            foreach (var authorization in new string?[]
            {
                null, "", "Bearer", "Bearer ", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("user:" + key)), "bearer-" + key,
                key, "Bearer sk-wrong", "Bearer " + key + "x", "Bearer " + new string('k', 10_000), "Bearer " + key[..^1], "Bearer \u0001\u0002",
            })
            {
                var (status, text) = await PostAsync(http, path, good, authorization);
                Assert.True(status == 401, $"{path} Authorization '{authorization?[..Math.Min(authorization.Length, 40)]}': {status} {text}");
                AssertOpenAiRefusal(path + " auth", status, text);
            }
        }

        AssertSameMoney(before, await cluster.LedgerAsync(account));
    }

    [Fact]
    public async Task A_wrong_content_type_is_never_a_500_and_only_a_well_formed_request_is_charged()
    {
        var (key, account) = await cluster.CreateFundedKeyAsync();
        var before = await cluster.LedgerAsync(account);
        using var http = Client(cluster);
        foreach (var contentType in new[] { "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/octet-stream" })
        {
            var (status, text) = await PostAsync(http, "/v1/embeddings", Encoding.UTF8.GetBytes("model=x&input=y"), "Bearer " + key, contentType);
            AssertOpenAiRefusal("content type " + contentType, status, text);
        }

        AssertSameMoney(before, await cluster.LedgerAsync(account));
    }

    [Fact]
    public async Task Duplicated_keys_are_refused()
    {
        var (key, account) = await cluster.CreateFundedKeyAsync();
        var before = await cluster.LedgerAsync(account);
        using var http = Client(cluster);
        foreach (var (path, body) in new[]
        {
            ("/v1/embeddings", $$"""{"model":"no-such-model","model":"{{Model}}","input":"x"}"""),
            ("/v1/embeddings", $$"""{"model":"{{Model}}","input":"x","input":"y"}"""),
        })
        {
            var (status, text) = await PostAsync(http, path, Encoding.UTF8.GetBytes(body), "Bearer " + key);
            AssertOpenAiRefusal(path + " duplicate " + body, status, text);
        }

        AssertSameMoney(before, await cluster.LedgerAsync(account));
    }

    [Fact]
    public async Task A_body_that_never_finishes_is_cut_off_and_the_gateway_keeps_serving()
    {
        var (key, account) = await cluster.CreateFundedKeyAsync();
        var before = await cluster.LedgerAsync(account);

        // Announces 1000 bytes, sends 12, then waits: Kestrel's minimum body data rate ends it after its grace period.
        var stalledBody = await StallAsync($"POST /v1/embeddings HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"model\":\"al");
        // Headers that never finish: cut off by the request headers timeout.
        var stalledHeaders = await StallAsync("POST /v1/embeddings HTTP/1.1\r\nHost: gw\r\nAuthori");

        Assert.True(stalledBody.Closed, "the stalled body's connection was not closed: " + stalledBody.Response);
        Assert.True(stalledHeaders.Closed, "the stalled headers' connection was not closed: " + stalledHeaders.Response);
        Assert.DoesNotContain(" 500 ", stalledBody.Response, StringComparison.Ordinal);
        Assert.DoesNotContain(" 500 ", stalledHeaders.Response, StringComparison.Ordinal);
        using var http = Client(cluster);
        var (status, text) = await PostAsync(http, "/v1/embeddings", Encoding.UTF8.GetBytes($$"""{"model":"{{Model}}","input":"still serving"}"""), "Bearer " + key);
        Assert.True(status == 200, text);
        var after = await cluster.LedgerAsync(account);
        using var json = JsonDocument.Parse(text);
        // Only the one good request was charged.
        Assert.Equal(before.Balance.Charged + json.RootElement.GetProperty("cocoon").GetProperty("cost_nanoton").GetInt64(), after.Balance.Charged);
    }

    /// <summary>Sends <paramref name="prefix"/> and nothing more; waits (at most a minute, far beyond the server's limits) for the server to end the connection.</summary>
    private async Task<(bool Closed, string Response)> StallAsync(string prefix)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(cluster.Gateway.Host, cluster.Gateway.Port, Token);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(prefix), Token);
        await stream.FlushAsync(Token);
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(Token);
        patience.CancelAfter(TimeSpan.FromMinutes(1));
        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var n = await stream.ReadAsync(buffer, patience.Token);
                if (n == 0)
                {
                    return (true, Encoding.ASCII.GetString(received.ToArray()));
                }

                received.Write(buffer, 0, n);
            }
        }
        catch (IOException)
        {
            return (true, Encoding.ASCII.GetString(received.ToArray()));
        }
        catch (OperationCanceledException) when (!Token.IsCancellationRequested)
        {
            return (false, Encoding.ASCII.GetString(received.ToArray()));
        }
    }
}
