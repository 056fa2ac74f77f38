using Cocoon.Grains.Placement;
using Microsoft.Extensions.DependencyInjection;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Operations;
using Cocoon.Abstractions.Workers;

namespace Cocoon.Grains.Models;

[GenerateSerializer, Alias("cocoon.models.DeploymentState")]
public sealed class DeploymentState
{
    [Id(0)] public ModelDeployment? Deployment { get; set; }
    [Id(1)] public Dictionary<string, WorkerLease> Workers { get; set; } = [];
}

/// <summary>
/// A model's deployment and live worker set; see <see cref="IModelDeploymentGrain"/>, and <see cref="IModelAdminGrain"/>
/// for the operator's changes.
/// </summary>
[ProxyRole]
public sealed class ModelDeploymentGrain(
    [PersistentState("deployment", CocoonNames.StorageName)] IPersistentState<DeploymentState> state,
    [FromKeyedServices(CocoonGrainsExtensions.ClockKey)] TimeProvider time,
    IClusterMembershipService membership) : Grain, IModelDeploymentGrain, IModelAdminGrain
{
    /// <summary>How long a stored worker on a live silo stays routable after this grain activates, awaiting its renewal.</summary>
    public static readonly TimeSpan ReattachGrace = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Lease renewals are kept in memory only (AttachWorkerAsync), so after this grain moves (its proxy silo died) the
    /// stored expiries are as old as each worker's registration: every worker would drop out of the live set until its
    /// next heartbeat, and requests would get 503 no_worker_available for up to a third of a lease. A stored worker whose
    /// silo is an active cluster member is kept routable for <see cref="ReattachGrace"/> instead; its next renewal sets
    /// the real expiry, and a worker that is gone fails its first request, which routing retries on another.
    /// </summary>
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var active = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress.ToParsableString())
            .ToHashSet(StringComparer.Ordinal);
        foreach (var (id, lease) in state.State.Workers.ToList())
        {
            if (lease.ExpiresAt <= now && active.Contains(lease.Registration.SiloAddress))
            {
                state.State.Workers[id] = lease with { ExpiresAt = now + ReattachGrace };
            }
        }

        return base.OnActivateAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task DeployAsync(ModelDeployment deployment)
    {
        if (deployment.Name != this.GetPrimaryKeyString())
        {
            throw new ArgumentException($"Deployment {deployment.Name} sent to the grain of {this.GetPrimaryKeyString()}.", nameof(deployment));
        }

        var created = state.State.Deployment?.CreatedAt ?? time.GetUtcNow();
        state.State.Deployment = deployment with { CreatedAt = created };
        await state.WriteStateAsync();
        await GrainFactory.GetGrain<IModelCatalogGrain>(IModelCatalogGrain.Key).AddAsync(deployment.Name);
    }

    /// <inheritdoc />
    async Task<ModelDeployment> IModelAdminGrain.DeployAsync(ModelDeployment deployment)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        if (deployment.ModelHash.Length != 64 || !deployment.ModelHash.All(char.IsAsciiHexDigitLower))
        {
            throw new CocoonApiException(400, "invalid_model_hash", "The model hash is the SHA-256 of the model file: 64 lower-case hex digits.");
        }

        if (deployment.Kind is not (ModelKind.Embedding or ModelKind.TextGeneration))
        {
            throw new CocoonApiException(400, "invalid_model_kind", $"'{deployment.Kind}' is not a model kind ({ModelKind.Embedding}, {ModelKind.TextGeneration}).");
        }

        if (deployment.ContextLength < 1 || deployment.Dimensions < 0)
        {
            throw new CocoonApiException(400, "invalid_deployment", "The context length is at least 1 and the dimensions are not negative.");
        }

        var keep = state.State.Deployment is { } existing ? deployment with { Enabled = existing.Enabled } : deployment;
        foreach (var stale in state.State.Workers.Where(w => w.Value.Registration.ModelHash != keep.ModelHash).Select(w => w.Key).ToList())
        {
            state.State.Workers.Remove(stale);
        }

        await DeployAsync(keep);
        return state.State.Deployment!;
    }

    /// <inheritdoc />
    public async Task<ModelDeployment> SetEnabledAsync(bool enabled)
    {
        var deployment = state.State.Deployment
            ?? throw new CocoonApiException(404, "model_not_found", $"The model '{this.GetPrimaryKeyString()}' was never deployed.");
        if (deployment.Enabled != enabled)
        {
            state.State.Deployment = deployment with { Enabled = enabled };
            await state.WriteStateAsync();
        }

        return state.State.Deployment;
    }

    /// <inheritdoc />
    public Task<ModelDeployment?> GetAsync() => Task.FromResult(state.State.Deployment);

    /// <inheritdoc />
    public async Task AttachWorkerAsync(WorkerLease lease)
    {
        if (state.State.Deployment is { } deployment && deployment.ModelHash != lease.Registration.ModelHash)
        {
            throw new CocoonApiException(409, "model_hash_mismatch",
                $"Worker {lease.WorkerId} loaded a model whose SHA-256 is {lease.Registration.ModelHash}; the deployment of {deployment.Name} is {deployment.ModelHash}.");
        }

        var known = state.State.Workers.TryGetValue(lease.WorkerId, out var previous);
        state.State.Workers[lease.WorkerId] = lease;
        PruneExpired();
        // Renewals only move the expiry; persisting each one would write on every heartbeat. A new or changed worker
        // is written; after a restart, workers re-attach on their next heartbeat anyway.
        if (!known || previous!.Registration != lease.Registration)
        {
            await state.WriteStateAsync();
        }
    }

    /// <inheritdoc />
    public async Task DetachWorkerAsync(string workerId)
    {
        if (state.State.Workers.Remove(workerId))
        {
            await state.WriteStateAsync();
        }
    }

    /// <inheritdoc />
    public Task<ModelRoutes> GetRoutesAsync()
    {
        var now = time.GetUtcNow();
        var live = state.State.Workers.Values.Where(w => w.ExpiresAt > now).OrderBy(w => w.WorkerId, StringComparer.Ordinal).ToList();
        return Task.FromResult(new ModelRoutes(state.State.Deployment, live, now));
    }

    private void PruneExpired()
    {
        var now = time.GetUtcNow();
        foreach (var gone in state.State.Workers.Where(w => w.Value.ExpiresAt <= now).Select(w => w.Key).ToList())
        {
            state.State.Workers.Remove(gone);
        }
    }
}

[GenerateSerializer, Alias("cocoon.models.CatalogState")]
public sealed class CatalogState
{
    [Id(0)] public SortedSet<string> Models { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>The list of deployed model names; see <see cref="IModelCatalogGrain"/>.</summary>
[ProxyRole]
public sealed class ModelCatalogGrain(
    [PersistentState("catalog", CocoonNames.StorageName)] IPersistentState<CatalogState> state) : Grain, IModelCatalogGrain
{
    /// <inheritdoc />
    public async Task AddAsync(string model)
    {
        if (state.State.Models.Add(model))
        {
            await state.WriteStateAsync();
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListAsync() => Task.FromResult<IReadOnlyList<string>>([.. state.State.Models]);
}
