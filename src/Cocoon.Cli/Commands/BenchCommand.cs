using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using Cocoon.Cli.Operations;
using Cocoon.Client.Load;
using Spectre.Console;

namespace Cocoon.Cli.Commands;

/// <summary>
/// <c>cocoon bench [--model M] [--concurrency N] [--duration 30s | --requests N] [--stream] [--max-tokens N] [--json]</c>:
/// load on the OpenAI HTTP API (<see cref="OpenAiLoadGenerator"/>) with a live progress display (plain lines on stderr
/// when output is redirected), then requests/s, error rate, p50/p95/p99 latency, time to first token (streamed chat)
/// and tokens/s. The gateway URL and API key come from the devnet's devnet.json unless given. Exit 1 when every
/// request failed.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var url = new Option<string?>("--url") { Description = "The gateway's base URL (default: the devnet's)." };
        var apiKey = new Option<string?>("--api-key") { Description = "The API key (default: the devnet's; or $COCOON_API_KEY)." };
        var dataDir = new Option<string>("--data-dir")
        {
            Description = "The devnet's folder, for its devnet.json.",
            DefaultValueFactory = _ => ClusterConnection.DefaultDataDir,
        };
        var model = new Option<string?>("--model") { Description = "The model (default: the first deployed one, a text-generation one with --stream)." };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight at once.", DefaultValueFactory = _ => 4 };
        var duration = new Option<string?>("--duration") { Description = "How long to run: 30s, 2m, 500ms (default 10s unless --requests)." };
        var requests = new Option<int?>("--requests") { Description = "Send this many requests instead of running for a duration." };
        var warmup = new Option<int?>("--warmup") { Description = "Unmeasured requests first (default: the concurrency)." };
        var stream = new Option<bool>("--stream") { Description = "Stream chat answers (measures time to first token)." };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Chat: max_tokens per request.", DefaultValueFactory = _ => 32 };
        var prompt = new Option<string?>("--prompt") { Description = "The text each request sends (numbered so no two are alike)." };
        var json = OperatorCommand.JsonOption();
        var command = new Command("bench", "Load the OpenAI HTTP API and report requests/s, errors, latency percentiles, time to first token and tokens/s.")
        {
            url, apiKey, dataDir, model, concurrency, duration, requests, warmup, stream, maxTokens, prompt, json,
        };
        command.SetAction((parse, cancellationToken) => OperatorCommand.RunAsync("bench", async () =>
        {
            if (parse.GetValue(concurrency) < 1 || parse.GetValue(maxTokens) < 1 || parse.GetValue(requests) is < 1 || parse.GetValue(warmup) is < 0)
            {
                throw new CliUsageException("--concurrency, --max-tokens and --requests are at least 1, --warmup at least 0.");
            }

            if (parse.GetValue(duration) is not null && parse.GetValue(requests) is not null)
            {
                throw new CliUsageException("give --duration or --requests, not both.");
            }

            var runFor = parse.GetValue(requests) is null ? ParseDuration(parse.GetValue(duration) ?? "10s") : (TimeSpan?)null;
            var (gateway, key) = Target(parse.GetValue(url), parse.GetValue(apiKey), parse.GetValue(dataDir)!);
            var connections = parse.GetValue(concurrency);
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections + 4, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            {
                Timeout = TimeSpan.FromMinutes(5),
            };
            var (modelName, endpoint) = await PickModelAsync(http, gateway, key, parse.GetValue(model), parse.GetValue(stream), cancellationToken);
            if (parse.GetValue(stream) && endpoint != LoadEndpoint.ChatCompletions)
            {
                throw new CliUsageException($"--stream is for chat models; '{modelName}' is an embedding model.");
            }

            var options = new LoadOptions
            {
                Gateway = gateway,
                ApiKey = key,
                Model = modelName,
                Endpoint = endpoint,
                Concurrency = connections,
                Duration = runFor,
                Requests = parse.GetValue(requests),
                Warmup = parse.GetValue(warmup) ?? connections,
                Stream = parse.GetValue(stream),
                MaxTokens = parse.GetValue(maxTokens),
                Prompt = parse.GetValue(prompt) ?? new LoadOptions { Gateway = gateway, ApiKey = "", Model = "" }.Prompt,
            };

            var result = await RunWithProgressAsync(http, options, interactive: !Console.IsOutputRedirected && !Console.IsErrorRedirected && !parse.GetValue(json), cancellationToken);
            if (parse.GetValue(json))
            {
                OperatorCommand.WriteJson(ToJson(result, gateway));
            }
            else
            {
                WriteSummary(result, gateway);
            }

            return result.Requests > 0 && result.Errors == result.Requests ? 1 : 0;
        }));
        return command;
    }

    private static async Task<LoadResult> RunWithProgressAsync(HttpClient http, LoadOptions options, bool interactive, CancellationToken cancellationToken)
    {
        var what = $"{options.Endpoint} {options.Model}, {options.Concurrency} at once, " +
                   (options.Requests is { } n ? $"{n} requests" : $"{OperatorCommand.Duration(options.Duration!.Value)}");
        if (!interactive)
        {
            // Redirected: a plain line on stderr about once a second, so logs and scripts read cleanly.
            await Console.Error.WriteLineAsync($"bench: {what}");
            var last = TimeSpan.Zero;
            var gate = new object();
            var result = await OpenAiLoadGenerator.RunAsync(http, options, p =>
            {
                lock (gate)
                {
                    if (p.Elapsed - last >= TimeSpan.FromSeconds(1))
                    {
                        last = p.Elapsed;
                        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"bench: {p.Elapsed.TotalSeconds:F1} s, {p.Completed} requests, {p.Errors} errors, {p.Completed / Math.Max(p.Elapsed.TotalSeconds, 1e-3):F1} req/s"));
                    }
                }
            }, cancellationToken);
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"bench: done, {result.Requests} requests in {result.Elapsed.TotalSeconds:F1} s"));
            return result;
        }

        LoadResult? outcome = null;
        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(what), maxValue: options.Requests ?? options.Duration!.Value.TotalSeconds);
                var latest = new LoadProgress(0, 0, TimeSpan.Zero);
                var run = OpenAiLoadGenerator.RunAsync(http, options, p => latest = p, cancellationToken);
                while (!run.IsCompleted)
                {
                    await Task.WhenAny(run, Task.Delay(250, CancellationToken.None));
                    var p = latest;
                    task.Value = options.Requests is not null ? p.Completed : Math.Min(p.Elapsed.TotalSeconds, task.MaxValue);
                    task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                        $"{what}: {p.Completed} done, {p.Errors} errors, {p.Completed / Math.Max(p.Elapsed.TotalSeconds, 1e-3):F1} req/s"));
                }

                outcome = await run;
                task.Value = task.MaxValue;
            });
        return outcome!;
    }

    private static (Uri Gateway, string ApiKey) Target(string? url, string? apiKey, string dataDir)
    {
        apiKey ??= Environment.GetEnvironmentVariable("COCOON_API_KEY");
        DevnetEndpoint? devnet = null;
        if (url is null || apiKey is null)
        {
            devnet = DevnetEndpoint.Read(dataDir);
        }

        var text = url ?? devnet!.Gateway;
        if (!Uri.TryCreate(text.TrimEnd('/') + "/", UriKind.Absolute, out var gateway) || (gateway.Scheme != Uri.UriSchemeHttp && gateway.Scheme != Uri.UriSchemeHttps))
        {
            throw new CliUsageException($"--url {text}: not an http(s) URL.");
        }

        var key = apiKey ?? devnet!.ApiKey;
        return key.Length == 0 ? throw new CliUsageException("no API key: pass --api-key or set COCOON_API_KEY.") : (gateway, key);
    }

    // The model's kind (from GET /v1/models) decides the endpoint; with no --model, the first deployed model, a
    // text-generation one when streaming.
    private static async Task<(string Model, LoadEndpoint Endpoint)> PickModelAsync(HttpClient http, Uri gateway, string apiKey, string? wanted, bool stream, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway, "v1/models"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new CliException($"the gateway at {gateway} does not answer ({e.Message}).");
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new CliException($"GET {gateway}v1/models answered {(int)response.StatusCode}: {ErrorMessage(body)}");
            }

            var models = new List<(string Id, string Kind)>();
            using (var json = JsonDocument.Parse(body))
            {
                foreach (var m in json.RootElement.GetProperty("data").EnumerateArray())
                {
                    var kind = m.TryGetProperty("cocoon", out var c) && c.TryGetProperty("kind", out var k) ? k.GetString() ?? "" : "";
                    models.Add((m.GetProperty("id").GetString()!, kind));
                }
            }

            var pick = wanted is not null
                ? models.FirstOrDefault(m => m.Id == wanted)
                : models.FirstOrDefault(m => !stream || m.Kind == Abstractions.Models.ModelKind.TextGeneration);
            if (pick.Id is null)
            {
                throw new CliException(wanted is not null
                    ? $"the gateway serves no model '{wanted}' (it serves: {string.Join(", ", models.Select(m => m.Id))})."
                    : "the gateway serves no model" + (stream ? " for text generation" : "") + ".");
            }

            return (pick.Id, pick.Kind == Abstractions.Models.ModelKind.Embedding ? LoadEndpoint.Embeddings : LoadEndpoint.ChatCompletions);
        }
    }

    private static string ErrorMessage(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.GetProperty("error").GetProperty("message").GetString() ?? body;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return body.Length > 200 ? body[..200] : body;
        }
    }

    internal static TimeSpan ParseDuration(string text)
    {
        var (number, scale) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : text.EndsWith('m') ? (text[..^1], 60.0)
            : text.EndsWith('h') ? (text[..^1], 3600.0)
            : (text, 1.0);
        return double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) && value > 0
            ? TimeSpan.FromSeconds(value * scale)
            : throw new CliUsageException($"--duration {text}: expected a positive duration such as 30s, 2m or 500ms.");
    }

    private static object ToJson(LoadResult r, Uri gateway) => new
    {
        gateway = gateway.ToString().TrimEnd('/'),
        endpoint = r.Endpoint == LoadEndpoint.ChatCompletions ? "/v1/chat/completions" : "/v1/embeddings",
        model = r.Model,
        stream = r.Stream,
        concurrency = r.Concurrency,
        requests = r.Requests,
        errors = r.Errors,
        errorsByKind = r.ErrorsByKind,
        errorRate = r.ErrorRate,
        elapsedSeconds = r.Elapsed.TotalSeconds,
        requestsPerSecond = r.RequestsPerSecond,
        latencyMs = r.Latency,
        timeToFirstTokenMs = r.TimeToFirstToken,
        tokens = r.Tokens,
        tokenKind = r.TokenKind,
        tokensPerSecond = r.TokensPerSecond,
    };

    private static void WriteSummary(LoadResult r, Uri gateway)
    {
        var table = OperatorCommand.Table("figure", "value");
        string F(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
        string L(LatencySummary? s) => s is null ? "n/a" : $"p50 {F(s.P50)} ms, p95 {F(s.P95)} ms, p99 {F(s.P99)} ms (max {F(s.Max)})";
        OperatorCommand.Row(table, "target", $"{gateway.ToString().TrimEnd('/')} {(r.Endpoint == LoadEndpoint.ChatCompletions ? "/v1/chat/completions" : "/v1/embeddings")} {r.Model}{(r.Stream ? " (stream)" : "")}");
        OperatorCommand.Row(table, "requests", string.Create(CultureInfo.InvariantCulture, $"{r.Requests} in {r.Elapsed.TotalSeconds:F1} s, {r.Concurrency} at once"));
        OperatorCommand.Row(table, "requests/s", F(r.RequestsPerSecond));
        OperatorCommand.Row(table, "errors", string.Create(CultureInfo.InvariantCulture, $"{r.Errors} ({r.ErrorRate:P1})") +
                                             (r.ErrorsByKind.Count == 0 ? "" : ": " + string.Join(", ", r.ErrorsByKind.Select(e => $"{e.Key} x{e.Value}"))));
        OperatorCommand.Row(table, "latency", L(r.Latency));
        OperatorCommand.Row(table, "time to first token", r.Stream ? L(r.TimeToFirstToken) : "n/a (not streamed)");
        OperatorCommand.Row(table, "tokens/s", $"{F(r.TokensPerSecond)} ({r.TokenKind} tokens, {r.Tokens} in all)");
        OperatorCommand.Write(table);
    }
}
