using System.Reflection;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Cluster;
using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Cocoon.Grains.Cluster;

/// <summary>Reports the silo it is activated on; see <see cref="INodeInfoGrain"/>.</summary>
[RandomPlacement]
public sealed class NodeInfoGrain(ILocalSiloDetails silo, ISiloMetadataCache metadata) : Grain, INodeInfoGrain
{
    private static readonly string BuildVersion =
        typeof(NodeInfoGrain).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <inheritdoc />
    public Task<NodeInfo> GetInfoAsync()
    {
        var roles = metadata.GetSiloMetadata(silo.SiloAddress).Metadata.GetValueOrDefault(CocoonNames.RoleMetadataKey, "");
        return Task.FromResult(new NodeInfo
        {
            SiloAddress = silo.SiloAddress.ToParsableString(),
            SiloName = silo.Name,
            Roles = roles,
            ProcessId = Environment.ProcessId,
            Version = BuildVersion,
        });
    }

    /// <inheritdoc />
    public Task<NodeInfo> CallAsync(string otherKey) => GrainFactory.GetGrain<INodeInfoGrain>(otherKey).GetInfoAsync();
}
