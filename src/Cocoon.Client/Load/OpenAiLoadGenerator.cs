using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Cocoon.Client.Load;

/// <summary>Which OpenAI endpoint a load run drives.</summary>
public enum LoadEndpoint
{
    /// <summary><c>POST /v1/embeddings</c>; tokens are the prompt tokens.</summary>
    Embeddings,

    /// <summary><c>POST /v1/chat/completions</c>; tokens are the completion tokens.</summary>
    ChatCompletions,
}

/// <summary>What a load run sends, how many at once, and for how long.</summary>
public sealed record LoadOptions
{
    /// <summary>The gateway's base URL (without <c>/v1</c>).</summary>
    public required Uri Gateway { get; init; }

    /// <summary>The bearer API key.</summary>
    public required string ApiKey { get; init; }

    /// <summary>The model to call.</summary>
    public required string Model { get; init; }

    /// <summary>The endpoint.</summary>
    public LoadEndpoint Endpoint { get; init; } = LoadEndpoint.Embeddings;

    /// <summary>Requests in flight at once (closed loop: each client sends its next request when the last one ends).</summary>
    public int Concurrency { get; init; } = 4;

    /// <summary>Stop starting requests after this long; or use <see cref="Requests"/>.</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Send exactly this many measured requests; or use <see cref="Duration"/>.</summary>
    public int? Requests { get; init; }

    /// <summary>Unmeasured requests first (connections, JIT, the worker's first runs).</summary>
    public int Warmup { get; init; }

    /// <summary>Chat only: stream the answer (server-sent events), which makes time to first token measurable.</summary>
    public bool Stream { get; init; }

    /// <summary>Chat only: <c>max_tokens</c>.</summary>
    public int MaxTokens { get; init; } = 32;

    /// <summary>The text sent; each request appends its number so no two are the same.</summary>
    public string Prompt { get; init; } = "Cocoon load test: the quick brown fox jumps over the lazy dog.";
}

/// <summary>Counts so far, for a progress display.</summary>
/// <param name="Completed">Measured requests that ended.</param>
/// <param name="Errors">Of them, failed.</param>
/// <param name="Elapsed">Time since measuring began.</param>
public readonly record struct LoadProgress(int Completed, int Errors, TimeSpan Elapsed);

/// <summary>Latency percentiles in milliseconds.</summary>
/// <param name="P50">Median.</param>
/// <param name="P95">95th percentile.</param>
/// <param name="P99">99th percentile.</param>
/// <param name="Mean">Mean.</param>
/// <param name="Max">Largest.</param>
public sealed record LatencySummary(double P50, double P95, double P99, double Mean, double Max)
{
    /// <summary>Nearest-rank percentiles of <paramref name="milliseconds"/>, or null when empty.</summary>
    public static LatencySummary? Of(IReadOnlyCollection<double> milliseconds)
    {
        if (milliseconds.Count == 0)
        {
            return null;
        }

        var sorted = milliseconds.Order().ToArray();
        double Rank(double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new LatencySummary(Rank(0.50), Rank(0.95), Rank(0.99), sorted.Average(), sorted[^1]);
    }
}

/// <summary>What a load run measured.</summary>
public sealed record LoadResult
{
    /// <summary>The endpoint driven.</summary>
    public required LoadEndpoint Endpoint { get; init; }

    /// <summary>The model.</summary>
    public required string Model { get; init; }

    /// <summary>Whether answers were streamed.</summary>
    public required bool Stream { get; init; }

    /// <summary>Concurrency.</summary>
    public required int Concurrency { get; init; }

    /// <summary>Measured requests.</summary>
    public required int Requests { get; init; }

    /// <summary>Of them, failed (an HTTP error status or no answer).</summary>
    public required int Errors { get; init; }

    /// <summary>Failures by HTTP status (<c>429</c>) or exception type.</summary>
    public required IReadOnlyDictionary<string, int> ErrorsByKind { get; init; }

    /// <summary>From the first measured request sent to the last one ended.</summary>
    public required TimeSpan Elapsed { get; init; }

    /// <summary>Completed requests per second.</summary>
    public double RequestsPerSecond => Elapsed > TimeSpan.Zero ? Requests / Elapsed.TotalSeconds : 0;

    /// <summary>Errors / requests.</summary>
    public double ErrorRate => Requests > 0 ? (double)Errors / Requests : 0;

    /// <summary>Latency of successful requests, send to last byte.</summary>
    public required LatencySummary? Latency { get; init; }

    /// <summary>Streamed chat only: send to the first chunk with text.</summary>
    public required LatencySummary? TimeToFirstToken { get; init; }

    /// <summary>Tokens the successful requests' usage reports: completion tokens for chat, prompt tokens for embeddings.</summary>
    public required long Tokens { get; init; }

    /// <summary>Which tokens <see cref="Tokens"/> counts: <c>completion</c> or <c>prompt</c>.</summary>
    public string TokenKind => Endpoint == LoadEndpoint.ChatCompletions ? "completion" : "prompt";

    /// <summary>Tokens per second over the run, all clients together.</summary>
    public double TokensPerSecond => Elapsed > TimeSpan.Zero ? Tokens / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// A closed-loop load generator for the OpenAI-compatible HTTP API: <see cref="LoadOptions.Concurrency"/> clients each
/// send a request, wait for the whole answer, and send the next, for a duration or a request count. Records latency,
/// time to first token (streamed chat), tokens from the answers' usage, and failures by status. Prompts and answers
/// are not kept.
/// </summary>
public static class OpenAiLoadGenerator
{
    /// <summary>Runs the load and returns what it measured.</summary>
    /// <param name="http">A client whose handler allows at least <see cref="LoadOptions.Concurrency"/> connections.</param>
    /// <param name="options">What to send.</param>
    /// <param name="progress">Called with counts as requests end; null for none.</param>
    /// <param name="cancellationToken">Stops the run early; what was measured is returned.</param>
    public static async Task<LoadResult> RunAsync(HttpClient http, LoadOptions options, Action<LoadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Concurrency < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Concurrency is at least 1.");
        }

        if ((options.Duration is null) == (options.Requests is null))
        {
            throw new ArgumentException("Give either a duration or a request count.", nameof(options));
        }

        var sequence = 0;
        for (var i = 0; i < options.Warmup; i += options.Concurrency)
        {
            var batch = Math.Min(options.Concurrency, options.Warmup - i);
            await Task.WhenAll(Enumerable.Range(0, batch).Select(_ => SendAsync(http, options, Interlocked.Increment(ref sequence), cancellationToken)));
        }

        var latencies = new List<double>();
        var firstTokens = new List<double>();
        var errors = new Dictionary<string, int>(StringComparer.Ordinal);
        long tokens = 0;
        var completed = 0;
        var failed = 0;
        var started = 0;
        var clock = Stopwatch.StartNew();
        var deadline = options.Duration;
        var gate = new object();

        bool TakeTurn() => options.Requests is { } total
            ? Interlocked.Increment(ref started) <= total
            : clock.Elapsed < deadline!.Value;

        await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(async () =>
        {
            while (!cancellationToken.IsCancellationRequested && TakeTurn())
            {
                var outcome = await SendAsync(http, options, Interlocked.Increment(ref sequence), cancellationToken);
                if (outcome.Cancelled)
                {
                    return;
                }

                LoadProgress snapshot;
                lock (gate)
                {
                    completed++;
                    if (outcome.Error is { } error)
                    {
                        failed++;
                        errors[error] = errors.GetValueOrDefault(error) + 1;
                    }
                    else
                    {
                        latencies.Add(outcome.LatencyMs);
                        if (outcome.FirstTokenMs is { } first)
                        {
                            firstTokens.Add(first);
                        }

                        tokens += outcome.Tokens;
                    }

                    snapshot = new LoadProgress(completed, failed, clock.Elapsed);
                }

                progress?.Invoke(snapshot);
            }
        }, CancellationToken.None)));
        clock.Stop();

        return new LoadResult
        {
            Endpoint = options.Endpoint,
            Model = options.Model,
            Stream = options.Stream,
            Concurrency = options.Concurrency,
            Requests = completed,
            Errors = failed,
            ErrorsByKind = errors,
            Elapsed = clock.Elapsed,
            Latency = LatencySummary.Of(latencies),
            TimeToFirstToken = LatencySummary.Of(firstTokens),
            Tokens = tokens,
        };
    }

    private readonly record struct Outcome(double LatencyMs, double? FirstTokenMs, long Tokens, string? Error, bool Cancelled);

    private static async Task<Outcome> SendAsync(HttpClient http, LoadOptions options, int number, CancellationToken cancellationToken)
    {
        var prompt = options.Prompt + " #" + number.ToString(CultureInfo.InvariantCulture);
        var chat = options.Endpoint == LoadEndpoint.ChatCompletions;
        var body = chat ? ChatBody(options, prompt) : EmbeddingsBody(options, prompt);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(options.Gateway, chat ? "v1/chat/completions" : "v1/embeddings"))
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
        var start = Stopwatch.GetTimestamp();
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                await response.Content.ReadAsByteArrayAsync(cancellationToken);
                return new Outcome(0, null, 0, ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), false);
            }

            if (chat && options.Stream)
            {
                var (first, streamed) = await ReadStreamAsync(response, start, cancellationToken);
                return new Outcome(Stopwatch.GetElapsedTime(start).TotalMilliseconds, first, streamed, null, false);
            }

            await using var content = await response.Content.ReadAsStreamAsync(cancellationToken);
            using var json = await JsonDocument.ParseAsync(content, cancellationToken: cancellationToken);
            var latency = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            return new Outcome(latency, null, UsageTokens(json.RootElement, chat), null, false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new Outcome(0, null, 0, null, true);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or IOException or TaskCanceledException)
        {
            return new Outcome(0, null, 0, e.GetType().Name, false);
        }
    }

    // Server-sent events: "data: {chunk}" lines, then "data: [DONE]". The first chunk whose delta has text is the first
    // token; the usage comes in the last chunk (stream_options.include_usage).
    private static async Task<(double? FirstTokenMs, long Tokens)> ReadStreamAsync(HttpResponseMessage response, long start, CancellationToken cancellationToken)
    {
        await using var content = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var reader = new StreamReader(content, Encoding.UTF8);
        double? first = null;
        long tokens = 0;
        var chunksWithText = 0L;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal))
            {
                continue;
            }

            var data = line.AsSpan(5).Trim();
            if (data.SequenceEqual("[DONE]"))
            {
                break;
            }

            using var chunk = JsonDocument.Parse(data.ToString());
            var root = chunk.RootElement;
            if (root.TryGetProperty("error", out _))
            {
                throw new HttpRequestException("the stream ended with an error");
            }

            if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
            {
                foreach (var choice in choices.EnumerateArray())
                {
                    if (choice.TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var text)
                        && text.ValueKind == JsonValueKind.String && text.GetString()!.Length > 0)
                    {
                        first ??= Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                        chunksWithText++;
                    }
                }
            }

            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                tokens = UsageTokens(root, chat: true);
            }
        }

        // Without a usage chunk, each chunk with text is counted as one token (the gateway sends one token per chunk).
        return (first, tokens > 0 ? tokens : chunksWithText);
    }

    private static long UsageTokens(JsonElement root, bool chat) =>
        root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object
        && usage.TryGetProperty(chat ? "completion_tokens" : "prompt_tokens", out var count) && count.TryGetInt64(out var n)
            ? n
            : 0;

    private static byte[] EmbeddingsBody(LoadOptions options, string prompt)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("model", options.Model);
            writer.WriteString("input", prompt);
            writer.WriteString("encoding_format", "base64");
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static byte[] ChatBody(LoadOptions options, string prompt)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("model", options.Model);
            writer.WriteStartArray("messages");
            writer.WriteStartObject();
            writer.WriteString("role", "user");
            writer.WriteString("content", prompt);
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteNumber("max_tokens", options.MaxTokens);
            if (options.Stream)
            {
                writer.WriteBoolean("stream", true);
                writer.WriteStartObject("stream_options");
                writer.WriteBoolean("include_usage", true);
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
