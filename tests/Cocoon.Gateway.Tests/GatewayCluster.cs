using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Models;
using Cocoon.Inference.Models;
using Cocoon.Testing;

[assembly: AssemblyFixture(typeof(Cocoon.Gateway.Tests.GatewayCluster))]

namespace Cocoon.Gateway.Tests;

/// <summary>
/// One proxy silo (serving the HTTP gateway) and two worker silos (each running all-MiniLM-L6-v2), on PostgreSQL,
/// as three real silos talking TCP; plus an independent reference: a plain ONNX Runtime session fed one text at a
/// time (no batching, no padding), tokenization and mean pooling written out here.
/// </summary>
public sealed class GatewayCluster : IAsyncLifetime
{
    private readonly PostgresFixture _postgres = new();
    public const string Model = BuiltInModels.MiniLmName;
    public const long PricePerToken = 20;

    private readonly string _models = Directory.CreateTempSubdirectory("cocoon-gateway-models-").FullName;
    private MiniLmReference? _reference;

    public CocoonTestNode Proxy { get; private set; } = null!;

    public CocoonTestNode WorkerA { get; private set; } = null!;

    public CocoonTestNode WorkerB { get; private set; } = null!;

    public string ConnectionString { get; private set; } = "";

    public string ClusterId { get; } = "gw-" + Guid.NewGuid().ToString("N")[..8];

    public Uri Gateway => Proxy.GatewayUrl!;

    public Uri OpenAiEndpoint => new(Gateway, "/v1");

    public async ValueTask InitializeAsync()
    {
        await _postgres.InitializeAsync();
        ConnectionString = await _postgres.CreateDatabaseAsync("gateway");
        var modelDir = Path.Combine(_models, Model);
        BuiltInModels.MaterializeMiniLm(modelDir);
        var model = ModelStore.LoadFolder(modelDir);
        _reference = new MiniLmReference(model);

        Proxy = await CocoonTestNode.StartAsync(ClusterId, "proxy", ConnectionString, "proxy");
        // The operator deploys the model; workers attach to it.
        await Proxy.Grains.GetGrain<IModelDeploymentGrain>(Model).DeployAsync(new ModelDeployment
        {
            Name = Model,
            Kind = ModelKind.Embedding,
            ModelHash = BuiltInModels.MiniLmOnnxSha256,
            ContextLength = 256,
            Dimensions = 384,
        });
        var worker = new Dictionary<string, string?>
        {
            ["Cocoon:Worker:Models"] = Model,
            ["Cocoon:Worker:ModelsDirectory"] = _models,
            ["Cocoon:Worker:ExecutionProvider"] = "Cpu",
            ["Cocoon:Worker:Capacity"] = "2",
        };
        WorkerA = await CocoonTestNode.StartAsync(ClusterId, "worker", ConnectionString, "worker-a", extra: worker);
        WorkerB = await CocoonTestNode.StartAsync(ClusterId, "worker", ConnectionString, "worker-b", extra: worker);
    }

    /// <summary>A new account with <paramref name="nanoTon"/> and a key for it; tests never share accounts.</summary>
    public async Task<(string ApiKey, IEscrowAccountGrain Account)> CreateFundedKeyAsync(long nanoTon = 1_000_000_000)
    {
        var accountId = "acct-" + Guid.NewGuid().ToString("N")[..12];
        var apiKey = ApiKeys.Generate();
        await Proxy.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(apiKey)).CreateAsync(accountId, "test");
        var account = Proxy.Grains.GetGrain<IEscrowAccountGrain>(accountId);
        await account.DepositAsync("grant", nanoTon);
        return (apiKey, account);
    }

    /// <summary>The tokens the model sees for <paramref name="text"/>, [CLS] and [SEP] included.</summary>
    public int TokenCount(string text) => _reference!.TokenCount(text);

    /// <summary>The embedding of <paramref name="text"/> from an unbatched direct ONNX Runtime run.</summary>
    public float[] Reference(string text) => _reference!.Embed(text);

    public async ValueTask DisposeAsync()
    {
        foreach (var node in new[] { WorkerA, WorkerB, Proxy })
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }
        }

        _reference?.Dispose();
        Directory.Delete(_models, recursive: true);
        await _postgres.DisposeAsync();
    }
}

internal static class Vectors
{
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * (double)b[i];
            na += a[i] * (double)a[i];
            nb += b[i] * (double)b[i];
        }

        return dot / Math.Sqrt(na * nb);
    }

    public static double Norm(ReadOnlySpan<float> a)
    {
        double sum = 0;
        foreach (var v in a)
        {
            sum += v * (double)v;
        }

        return Math.Sqrt(sum);
    }

    public static double MaxAbsDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double max = 0;
        for (var i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs(a[i] - (double)b[i]));
        }

        return max;
    }
}
