using Orleans.Placement;

namespace Cocoon.Abstractions.Inference;

/// <summary>
/// Placement on a given worker's silo: the caller puts the silo address in <see cref="RequestContext"/> under
/// <see cref="SiloKey"/> before the first call, and the director places the activation exactly there, or fails
/// when that silo is not an active member.
/// </summary>
[GenerateSerializer, Immutable, Alias("cocoon.placement.WorkerSilo")]
public sealed class WorkerSiloPlacement : PlacementStrategy
{
    /// <summary>The request-context key that carries the target silo (<c>SiloAddress.ToParsableString()</c>).</summary>
    public const string SiloKey = "cocoon.worker-silo";

    /// <summary>The one instance.</summary>
    public static WorkerSiloPlacement Instance { get; } = new();
}

/// <summary>Places a grain on the silo named in the request context; see <see cref="WorkerSiloPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class WorkerSiloAttribute() : PlacementAttribute(WorkerSiloPlacement.Instance);
