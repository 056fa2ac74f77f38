using Cocoon.Grains.Placement;
using Microsoft.Extensions.DependencyInjection;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Telemetry;
using Cocoon.Abstractions.Workers;

namespace Cocoon.Grains.Workers;

[GenerateSerializer, Alias("cocoon.workers.LeaseState")]
public sealed class LeaseState
{
    [Id(0)] public WorkerLease? Lease { get; set; }
}

/// <summary>A worker's registration and lease; see <see cref="IWorkerLeaseGrain"/>.</summary>
[ProxyRole]
public sealed class WorkerLeaseGrain(
    [PersistentState("lease", CocoonNames.StorageName)] IPersistentState<LeaseState> state,
    [FromKeyedServices(CocoonGrainsExtensions.ClockKey)] TimeProvider time) : Grain, IWorkerLeaseGrain
{
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
            await GrainFactory.GetGrain<IModelDeploymentGrain>(previous.Registration.Model).DetachWorkerAsync(previous.WorkerId);
        }

        var registeredAt = previous is not null && previous.Registration == registration && previous.ExpiresAt > now ? previous.RegisteredAt : now;
        var lease = new WorkerLease(this.GetPrimaryKeyString(), registration, registeredAt, now + leaseTime);
        await GrainFactory.GetGrain<IModelDeploymentGrain>(registration.Model).AttachWorkerAsync(lease);
        state.State.Lease = lease;
        CocoonTelemetry.ObserveLease(lease.WorkerId, registration.Model, registration.Capacity, lease.ExpiresAt);
        // As with deployments, a renewal that changes nothing but the expiry is kept in memory only.
        if (previous is null || previous.Registration != registration || previous.RegisteredAt != registeredAt)
        {
            await state.WriteStateAsync();
        }

        return lease;
    }

    /// <inheritdoc />
    public Task<WorkerLease?> GetAsync() => Task.FromResult(state.State.Lease);

    /// <inheritdoc />
    public async Task ReleaseAsync()
    {
        if (state.State.Lease is not { } lease)
        {
            return;
        }

        await GrainFactory.GetGrain<IModelDeploymentGrain>(lease.Registration.Model).DetachWorkerAsync(lease.WorkerId);
        state.State.Lease = lease with { ExpiresAt = time.GetUtcNow() };
        CocoonTelemetry.ObserveLease(lease.WorkerId, lease.Registration.Model, lease.Registration.Capacity, state.State.Lease.ExpiresAt, released: true);
        await state.WriteStateAsync();
    }
}
