using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Cocoon.Cluster.Tests;

/// <summary>What became of one request.</summary>
public enum Outcome
{
    /// <summary>200 with a cost and a request id.</summary>
    Answered,

    /// <summary>An HTTP error with an OpenAI-style JSON error body: a clean refusal.</summary>
    Refused,

    /// <summary>The connection could not be made (the gateway's process is down): nothing reached the cluster.</summary>
    NotConnected,

    /// <summary>The connection broke or timed out after the request was sent: it may or may not have been charged.</summary>
    Unknown,

    /// <summary>Anything else (an error without a JSON error body, a 200 without a cost): never acceptable.</summary>
    Unclean,
}

/// <summary>One request as the load driver saw it.</summary>
public sealed record RequestRecord(
    int Client, string AccountId, string Phase, double StartSeconds, double EndSeconds, int Gateway, Outcome Outcome, string Kind,
    string? RequestId, string? Worker, long CostNanoTon)
{
    public double LatencyMilliseconds => (EndSeconds - StartSeconds) * 1000;
}

/// <summary>
/// The load generator of the harness: closed-loop clients sending embeddings requests through the two proxies' HTTP
/// gateways. Each client has its own account and prefers one gateway; when it cannot connect or its connection breaks,
/// it fails over to the other, as an app backend with two endpoints does. Every request is recorded with its phase.
/// </summary>
public sealed class LoadDriver(ClusterHarness harness) : IAsyncDisposable
{
    private readonly ConcurrentQueue<RequestRecord> _records = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly HttpClient _http = new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5), PooledConnectionLifetime = TimeSpan.FromSeconds(30) })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    private Task? _running;
    private volatile string _phase = "setup";

    public IReadOnlyCollection<RequestRecord> Records => _records;

    /// <summary>Seconds since the driver was made: the time axis of every record and phase.</summary>
    public double Now => _clock.Elapsed.TotalSeconds;

    public string Phase
    {
        get => _phase;
        set => _phase = value;
    }

    public void Start()
    {
        _running = Task.WhenAll(harness.Accounts.Select((account, client) => Task.Run(() => ClientLoopAsync(client, account))));
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (_running is not null)
        {
            await _running;
        }
    }

    private async Task ClientLoopAsync(int client, HarnessAccount account)
    {
        var gateway = client % harness.Proxies.Count;
        var n = 0;
        while (!_stop.IsCancellationRequested)
        {
            var phase = _phase;
            var start = Now;
            var (outcome, kind, id, worker, cost) = await SendAsync(harness.Proxies[gateway].Gateway!, account.ApiKey, $"client {client} request {n++}");
            _records.Enqueue(new RequestRecord(client, account.AccountId, phase, start, Now, gateway, outcome, kind, id, worker, cost));
            if (outcome is Outcome.NotConnected or Outcome.Unknown)
            {
                gateway = (gateway + 1) % harness.Proxies.Count;
            }

            if (outcome != Outcome.Answered)
            {
                // A client backs off a little after an error rather than spinning on a refusing endpoint.
                await Task.Delay(100);
            }
        }
    }

    private async Task<(Outcome, string, string?, string?, long)> SendAsync(Uri gateway, string apiKey, string text)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway, "/v1/embeddings"))
        {
            Content = new StringContent(JsonSerializer.Serialize(new { model = ClusterHarness.Model, input = text }), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        try
        {
            using var response = await _http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            JsonElement json;
            try
            {
                json = JsonDocument.Parse(body).RootElement;
            }
            catch (JsonException)
            {
                return (Outcome.Unclean, $"http-{(int)response.StatusCode}:not-json", null, null, 0);
            }

            if (response.IsSuccessStatusCode)
            {
                return json.TryGetProperty("cocoon", out var cocoon) && cocoon.TryGetProperty("request_id", out var id) && cocoon.TryGetProperty("cost_nanoton", out var cost)
                    ? (Outcome.Answered, "ok", id.GetString(), cocoon.GetProperty("worker").GetString(), cost.GetInt64())
                    : (Outcome.Unclean, "200:no-cost", null, null, 0);
            }

            if (!json.TryGetProperty("error", out var error) || !error.TryGetProperty("code", out var code))
            {
                return (Outcome.Unclean, $"http-{(int)response.StatusCode}:no-error-code", null, null, 0);
            }

            // An internal error names the exception type in its message ("... (TypeName)."): keep it, it says what broke.
            var kind = $"http-{(int)response.StatusCode}:{code}";
            if (code.GetString() == "internal_error" && error.TryGetProperty("message", out var message) && message.GetString() is { } m
                && m.LastIndexOf('(') is var open and >= 0 && m.IndexOf(')', open) is var close and > 0)
            {
                kind += m[open..(close + 1)];
            }

            return (Outcome.Refused, kind, null, null, 0);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
        {
            return (Outcome.NotConnected, "connection-refused", null, null, 0);
        }
        catch (HttpRequestException e)
        {
            return (Outcome.Unknown, "connection-broken:" + (e.HttpRequestError.ToString()), null, null, 0);
        }
        catch (TaskCanceledException)
        {
            return (Outcome.Unknown, "timeout", null, null, 0);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
        _http.Dispose();
    }
}
