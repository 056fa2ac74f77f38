namespace Cocoon.Abstractions.Cluster;

/// <summary>
/// Tells which silo it runs on. Operators use it to see the cluster (<c>cocoon status</c>) and tests use it to prove
/// that calls reach and cross silos. Randomly placed, so different keys land on different silos.
/// </summary>
[Alias("cocoon.cluster.INodeInfoGrain")]
public interface INodeInfoGrain : IGrainWithStringKey
{
    /// <summary>The silo this activation lives on.</summary>
    [Alias("GetInfo")]
    Task<NodeInfo> GetInfoAsync();

    /// <summary>Asks the grain <paramref name="otherKey"/> for its silo: a silo-to-silo call when the two live apart.</summary>
    [Alias("Call")]
    Task<NodeInfo> CallAsync(string otherKey);
}

/// <summary>A silo as seen from inside it.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.cluster.NodeInfo")]
public sealed record NodeInfo
{
    /// <summary>The silo's Orleans address (endpoint and generation).</summary>
    [Id(0)] public required string SiloAddress { get; init; }

    /// <summary>The silo's name in membership.</summary>
    [Id(1)] public required string SiloName { get; init; }

    /// <summary>The silo's roles as in its <c>cocoon.role</c> metadata.</summary>
    [Id(2)] public required string Roles { get; init; }

    /// <summary>The operating-system process id of the silo.</summary>
    [Id(3)] public required int ProcessId { get; init; }

    /// <summary>The Cocoon build the silo runs.</summary>
    [Id(4)] public required string Version { get; init; }
}
