using Microsoft.Extensions.DependencyInjection;
using Orleans.Placement;
using Cocoon.Abstractions.Inference;
using Cocoon.Grains.Inference;
using Cocoon.Grains.Placement;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cocoon.Grains;

/// <summary>Registers what the grains need in a silo.</summary>
public static class CocoonGrainsExtensions
{
    /// <summary>
    /// The service key of the clock Cocoon's grains read (expiries, leases). Separate from the runtime's own
    /// <see cref="TimeProvider"/>, so a test can move Cocoon's time without freezing Orleans's timers.
    /// </summary>
    public const string ClockKey = "cocoon.clock";

    /// <summary>Placement, the per-silo routing load and worker registry, and the clock.</summary>
    public static ISiloBuilder AddCocoonGrains(this ISiloBuilder silo)
    {
        silo.AddPlacementDirector<WorkerSiloPlacement, WorkerSiloPlacementDirector>();
#pragma warning disable ORLEANSEXP004 // Placement filters are marked experimental in Orleans 10.
        silo.Services.AddPlacementFilter<ProxyRoleFilter, ProxyRoleFilterDirector>(ServiceLifetime.Singleton);
#pragma warning restore ORLEANSEXP004
        silo.Services.TryAddKeyedSingleton(ClockKey, TimeProvider.System);
        silo.Services.TryAddSingleton<LocalWorkers>();
        silo.Services.TryAddSingleton<RouteLoad>();
        silo.Services.TryAddSingleton<Ledger.LedgerIntegrity>();
        silo.Services.TryAddSingleton(Escrow.ReservationTimes.Default);
        silo.AddIncomingGrainCallFilter<Storage.StorageFailureFilter>();
        // A database failure inside an activation (its state could not be read) crosses silos as the driver's exception;
        // Orleans serializes only exceptions of namespaces it was told about, and threw CodecNotFoundException for
        // Npgsql's (found by the cluster harness's PostgreSQL restart), which hid the cause from the caller.
        silo.Services.Configure<Orleans.Serialization.ExceptionSerializationOptions>(o => o.SupportedNamespacePrefixes.Add("Npgsql"));
        return silo;
    }
}
