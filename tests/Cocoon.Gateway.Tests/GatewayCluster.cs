using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Models;
using Cocoon.Grains.Inference;
using Cocoon.Inference.Generation;
using Cocoon.Inference.Models;
using Microsoft.Extensions.DependencyInjection;
using Cocoon.Testing;

[assembly: AssemblyFixture(typeof(Cocoon.Gateway.Tests.GatewayCluster))]

namespace Cocoon.Gateway.Tests;

/// <summary>
/// One proxy silo (serving the HTTP gateway) and two worker silos (each running all-MiniLM-L6-v2 and the built-in tiny
/// text generation model), on PostgreSQL, as three real silos talking TCP; plus independent references: a plain ONNX
/// Runtime session fed one text at a time (no batching, no padding), tokenization and mean pooling written out here, and
/// a text generation engine of its own over the same tiny model, called directly.
/// </summary>
public sealed class GatewayCluster : IAsyncLifetime
{
    private readonly PostgresFixture _postgres = new();
    public const string Model = BuiltInModels.MiniLmName;
    public const long PricePerToken = 20;
    public const string TextModel = BuiltInModels.TinyLmName;

    private readonly string _models = Directory.CreateTempSubdirectory("cocoon-gateway-models-").FullName;
    private MiniLmReference? _reference;
    private TextGenerationEngine? _textReference;

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

        var textDir = Path.Combine(_models, TextModel);
        BuiltInModels.MaterializeTinyLm(textDir);
        _textReference = TextGenerationEngine.Create(ModelStore.LoadFolder(textDir), new TextGenerationEngineOptions { Capacity = 1 });

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
        await Proxy.Grains.GetGrain<IModelDeploymentGrain>(TextModel).DeployAsync(new ModelDeployment
        {
            Name = TextModel,
            Kind = ModelKind.TextGeneration,
            ModelHash = _textReference.ModelSha256,
            ContextLength = _textReference.ContextLength,
        });
        var worker = new Dictionary<string, string?>
        {
            ["Cocoon:Worker:Models"] = Model + "," + TextModel,
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

    /// <summary>The tiny text generation model called directly, outside the cluster: the reference for what the gateway returns.</summary>
    public TextGenerationEngine TextReference => _textReference!;

    /// <summary>What the engine itself generates for <paramref name="prompt"/>: every chunk, the last with its finish reason.</summary>
    public async Task<IReadOnlyList<GenerationChunk>> ReferenceChunksAsync(string prompt, GenerationOptions options)
    {
        var chunks = new List<GenerationChunk>();
        await foreach (var chunk in TextReference.GenerateAsync(prompt, options))
        {
            chunks.Add(chunk);
        }

        return chunks;
    }

    /// <summary>The text generation engines of both workers (their <c>Running</c> is the slots in use).</summary>
    public IEnumerable<ITextGenerationEngine> WorkerTextEngines() =>
        new[] { WorkerA, WorkerB }.Select(n => n.Host.Services.GetRequiredService<LocalWorkers>().All.Single(w => w.Generation is not null).Generation!);

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
        if (_textReference is not null)
        {
            await _textReference.DisposeAsync();
        }

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
