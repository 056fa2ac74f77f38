using Cocoon.Abstractions.Workers;

namespace Cocoon.Abstractions.Operations;

/// <summary>
/// Operator-only control of a worker's lease (issue 8 item 3), keyed like <see cref="IWorkerLeaseGrain"/> by worker
/// id: drain, disable, enable and the price coefficient at run time. The lease applies them through the live set it
/// keeps in the model's deployment, so routing sees a change within its cache's staleness bound. Persisted.
/// </summary>
[Alias("cocoon.operations.IWorkerAdminGrain")]
public interface IWorkerAdminGrain : IGrainWithStringKey
{
    /// <summary>The worker as operators see it, or null when it never registered.</summary>
    [Alias("GetDetails")]
    Task<WorkerDetails?> GetDetailsAsync();

    /// <summary>
    /// Sets the operator's state (<paramref name="adminState"/>): <see cref="WorkerAdminState.Draining"/> takes no new requests while running ones
    /// finish, and ends when the worker registers anew (a restarted silo); <see cref="WorkerAdminState.Disabled"/>
    /// takes none until enabled; <see cref="WorkerAdminState.Enabled"/> serves again. Refused (404) for an unknown worker.
    /// </summary>
    [Alias("SetState")]
    Task<WorkerDetails> SetStateAsync(string adminState);

    /// <summary>Overrides the worker's price coefficient (1000 = 1.0x, at least 1); null returns to the worker's own.</summary>
    [Alias("SetCoefficient")]
    Task<WorkerDetails> SetCoefficientAsync(long? coefficient);
}

/// <summary>The operators' list of every worker id that ever registered. Not on the request path.</summary>
[Alias("cocoon.operations.IWorkerDirectoryGrain")]
public interface IWorkerDirectoryGrain : IGrainWithStringKey
{
    /// <summary>The directory's one key.</summary>
    public const string Key = "workers";

    /// <summary>Adds a worker id; idempotent.</summary>
    [Alias("Add")]
    Task AddAsync(string workerId);

    /// <summary>Every worker id, sorted.</summary>
    [Alias("List")]
    Task<IReadOnlyList<string>> ListAsync();
}

/// <summary>The operator's states of a worker (<see cref="WorkerDetails.AdminState"/>).</summary>
public static class WorkerAdminState
{
    /// <summary>Serving.</summary>
    public const string Enabled = "enabled";

    /// <summary>No new requests; running ones finish. Cleared when the worker registers anew.</summary>
    public const string Draining = "draining";

    /// <summary>No requests until enabled again.</summary>
    public const string Disabled = "disabled";

    /// <summary>Whether <paramref name="state"/> is one of the three.</summary>
    public static bool IsValid(string state) => state is Enabled or Draining or Disabled;
}

/// <summary>A worker's lease as operators see it.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.operations.WorkerDetails")]
public sealed record WorkerDetails
{
    /// <summary>The worker id.</summary>
    [Id(0)] public required string WorkerId { get; init; }

    /// <summary>What it registered.</summary>
    [Id(1)] public required WorkerRegistration Registration { get; init; }

    /// <summary>The coefficient routing and pricing use: the operator's override, else the registered one.</summary>
    [Id(2)] public required long Coefficient { get; init; }

    /// <summary>The operator's override, or null.</summary>
    [Id(3)] public long? CoefficientOverride { get; init; }

    /// <summary><see cref="WorkerAdminState"/>.</summary>
    [Id(4)] public required string AdminState { get; init; }

    /// <summary>When the current registration began.</summary>
    [Id(5)] public required DateTimeOffset RegisteredAt { get; init; }

    /// <summary>When the lease runs out unless renewed.</summary>
    [Id(6)] public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>Whether the lease had not expired when this was read.</summary>
    [Id(7)] public required bool Live { get; init; }

    /// <summary>Whether routing may send it new requests now: live and enabled.</summary>
    [Id(8)] public required bool Routable { get; init; }
}
