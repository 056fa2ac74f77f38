using Cocoon.Abstractions.Inference;
using Orleans.Runtime.Placement;

namespace Cocoon.Grains.Placement;

/// <summary>
/// Places an activation on the silo named in the request context (<see cref="WorkerSiloPlacement.SiloKey"/>), and
/// refuses when that silo is not an active member: a request for worker W runs on W's silo or not at all.
/// </summary>
public sealed class WorkerSiloPlacementDirector : IPlacementDirector
{
    /// <inheritdoc />
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString();
        if (target.RequestContextData is null
            || !target.RequestContextData.TryGetValue(WorkerSiloPlacement.SiloKey, out var value)
            || value is not string text)
        {
            throw new OrleansException($"Worker {key}: the call carries no target silo ({WorkerSiloPlacement.SiloKey}); route it through the worker's lease.");
        }

        var silo = SiloAddress.FromParsableString(text);
        if (!context.GetCompatibleSilos(target).Contains(silo))
        {
            throw new SiloUnavailableException($"Worker {key} runs on silo {silo}, which is not an active member of the cluster.");
        }

        return Task.FromResult(silo);
    }
}
