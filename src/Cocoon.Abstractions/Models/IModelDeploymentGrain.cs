using Cocoon.Abstractions.Workers;

namespace Cocoon.Abstractions.Models;

/// <summary>
/// A deployed model (DESIGN section 3), keyed by model name: its manifest, whether it is enabled, and the live set of
/// worker leases that serve it. The gateway does not call it per request: routing reads <see cref="GetRoutesAsync"/>
/// through a per-silo cache.
/// </summary>
[Alias("cocoon.models.IModelDeploymentGrain")]
public interface IModelDeploymentGrain : IGrainWithStringKey
{
    /// <summary>Creates or updates the deployment.</summary>
    [Alias("Deploy")]
    Task DeployAsync(ModelDeployment deployment);

    /// <summary>The deployment, or null when the model was never deployed.</summary>
    [Alias("Get")]
    Task<ModelDeployment?> GetAsync();

    /// <summary>Adds or refreshes a worker in the live set (called by the worker's lease).</summary>
    [Alias("Attach")]
    Task AttachWorkerAsync(WorkerLease lease);

    /// <summary>Removes a worker from the live set.</summary>
    [Alias("Detach")]
    Task DetachWorkerAsync(string workerId);

    /// <summary>The deployment and its workers whose leases have not expired.</summary>
    [Alias("GetRoutes")]
    Task<ModelRoutes> GetRoutesAsync();
}

/// <summary>The kinds of model the network serves.</summary>
public static class ModelKind
{
    /// <summary>Sentence embeddings (<c>/v1/embeddings</c>).</summary>
    public const string Embedding = "embedding";

    /// <summary>Text generation (<c>/v1/chat/completions</c>, <c>/v1/completions</c>).</summary>
    public const string TextGeneration = "text-generation";
}

/// <summary>A model's deployment record.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.models.ModelDeployment")]
public sealed record ModelDeployment
{
    /// <summary>The model's public name (<c>all-minilm-l6-v2</c>).</summary>
    [Id(0)] public required string Name { get; init; }

    /// <summary><see cref="ModelKind"/>.</summary>
    [Id(1)] public required string Kind { get; init; }

    /// <summary>SHA-256 of the model's ONNX file, as its manifest and the registry record it.</summary>
    [Id(2)] public required string ModelHash { get; init; }

    /// <summary>The longest input, in tokens.</summary>
    [Id(3)] public required int ContextLength { get; init; }

    /// <summary>Embedding width, for embedding models.</summary>
    [Id(4)] public int Dimensions { get; init; }

    /// <summary>Whether requests are accepted.</summary>
    [Id(5)] public bool Enabled { get; init; } = true;

    /// <summary>When it was first deployed.</summary>
    [Id(6)] public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>A deployment with its live workers, as routing sees it.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.models.ModelRoutes")]
public sealed record ModelRoutes(
    [property: Id(0)] ModelDeployment? Deployment,
    [property: Id(1)] IReadOnlyList<WorkerLease> Workers,
    [property: Id(2)] DateTimeOffset ReadAt);

/// <summary>The list of deployed model names, so <c>GET /v1/models</c> need not scan storage.</summary>
[Alias("cocoon.models.IModelCatalogGrain")]
public interface IModelCatalogGrain : IGrainWithStringKey
{
    /// <summary>The catalog's one key.</summary>
    public const string Key = "catalog";

    /// <summary>Adds a model name.</summary>
    [Alias("Add")]
    Task AddAsync(string model);

    /// <summary>Every deployed model name, sorted.</summary>
    [Alias("List")]
    Task<IReadOnlyList<string>> ListAsync();
}
