using Cocoon.Abstractions.Models;

namespace Cocoon.Abstractions.Operations;

/// <summary>
/// Operator-only view of the cluster, for <c>cocoon status</c>, <c>cocoon workers list</c> and <c>cocoon models
/// list</c>: one call per command gathers membership, each silo's own report, leases and deployments. A stateless
/// worker, so it runs on the silo the operator's client is connected to.
/// </summary>
[Alias("cocoon.operations.IClusterAdminGrain")]
public interface IClusterAdminGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// The silos in membership (without those long dead unless <paramref name="includeDead"/>), each asked directly for
    /// its report, with <paramref name="timeout"/> per silo; one that does not answer is reported unreachable.
    /// </summary>
    [Alias("GetSilos")]
    Task<IReadOnlyList<SiloOverview>> GetSilosAsync(bool includeDead, TimeSpan timeout);

    /// <summary>Every worker that ever registered, with its lease and the requests the proxy silos have running on it.</summary>
    [Alias("ListWorkers")]
    Task<IReadOnlyList<WorkerStatus>> ListWorkersAsync();

    /// <summary>Every deployed model, enabled or not, with its routable workers.</summary>
    [Alias("ListModels")]
    Task<IReadOnlyList<ModelStatus>> ListModelsAsync();
}

/// <summary>
/// One silo's report about itself; placed on the silo whose address is its key (the caller names the silo in the
/// request context as for <c>WorkerSiloPlacement</c>), so a call that answers proves the silo serves grain calls.
/// </summary>
[Alias("cocoon.operations.ISiloAdminGrain")]
public interface ISiloAdminGrain : IGrainWithStringKey
{
    /// <summary>The silo's report, with the requests it has in flight for each worker in <paramref name="runningOf"/>.</summary>
    [Alias("GetReport")]
    Task<SiloReport> GetReportAsync(IReadOnlyList<string> runningOf);
}

/// <summary>What a silo says about itself.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.operations.SiloReport")]
public sealed record SiloReport
{
    /// <summary>The silo's roles (<c>cocoon.role</c>).</summary>
    [Id(0)] public required string Roles { get; init; }

    /// <summary>The Cocoon build it runs.</summary>
    [Id(1)] public required string Version { get; init; }

    /// <summary>Its operating-system process id.</summary>
    [Id(2)] public required int ProcessId { get; init; }

    /// <summary>Workers whose engines run in this silo.</summary>
    [Id(3)] public required IReadOnlyList<string> LocalWorkers { get; init; }

    /// <summary>Requests this silo has in flight per worker (the routing load signal of a proxy silo).</summary>
    [Id(4)] public required IReadOnlyDictionary<string, int> Running { get; init; }

    /// <summary>The process's working set in bytes.</summary>
    [Id(5)] public required long WorkingSetBytes { get; init; }
}

/// <summary>A silo as <c>cocoon status</c> shows it.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.operations.SiloOverview")]
public sealed record SiloOverview
{
    /// <summary>The silo's name.</summary>
    [Id(0)] public required string Name { get; init; }

    /// <summary>Its Orleans address (endpoint and generation).</summary>
    [Id(1)] public required string Address { get; init; }

    /// <summary>Membership status: <c>Active</c>, <c>Joining</c>, <c>ShuttingDown</c>, <c>Dead</c>...</summary>
    [Id(2)] public required string Status { get; init; }

    /// <summary>When it started.</summary>
    [Id(3)] public required DateTimeOffset StartedAt { get; init; }

    /// <summary>Its last I-am-alive write to membership.</summary>
    [Id(4)] public required DateTimeOffset LastAliveAt { get; init; }

    /// <summary><c>ok</c> (answered), <c>unreachable</c> (active but did not answer in time) or <c>down</c> (not active).</summary>
    [Id(5)] public required string Health { get; init; }

    /// <summary>Its report, when it answered.</summary>
    [Id(6)] public SiloReport? Report { get; init; }

    /// <summary>Why it is not <c>ok</c>, briefly.</summary>
    [Id(7)] public string? Problem { get; init; }

    /// <summary>Its roles from membership metadata (also known when it does not answer).</summary>
    [Id(8)] public string Roles { get; init; } = "";
}

/// <summary>A worker as <c>cocoon workers list</c> shows it.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.operations.WorkerStatus")]
public sealed record WorkerStatus
{
    /// <summary>The lease.</summary>
    [Id(0)] public required WorkerDetails Details { get; init; }

    /// <summary>Requests the proxy silos have running on it now.</summary>
    [Id(1)] public required int Running { get; init; }

    /// <summary>The name of the silo it runs in, when that silo is in membership.</summary>
    [Id(2)] public string? SiloName { get; init; }
}

/// <summary>A model as <c>cocoon models list</c> shows it.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.operations.ModelStatus")]
public sealed record ModelStatus(
    [property: Id(0)] ModelDeployment Deployment,
    [property: Id(1)] IReadOnlyList<string> Workers);

/// <summary>
/// Operator-only changes to a model's deployment, keyed like <see cref="IModelDeploymentGrain"/> by model name.
/// </summary>
[Alias("cocoon.operations.IModelAdminGrain")]
public interface IModelAdminGrain : IGrainWithStringKey
{
    /// <summary>
    /// Creates or updates the deployment (keeping when it was first deployed and whether it is enabled). A new model
    /// hash drops the workers that loaded another one from the live set: they are refused until they load this one.
    /// </summary>
    [Alias("Deploy")]
    Task<ModelDeployment> DeployAsync(ModelDeployment deployment);

    /// <summary>Enables or disables the model (a disabled model answers 404); refused (404) when never deployed.</summary>
    [Alias("SetEnabled")]
    Task<ModelDeployment> SetEnabledAsync(bool enabled);
}
