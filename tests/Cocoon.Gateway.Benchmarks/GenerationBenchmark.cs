using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Inference.Generation;
using Cocoon.Inference.Models;
using Cocoon.Testing;

/// <summary>
/// Text generation through the whole platform (HTTP gateway, SSE -> service grain -> escrow -> worker silo -> continuous
/// batching engine) against the same engine called directly in the same process, on the built-in tiny model: time to first
/// token at one stream at a time, and completed streams per second at 1, 8 and 32 concurrent streams. Ratios carry between
/// machines; the absolute figures are this machine's.
/// </summary>
internal static class GenerationBenchmark
{
    private const int MaxTokens = 32;

    public static async Task<int> RunAsync(int requests)
    {
        int[] concurrencies = [1, 8, 32];
        var models = Directory.CreateTempSubdirectory("cocoon-bench-gen-").FullName;
        var dir = Path.Combine(models, BuiltInModels.TinyLmName);
        BuiltInModels.MaterializeTinyLm(dir);
        var users = Enumerable.Range(0, requests).Select(i => $"Benchmark question {i}: what is the weather like?").ToArray();
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores; {BuiltInModels.TinyLmName}, {requests} chat streams per point, max_tokens {MaxTokens}, greedy");

        // The direct side: the engine as the worker runs it (same capacity), prompts through its own chat template.
        double[] directTtft;
        var directRate = new Dictionary<int, double>();
        await using (var engine = TextGenerationEngine.Create(ModelStore.LoadFolder(dir), new TextGenerationEngineOptions { Capacity = 8 }))
        {
            var prompts = users.Select(u => engine.ApplyChatTemplate([new ChatTurn("user", u)])).ToArray();
            var options = new GenerationOptions { MaxTokens = MaxTokens, Temperature = 0 };
            async Task<double> Direct(int i)
            {
                var clock = Stopwatch.StartNew();
                double first = -1;
                await foreach (var chunk in engine.GenerateAsync(prompts[i], options))
                {
                    first = first < 0 ? clock.Elapsed.TotalMilliseconds : first;
                }

                return first;
            }

            directTtft = await LatenciesAsync(requests, Direct);
            foreach (var c in concurrencies)
            {
                directRate[c] = await RateAsync(c, requests, Direct);
            }
        }

        var node = await CocoonTestNode.StartAsync("bench-gen", "proxy,worker", connectionString: null, "bench", extra: new Dictionary<string, string?>
        {
            ["Cocoon:Worker:Models"] = BuiltInModels.TinyLmName,
            ["Cocoon:Worker:ModelsDirectory"] = models,
            ["Cocoon:Worker:ExecutionProvider"] = "Auto",
            ["Cocoon:Worker:Capacity"] = "8",
        });
        double[] gatewayTtft;
        var gatewayRate = new Dictionary<int, double>();
        try
        {
            var key = ApiKeys.Generate();
            await node.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(key)).CreateAsync("bench", "bench");
            await node.Grains.GetGrain<IEscrowAccountGrain>("bench").DepositAsync("bench-grant", 1_000_000_000_000_000);
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = node.GatewayUrl };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            async Task<double> Gateway(int i)
            {
                var body = "{\"model\":\"" + BuiltInModels.TinyLmName + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + users[i]
                           + "\"}],\"temperature\":0,\"max_tokens\":" + MaxTokens + ",\"stream\":true}";
                var clock = Stopwatch.StartNew();
                using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                response.EnsureSuccessStatusCode();
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
                double first = -1;
                var events = 0;
                while (await reader.ReadLineAsync() is { } line)
                {
                    // The first event (the role) is written when the first token arrives; the second carries its text.
                    if (line.StartsWith("data: ", StringComparison.Ordinal) && ++events == 2)
                    {
                        first = clock.Elapsed.TotalMilliseconds;
                    }
                }

                return first;
            }

            gatewayTtft = await LatenciesAsync(requests, Gateway);
            foreach (var c in concurrencies)
            {
                gatewayRate[c] = await RateAsync(c, requests, Gateway);
            }
        }
        finally
        {
            await node.DisposeAsync();
            Directory.Delete(models, recursive: true);
        }

        Console.WriteLine();
        Console.WriteLine("| time to first token, 1 stream | direct engine (ms) | gateway, HTTP SSE (ms) | gateway / direct |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        foreach (var (name, q) in new[] { ("median", 0.5), ("p90", 0.9) })
        {
            var d = Quantile(directTtft, q);
            var g = Quantile(gatewayTtft, q);
            Console.WriteLine(FormattableString.Invariant($"| {name} | {d:F2} | {g:F2} | {g / d:F2} |"));
        }

        Console.WriteLine();
        Console.WriteLine("| concurrent streams | direct engine (streams/s) | gateway (streams/s) | gateway / direct |");
        Console.WriteLine("| ---: | ---: | ---: | ---: |");
        foreach (var c in concurrencies)
        {
            Console.WriteLine(FormattableString.Invariant($"| {c} | {directRate[c]:F1} | {gatewayRate[c]:F1} | {gatewayRate[c] / directRate[c]:F2} |"));
        }

        return 0;
    }

    // One stream at a time, after a warm-up: each call's time to first token.
    private static async Task<double[]> LatenciesAsync(int requests, Func<int, Task<double>> call)
    {
        for (var i = 0; i < 8; i++)
        {
            await call(i % requests);
        }

        var result = new double[requests];
        for (var i = 0; i < requests; i++)
        {
            result[i] = await call(i);
        }

        return result;
    }

    private static async Task<double> RateAsync(int concurrency, int requests, Func<int, Task<double>> call)
    {
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(i => call(i % requests)));
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests)
            {
                await call(i);
            }
        })));
        return requests / clock.Elapsed.TotalSeconds;
    }

    private static double Quantile(double[] values, double q)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
    }
}
