using System.Net.Http.Headers;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Inference;
using Cocoon.Grains.Inference.Routing;
using Cocoon.Testing;

namespace Cocoon.Grains.Benchmarks;

/// <summary>
/// Issue 8's marketplace figures, each group against a baseline of the same run:
/// <list type="bullet">
/// <item>escrow: a reservation plus its settlement on one account (one grain, so they queue) against the same spread over
/// 1,000 accounts; real grains on PostgreSQL (each pair writes the signed escrow row twice and a worker's earnings row
/// once), <see cref="Batch"/> concurrent pairs per operation batch;</item>
/// <item>routing: one routing decision (health figures read, <see cref="WorkerSelector"/> choice) among 8 workers,
/// against 64;</item>
/// <item>path: a request through the whole platform with a zero-cost test engine (HTTP gateway, service grain, escrow
/// reserve and settle, the worker silo's host grain, the engine), and through the service grain without HTTP, against
/// calling that engine directly: the platform's own overhead. <see cref="Batch"/> concurrent requests per batch.</item>
/// </list>
/// Times are per operation; requests or decisions per second are 1 / mean.
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class MarketplaceBenchmarks
{
    /// <summary>Concurrent operations per benchmark invocation.</summary>
    public const int Batch = 32;

    private const int Accounts = 1_000;
    private const int Keys = 16;
    private const string Model = "bench-zero";

    private PostgresFixture? _postgres;
    private CocoonTestNode? _proxy;
    private CocoonTestNode? _worker;
    private HttpClient? _http;
    private IInferenceServiceGrain? _service;
    private readonly string[] _keys = new string[Keys];
    private readonly TestEmbeddingEngine _engine = new(Model, TimeSpan.Zero);
    private readonly WorkerHealth _health = new();
    private long _requests;
    private int _nextAccount;
    private int _nextKey;
    private string[] _workers8 = [];
    private string[] _workers64 = [];
    private readonly RouteCandidate[] _candidates = new RouteCandidate[64];

    [GlobalSetup(Targets = [nameof(ReserveSettleOneAccount), nameof(ReserveSettleAcross1000Accounts)])]
    public async Task SetupEscrowAsync()
    {
        await StartProxyAsync();
        await Task.WhenAll(Enumerable.Range(0, Accounts).Select(i => Account(i).DepositAsync("bench-grant", 1_000_000_000_000_000)));
    }

    [GlobalSetup(Targets = [nameof(RouteAmong8Workers), nameof(RouteAmong64Workers)])]
    public void SetupRouting()
    {
        var random = new Random(1);
        _workers64 = [.. Enumerable.Range(0, 64).Select(i => $"worker-{i}")];
        _workers8 = _workers64[..8];
        foreach (var w in _workers64)
        {
            _health.RecordSuccess(w, TimeSpan.FromMilliseconds(1 + (random.NextDouble() * 20)), 10);
            if (random.Next(8) == 0)
            {
                _health.RecordFailure(w);
            }
        }
    }

    [GlobalSetup(Targets = [nameof(EngineDirect), nameof(FullPathThroughServiceGrain), nameof(FullPathThroughHttpGateway)])]
    public async Task SetupPathAsync()
    {
        await StartProxyAsync();
        _worker = await CocoonTestNode.StartAsync(_cluster, "worker", ConnectionString, "bench-worker");
        await TestEmbeddingEngine.AddWorkerAsync(_worker, "zero." + Model, _engine, TimeSpan.FromDays(1), capacity: 1_024);
        for (var i = 0; i < Keys; i++)
        {
            _keys[i] = ApiKeys.Generate();
            await _proxy!.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(_keys[i])).CreateAsync($"bench-path-{i}", "bench");
            await _proxy.Grains.GetGrain<IEscrowAccountGrain>($"bench-path-{i}").DepositAsync("bench-grant", 1_000_000_000_000_000);
        }

        _service = _proxy!.Grains.GetGrain<IInferenceServiceGrain>(0);
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Batch * 2 }) { BaseAddress = _proxy.GatewayUrl };

        // The route cache and the first activations, outside the measurement.
        await FullPathThroughServiceGrain();
        await FullPathThroughHttpGateway();
    }

    private readonly string _cluster = "bench-" + Guid.NewGuid().ToString("N")[..8];

    private string ConnectionString { get; set; } = "";

    private async Task StartProxyAsync()
    {
        _postgres = new PostgresFixture();
        await _postgres.InitializeAsync();
        ConnectionString = await _postgres.CreateDatabaseAsync("bench");
        _proxy = await CocoonTestNode.StartAsync(_cluster, "proxy", ConnectionString, "bench-proxy");
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        _http?.Dispose();
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }

        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }

        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
    }

    private IEscrowAccountGrain Account(int i) => _proxy!.Grains.GetGrain<IEscrowAccountGrain>($"bench-account-{i}");

    // Settlements credit 16 workers in turn: each settle also writes the worker's earnings grain, and one worker's
    // grain would otherwise be the bottleneck of both cases rather than the escrow being measured.
    private async Task ReserveSettleAsync(IEscrowAccountGrain account)
    {
        var n = Interlocked.Increment(ref _requests);
        var id = "bench-" + n;
        await account.ReserveAsync(id, 1_000, TimeSpan.FromMinutes(5));
        await account.SettleAsync(id, 600, "bench-worker-" + (n % 16));
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch), BenchmarkCategory("escrow")]
    public Task ReserveSettleOneAccount()
    {
        var account = Account(0);
        return Task.WhenAll(Enumerable.Range(0, Batch).Select(_ => ReserveSettleAsync(account)));
    }

    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("escrow")]
    public Task ReserveSettleAcross1000Accounts() =>
        Task.WhenAll(Enumerable.Range(0, Batch).Select(_ => ReserveSettleAsync(Account((int)((uint)Interlocked.Increment(ref _nextAccount) % Accounts)))));

    private int Route(string[] workers)
    {
        for (var i = 0; i < workers.Length; i++)
        {
            var (latency, penalty) = _health.Get(workers[i]);
            _candidates[i] = new RouteCandidate(workers[i], i % 3, 8, latency, penalty);
        }

        return WorkerSelector.Shared.Select(new ArraySegment<RouteCandidate>(_candidates, 0, workers.Length));
    }

    [Benchmark(Baseline = true), BenchmarkCategory("routing")]
    public int RouteAmong8Workers() => Route(_workers8);

    [Benchmark, BenchmarkCategory("routing")]
    public int RouteAmong64Workers() => Route(_workers64);

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch), BenchmarkCategory("path")]
    public Task EngineDirect() =>
        Task.WhenAll(Enumerable.Range(0, Batch).Select(i => _engine.EmbedAsync([$"benchmark sentence {i}"])));

    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("path")]
    public Task FullPathThroughServiceGrain() =>
        Task.WhenAll(Enumerable.Range(0, Batch).Select(i =>
            _service!.EmbedAsync(NextKey(), new EmbeddingRequest { Model = Model, Inputs = [$"benchmark sentence {i}"] })));

    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("path")]
    public Task FullPathThroughHttpGateway() =>
        Task.WhenAll(Enumerable.Range(0, Batch).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/embeddings")
            {
                Content = new StringContent($"{{\"model\":\"{Model}\",\"input\":\"benchmark sentence {i}\"}}", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", NextKey());
            using var response = await _http!.SendAsync(request);
            response.EnsureSuccessStatusCode();
            await response.Content.ReadAsByteArrayAsync();
        }));

    // Requests spread over several clients' keys and accounts, as a gateway sees them.
    private string NextKey() => _keys[(uint)Interlocked.Increment(ref _nextKey) % Keys];
}
