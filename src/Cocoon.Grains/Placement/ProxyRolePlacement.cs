using Cocoon.Abstractions;
using Orleans.Metadata;
using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace Cocoon.Grains.Placement;

/// <summary>
/// Keeps a grain on proxy silos (DESIGN section 3: escrow, keys, deployments, leases live on proxies, never on a
/// worker's machine). Silos advertise their roles in the <c>cocoon.role</c> metadata; with no proxy silo up,
/// placement fails rather than putting money state on a worker.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
#pragma warning disable ORLEANSEXP004 // Placement filters are marked experimental in Orleans 10.
public sealed class ProxyRoleAttribute() : PlacementFilterAttribute(new ProxyRoleFilter());

/// <summary>The filter strategy behind <see cref="ProxyRoleAttribute"/>.</summary>
public sealed class ProxyRoleFilter() : PlacementFilterStrategy(order: 0)
{
    /// <inheritdoc />
    public override void AdditionalInitialize(GrainProperties properties)
    {
    }

    /// <inheritdoc />
    protected override IEnumerable<KeyValuePair<string, string>> GetAdditionalGrainProperties(
        IServiceProvider services, Type grainClass, GrainType grainType, IReadOnlyDictionary<string, string> existingProperties) => [];
}

/// <summary>Lets through only silos whose <c>cocoon.role</c> includes <c>proxy</c>.</summary>
public sealed class ProxyRoleFilterDirector(ISiloMetadataCache metadata) : IPlacementFilterDirector
{
    /// <inheritdoc />
    public IEnumerable<SiloAddress> Filter(PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos)
    {
        var proxies = silos.Where(IsProxy).ToList();
        if (proxies.Count == 0)
        {
            throw new SiloUnavailableException($"No proxy silo is up to place {target.GrainIdentity} on.");
        }

        return proxies;
    }

    private bool IsProxy(SiloAddress silo)
    {
        var roles = metadata.GetSiloMetadata(silo).Metadata.GetValueOrDefault(CocoonNames.RoleMetadataKey, "");
        foreach (var role in roles.Split(','))
        {
            if (role.Trim() == CocoonNames.ProxyRole)
            {
                return true;
            }
        }

        return false;
    }
}
#pragma warning restore ORLEANSEXP004
