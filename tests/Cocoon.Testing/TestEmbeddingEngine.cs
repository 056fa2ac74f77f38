using System.Security.Cryptography;
using System.Text;
using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Workers;
using Cocoon.Grains.Inference;
using Cocoon.Inference;
using Cocoon.Inference.Embeddings;
using Cocoon.Inference.Runtime;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Testing;

/// <summary>
/// A test-only embedding engine (issue 8 asks for one): no model, each call waits <see cref="Delay"/> (zero: returns at
/// once, the zero-cost engine the platform-overhead benchmark compares against; more: the deliberately slow worker of
/// the routing tests) and returns small deterministic vectors with one token per word plus [CLS] and [SEP]. It lives in
/// test code only; a node never loads it.
/// </summary>
public sealed class TestEmbeddingEngine(string modelName, TimeSpan delay) : IEmbeddingEngine, IAsyncDisposable
{
    private int _calls;

    /// <summary>The length of every vector.</summary>
    public const int VectorLength = 4;

    /// <summary>How long each call waits before answering.</summary>
    public TimeSpan Delay { get; } = delay;

    /// <summary>Calls that returned vectors.</summary>
    public int Calls => Volatile.Read(ref _calls);

    /// <inheritdoc />
    public string ModelName { get; } = modelName;

    /// <inheritdoc />
    public string ModelSha256 => ModelHashOf(ModelName);

    /// <inheritdoc />
    public int Dimensions => VectorLength;

    /// <inheritdoc />
    public int MaxSequenceLength => 512;

    /// <inheritdoc />
    public ExecutionProviderInfo ExecutionProvider { get; } = new(ExecutionProviderInfo.Cpu, "test engine: no model");

    /// <summary>The model hash the test engine of <paramref name="model"/> reports (SHA-256 of its name).</summary>
    public static string ModelHashOf(string model) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("cocoon-test-engine:" + model)));

    /// <summary>The deployment of <paramref name="model"/> served by test engines.</summary>
    public static ModelDeployment DeploymentOf(string model) => new()
    {
        Name = model,
        Kind = ModelKind.Embedding,
        ModelHash = ModelHashOf(model),
        ContextLength = 512,
        Dimensions = VectorLength,
    };

    /// <inheritdoc />
    public int CountTokens(string input) => input.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length + 2;

    /// <inheritdoc />
    public async Task<EmbeddingResult> EmbedAsync(IReadOnlyList<string> inputs, EmbeddingOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        for (var i = 0; i < inputs.Count; i++)
        {
            if (string.IsNullOrEmpty(inputs[i]))
            {
                throw new InferenceException(InferenceErrorCodes.EmptyInput, $"input {i} is empty", "input");
            }
        }

        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, cancellationToken);
        }

        var vectors = new float[inputs.Count][];
        var counts = new int[inputs.Count];
        for (var i = 0; i < inputs.Count; i++)
        {
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes(inputs[i]));
            vectors[i] = [.. Enumerable.Range(0, VectorLength).Select(k => (hash[k] - 127.5f) / 127.5f)];
            counts[i] = CountTokens(inputs[i]);
        }

        Interlocked.Increment(ref _calls);
        return new EmbeddingResult(vectors, counts, new bool[inputs.Count]);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// Runs <paramref name="engine"/> as worker <paramref name="workerId"/> in <paramref name="node"/> (a silo with the
    /// worker role and no configured models): adds it to the silo's local workers, deploys the model if it is not yet,
    /// and registers its lease for <paramref name="leaseTime"/>. The test renews the lease (it is the worker's heartbeat).
    /// </summary>
    public static async Task<WorkerRegistration> AddWorkerAsync(
        CocoonTestNode node, string workerId, TestEmbeddingEngine engine, TimeSpan leaseTime, int capacity = 8, long coefficient = 1000)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(engine);
        var registration = new WorkerRegistration
        {
            Model = engine.ModelName,
            ModelHash = engine.ModelSha256,
            SiloAddress = node.Host.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToParsableString(),
            Capacity = capacity,
            Coefficient = coefficient,
            ExecutionProvider = engine.ExecutionProvider.Name,
        };
        node.Host.Services.GetRequiredService<LocalWorkers>().Add(new LocalWorker(workerId, registration, engine));
        var deployment = node.Grains.GetGrain<IModelDeploymentGrain>(engine.ModelName);
        if (await deployment.GetAsync() is null)
        {
            await deployment.DeployAsync(DeploymentOf(engine.ModelName));
        }

        await node.Grains.GetGrain<IWorkerLeaseGrain>(workerId).RenewAsync(registration, leaseTime);
        return registration;
    }
}
