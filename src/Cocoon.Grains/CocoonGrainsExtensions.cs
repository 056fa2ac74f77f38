using Cocoon.Abstractions.Inference;
using Cocoon.Grains.Inference;
using Cocoon.Grains.Placement;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cocoon.Grains;

/// <summary>Registers what the grains need in a silo.</summary>
public static class CocoonGrainsExtensions
{
    /// <summary>Placement, the per-silo routing load and worker registry, and the clock.</summary>
    public static ISiloBuilder AddCocoonGrains(this ISiloBuilder silo)
    {
        silo.AddPlacementDirector<WorkerSiloPlacement, WorkerSiloPlacementDirector>();
        silo.Services.TryAddSingleton(TimeProvider.System);
        silo.Services.TryAddSingleton<LocalWorkers>();
        silo.Services.TryAddSingleton<RouteLoad>();
        return silo;
    }
}
