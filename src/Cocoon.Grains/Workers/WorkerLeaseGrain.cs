using Cocoon.Grains.Placement;
using Microsoft.Extensions.DependencyInjection;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Telemetry;
using Cocoon.Abstractions.Operations;
using Cocoon.Abstractions.Settlement;
using Cocoon.Abstractions.Workers;
using Microsoft.Extensions.Logging;

namespace Cocoon.Grains.Workers;

[GenerateSerializer, Alias("cocoon.workers.LeaseState")]
public sealed class LeaseState
{
    [Id(0)] public WorkerLease? Lease { get; set; }

    /// <summary><see cref="WorkerAdminState"/>; the operator's, kept across registrations (except a drain).</summary>
    [Id(1)] public string AdminState { get; set; } = WorkerAdminState.Enabled;

    /// <summary>The operator's coefficient, or null for the worker's own.</summary>
    [Id(2)] public long? CoefficientOverride { get; set; }

    /// <summary>The worker's receipt key and attestation document, as it last published them.</summary>
    [Id(3)] public WorkerAttestation? Attestation { get; set; }
}

/// <summary>
/// A worker's registration and lease, and the operator's control of it; see <see cref="IWorkerLeaseGrain"/> and
/// <see cref="IWorkerAdminGrain"/>. Routing learns of both through the model's deployment: an enabled worker's lease
/// is attached there with its effective coefficient, a draining or disabled one is detached. A registration that names
/// an owner address links the worker to its worker contract (owner, proxy) in the settlement grain, so its earnings are
/// paid on chain with no operator step.
/// </summary>
[ProxyRole]
public sealed partial class WorkerLeaseGrain(
    [PersistentState("lease", CocoonNames.StorageName)] IPersistentState<LeaseState> state,
    [FromKeyedServices(CocoonGrainsExtensions.ClockKey)] TimeProvider time,
    ILogger<WorkerLeaseGrain> logger) : Grain, IWorkerLeaseGrain, IWorkerAdminGrain
{
    private bool _listed;
    private string? _linkedOwner;

    /// <inheritdoc />
    public async Task<WorkerLease> RenewAsync(WorkerRegistration registration, TimeSpan leaseTime)
    {
        if (registration.Capacity < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(registration), "A worker's capacity is at least 1.");
        }

        var now = time.GetUtcNow();
        var previous = state.State.Lease;
        if (previous is not null && previous.Registration.Model != registration.Model)
        {
            await Deployment(previous.Registration.Model).DetachWorkerAsync(previous.WorkerId);
        }

        var continued = previous is not null && previous.Registration == registration && previous.ExpiresAt > now;
        var registeredAt = continued ? previous!.RegisteredAt : now;
        var lease = new WorkerLease(this.GetPrimaryKeyString(), registration, registeredAt, now + leaseTime);
        var adminChanged = false;
        if (!continued && state.State.AdminState == WorkerAdminState.Draining)
        {
            // A drain lasts until the worker registers anew (its silo restarted after maintenance).
            state.State.AdminState = WorkerAdminState.Enabled;
            adminChanged = true;
        }

        if (state.State.AdminState == WorkerAdminState.Enabled)
        {
            await Deployment(registration.Model).AttachWorkerAsync(Effective(lease));
        }

        state.State.Lease = lease;
        CocoonTelemetry.ObserveLease(lease.WorkerId, registration.Model, registration.Capacity, lease.ExpiresAt);
        // As with deployments, a renewal that changes nothing but the expiry is kept in memory only.
        if (previous is null || previous.Registration != registration || previous.RegisteredAt != registeredAt || adminChanged)
        {
            await state.WriteStateAsync();
        }

        if (!_listed)
        {
            await GrainFactory.GetGrain<IWorkerDirectoryGrain>(IWorkerDirectoryGrain.Key).AddAsync(lease.WorkerId);
            _listed = true;
        }

        if (registration.OwnerAddress.Length > 0 && registration.OwnerAddress != _linkedOwner)
        {
            await LinkOwnerAsync(lease.WorkerId, registration.OwnerAddress);
        }

        return lease;
    }

    /// <summary>
    /// Links the worker to the worker contract of its owner (idempotent; once per activation and owner). A refusal
    /// never costs the worker its lease: no chain means nothing to link, and a worker already paid to another owner
    /// keeps that link until an operator changes it, which is logged.
    /// </summary>
    private async Task LinkOwnerAsync(string workerId, string owner)
    {
        try
        {
            await GrainFactory.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey).RegisterWorkerAsync(workerId, owner);
            _linkedOwner = owner;
        }
        catch (CocoonApiException e) when (e.Code == "chain_disabled")
        {
            _linkedOwner = owner;
        }
        catch (CocoonApiException e)
        {
            // Tried again at the next renewal (a frozen ledger may be restored; an owner conflict is the operator's).
            LogOwnerNotLinked(workerId, owner, e.Code, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Worker '{WorkerId}' names owner {Owner} but is not linked to its worker contract ({Code}: {Message}).")]
    private partial void LogOwnerNotLinked(string workerId, string owner, string code, string message);

    /// <inheritdoc />
    public Task<WorkerLease?> GetAsync() => Task.FromResult(state.State.Lease);

    /// <inheritdoc />
    public async Task PublishAttestationAsync(WorkerAttestation attestation)
    {
        ArgumentNullException.ThrowIfNull(attestation);
        if (attestation.ReceiptKey.Length != 64 || !attestation.ReceiptKey.All(char.IsAsciiHexDigit))
        {
            throw new CocoonApiException(400, "invalid_receipt_key", "A receipt key is 32 bytes of hex.");
        }

        if (state.State.Attestation != attestation)
        {
            state.State.Attestation = attestation;
            await state.WriteStateAsync();
        }
    }

    /// <inheritdoc />
    public Task<WorkerAttestation?> GetAttestationAsync() => Task.FromResult(state.State.Attestation);

    /// <inheritdoc />
    public async Task ReleaseAsync()
    {
        if (state.State.Lease is not { } lease)
        {
            return;
        }

        await Deployment(lease.Registration.Model).DetachWorkerAsync(lease.WorkerId);
        state.State.Lease = lease with { ExpiresAt = time.GetUtcNow() };
        CocoonTelemetry.ObserveLease(lease.WorkerId, lease.Registration.Model, lease.Registration.Capacity, state.State.Lease.ExpiresAt, released: true);
        await state.WriteStateAsync();
    }

    /// <inheritdoc />
    public Task<WorkerDetails?> GetDetailsAsync() => Task.FromResult(Details());

    /// <inheritdoc />
    public async Task<WorkerDetails> SetStateAsync(string adminState)
    {
        if (!WorkerAdminState.IsValid(adminState))
        {
            throw new CocoonApiException(400, "invalid_state", $"'{adminState}' is not a worker state (enabled, draining, disabled).");
        }

        var lease = RequireLease();
        if (state.State.AdminState != adminState)
        {
            state.State.AdminState = adminState;
            await state.WriteStateAsync();
        }

        await ApplyAsync(lease);
        return Details()!;
    }

    /// <inheritdoc />
    public async Task<WorkerDetails> SetCoefficientAsync(long? coefficient)
    {
        if (coefficient is < 1)
        {
            throw new CocoonApiException(400, "invalid_coefficient", $"{coefficient}: the coefficient is at least 1 (1000 = 1.0x).");
        }

        var lease = RequireLease();
        if (state.State.CoefficientOverride != coefficient)
        {
            state.State.CoefficientOverride = coefficient;
            await state.WriteStateAsync();
        }

        await ApplyAsync(lease);
        return Details()!;
    }

    // The deployment's live set follows the operator: an enabled live lease is attached as routing should price it,
    // anything else is detached (running requests are not interrupted; they finish on the worker).
    private async Task ApplyAsync(WorkerLease lease)
    {
        var deployment = Deployment(lease.Registration.Model);
        if (state.State.AdminState == WorkerAdminState.Enabled && lease.ExpiresAt > time.GetUtcNow())
        {
            await deployment.AttachWorkerAsync(Effective(lease));
        }
        else
        {
            await deployment.DetachWorkerAsync(lease.WorkerId);
        }
    }

    private WorkerLease RequireLease() => state.State.Lease
        ?? throw new CocoonApiException(404, "worker_not_found", $"No worker '{this.GetPrimaryKeyString()}' ever registered.");

    private WorkerLease Effective(WorkerLease lease) => state.State.CoefficientOverride is { } coefficient
        ? lease with { Registration = lease.Registration with { Coefficient = coefficient } }
        : lease;

    private IModelDeploymentGrain Deployment(string model) => GrainFactory.GetGrain<IModelDeploymentGrain>(model);

    private WorkerDetails? Details()
    {
        if (state.State.Lease is not { } lease)
        {
            return null;
        }

        var live = lease.ExpiresAt > time.GetUtcNow();
        return new WorkerDetails
        {
            WorkerId = lease.WorkerId,
            Registration = lease.Registration,
            Coefficient = state.State.CoefficientOverride ?? lease.Registration.Coefficient,
            CoefficientOverride = state.State.CoefficientOverride,
            AdminState = state.State.AdminState,
            RegisteredAt = lease.RegisteredAt,
            ExpiresAt = lease.ExpiresAt,
            Live = live,
            Routable = live && state.State.AdminState == WorkerAdminState.Enabled,
        };
    }
}

[GenerateSerializer, Alias("cocoon.operations.WorkerDirectoryState")]
public sealed class WorkerDirectoryState
{
    [Id(0)] public SortedSet<string> Workers { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>Every worker id that ever registered; see <see cref="IWorkerDirectoryGrain"/>.</summary>
[ProxyRole]
public sealed class WorkerDirectoryGrain(
    [PersistentState("workers", CocoonNames.StorageName)] IPersistentState<WorkerDirectoryState> state) : Grain, IWorkerDirectoryGrain
{
    /// <inheritdoc />
    public async Task AddAsync(string workerId)
    {
        if (state.State.Workers.Add(workerId))
        {
            await state.WriteStateAsync();
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListAsync() => Task.FromResult<IReadOnlyList<string>>([.. state.State.Workers]);
}
