namespace Cocoon.Abstractions;

/// <summary>Names shared by every part of the cluster.</summary>
public static class CocoonNames
{
    /// <summary>Silo metadata key that carries a silo's roles (DESIGN section 3).</summary>
    public const string RoleMetadataKey = "cocoon.role";

    /// <summary>Role of silos that run the gateway, escrow, deployments and settlement.</summary>
    public const string ProxyRole = "proxy";

    /// <summary>Role of silos that run inference.</summary>
    public const string WorkerRole = "worker";

    /// <summary>The grain storage provider every Cocoon grain persists to.</summary>
    public const string StorageName = "cocoon";
}
