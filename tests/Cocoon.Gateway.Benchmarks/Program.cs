using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Inference.Models;
using Cocoon.Testing;

// Embeddings per second through the whole platform (HTTP gateway -> service grain -> escrow -> worker silo ->
// dynamic batcher -> ONNX Runtime) at 1, 8 and 32 concurrent clients, against a plain ONNX Runtime session doing the
// same texts one per run in the same process, and dynamic batching against one request per run. Ratios, not
// absolute numbers, are what carry between machines: both sides of each ratio run here, now, on the same inputs.
//
//   dotnet run -c Release --project tests/Cocoon.Gateway.Benchmarks [-- --requests N]
//   dotnet run -c Release --project tests/Cocoon.Gateway.Benchmarks -- generation [--requests N]   (see GenerationBenchmark)
if (args is ["generation", ..])
{
    return await GenerationBenchmark.RunAsync(args is [_, "--requests", var g] ? int.Parse(g, CultureInfo.InvariantCulture) : 200);
}

var requests = args is ["--requests", var n] ? int.Parse(n, CultureInfo.InvariantCulture) : 400;
int[] concurrencies = [1, 8, 32];
var texts = Enumerable.Range(0, requests).Select(i => $"Benchmark sentence number {i}: the quick brown fox jumps over the lazy dog.").ToArray();

var models = Directory.CreateTempSubdirectory("cocoon-bench-models-").FullName;
BuiltInModels.MaterializeMiniLm(Path.Combine(models, BuiltInModels.MiniLmName));
var model = ModelStore.LoadFolder(Path.Combine(models, BuiltInModels.MiniLmName));

Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {RuntimeInformationText()}; {requests} single-text requests per point");

using var reference = new MiniLmReference(model);
var direct = new Dictionary<int, double>();
foreach (var c in concurrencies)
{
    direct[c] = await MeasureAsync(c, texts, text => { reference.Embed(text); return Task.CompletedTask; });
}

// One-per-run first, so that whatever the first node warms up for the process favours it, not batching.
var unbatched = await GatewayAsync(maxBatch: 1);
var batched = await GatewayAsync(maxBatch: 32);

Console.WriteLine();
Console.WriteLine("| clients | direct ONNX Runtime (emb/s) | gateway, dynamic batching (emb/s) | gateway / direct | gateway, one request per run (emb/s) | batching / one-per-run |");
Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
foreach (var c in concurrencies)
{
    Console.WriteLine(FormattableString.Invariant(
        $"| {c} | {direct[c]:F1} | {batched[c]:F1} | {batched[c] / direct[c]:F2} | {unbatched[c]:F1} | {batched[c] / unbatched[c]:F2} |"));
}

Directory.Delete(models, recursive: true);
return 0;

async Task<Dictionary<int, double>> GatewayAsync(int maxBatch)
{
    var node = await CocoonTestNode.StartAsync("bench-" + maxBatch, "proxy,worker", connectionString: null, "bench", extra: new Dictionary<string, string?>
    {
        ["Cocoon:Worker:Models"] = BuiltInModels.MiniLmName,
        ["Cocoon:Worker:ModelsDirectory"] = models,
        ["Cocoon:Worker:ExecutionProvider"] = "Auto",
        ["Cocoon:Worker:Capacity"] = "2",
        ["Cocoon:Worker:MaxBatchSize"] = maxBatch.ToString(CultureInfo.InvariantCulture),
        ["Cocoon:Worker:MaxBatchWaitMilliseconds"] = "2",
    });
    try
    {
        var key = ApiKeys.Generate();
        await node.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(key)).CreateAsync("bench", "bench");
        await node.Grains.GetGrain<IEscrowAccountGrain>("bench").DepositAsync("bench-grant", 1_000_000_000_000_000);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = node.GatewayUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var result = new Dictionary<int, double>();
        foreach (var c in concurrencies)
        {
            result[c] = await MeasureAsync(c, texts, async text =>
            {
                var body = "{\"model\":\"" + BuiltInModels.MiniLmName + "\",\"input\":\"" + text + "\",\"encoding_format\":\"base64\"}";
                using var response = await http.PostAsync("v1/embeddings", new StringContent(body, Encoding.UTF8, "application/json"));
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
            });
        }

        return result;
    }
    finally
    {
        await node.DisposeAsync();
    }
}

static async Task<double> MeasureAsync(int concurrency, string[] inputs, Func<string, Task> call)
{
    // Warm up: JIT, connection pools, ONNX Runtime's first runs, the batcher's queues.
    for (var round = 0; round < 4; round++)
    {
        await Task.WhenAll(Enumerable.Range(0, Math.Max(concurrency, 8)).Select(i => call(inputs[i % inputs.Length])));
    }

    var next = -1;
    var clock = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < inputs.Length)
        {
            await call(inputs[i]);
        }
    })));
    return inputs.Length / clock.Elapsed.TotalSeconds;
}

static string RuntimeInformationText() =>
    $"{System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()}, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}";
