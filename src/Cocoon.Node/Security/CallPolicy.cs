using Cocoon.Abstractions.Cluster;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Inference;
using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Settlement;

namespace Cocoon.Node.Security;

/// <summary>What a caller that is not a silo may reach through a grain interface.</summary>
public enum CallAccess
{
    /// <summary>Anyone: the public interfaces for app backends.</summary>
    Public,

    /// <summary>Only a caller presenting the operator token.</summary>
    Operator,

    /// <summary>Only silos: Cocoon's internal interfaces and the Orleans runtime's dangerous ones.</summary>
    SilosOnly,

    /// <summary>The Orleans runtime's own plumbing a client needs (type manifest, cancellation, enumeration steps).</summary>
    Runtime,
}

/// <summary>
/// The table of who may call what (README "Who may call what"), by grain interface: a pure function, so it is tested
/// interface by interface without a cluster.
/// </summary>
public static class CallPolicy
{
    private const string OperationsNamespace = "Cocoon.Abstractions.Operations";

    // Public: the inference service (it authenticates the API key on every call and acts on the key's own account) and
    // the read-only silo identity probe (silo address, name, roles, pid, version; no account data).
    private static readonly HashSet<Type> PublicInterfaces = [typeof(IInferenceServiceGrain), typeof(INodeInfoGrain)];

    // Internal methods an operator may call besides Operations/: `cocoon models deploy` reads the current deployment to
    // keep what the command line leaves out; `cocoon accounts show|topup`, `workers earnings` and `settle now` read an
    // account's ledger, a worker's earnings and the settlement status, link an account to its client contract and settle now. Nothing here
    // moves an account's money off the ledger (deposit, reserve, settle, release stay silo-only).
    private static readonly HashSet<(Type, string)> OperatorReads =
    [
        (typeof(IModelDeploymentGrain), nameof(IModelDeploymentGrain.GetAsync)),
        (typeof(IEscrowAccountGrain), nameof(IEscrowAccountGrain.GetBalanceAsync)),
        (typeof(IEscrowAccountGrain), nameof(IEscrowAccountGrain.GetLedgerAsync)),
        (typeof(ISettlementGrain), nameof(ISettlementGrain.GetStatusAsync)),
        (typeof(ISettlementGrain), nameof(ISettlementGrain.SettleNowAsync)),
        (typeof(ISettlementGrain), nameof(ISettlementGrain.RegisterClientAsync)),
        (typeof(IWorkerEarningsGrain), nameof(IWorkerEarningsGrain.GetAsync)),
    ];

    // Orleans interfaces a client must never reach: reminders would let it fire a grain's reminder early (escrow
    // reservation expiry), silo control and management act on the whole cluster, grain management deactivates or moves
    // activations; the reminder service and table, the membership table, activation migration and repartitioning, and
    // the in-memory storage, stream queue and checkpointer grains are silo plumbing a client has no business calling
    // (a client deleting an escrow's reminder row or writing membership rows).
    private static readonly HashSet<string> RuntimeDenied =
    [
        "IRemindable", "ISiloControl", "IGrainManagementExtension", "IMembershipService", "IReminderService", "IReminderTableGrain",
        "IMembershipTableSystemTarget", "IActivationMigrationManagerSystemTarget", "IActivationRepartitionerSystemTarget",
        "IMemoryStorageGrain", "IMemoryStreamQueueGrain", "IStreamCheckpointerGrain",
    ];

    // Orleans interfaces an operator may use (the Orleans dashboard and management tools).
    private static readonly HashSet<string> RuntimeOperator = ["IManagementGrain"];

    /// <summary>Who may call <paramref name="method"/> of <paramref name="interfaceType"/>.</summary>
    public static CallAccess Classify(Type interfaceType, string method)
    {
        ArgumentNullException.ThrowIfNull(interfaceType);
        var ns = interfaceType.Namespace ?? "";
        if (PublicInterfaces.Contains(interfaceType))
        {
            return CallAccess.Public;
        }

        if (ns == OperationsNamespace || ns.StartsWith(OperationsNamespace + ".", StringComparison.Ordinal) || OperatorReads.Contains((interfaceType, method)))
        {
            return CallAccess.Operator;
        }

        if (ns == "Orleans" || ns.StartsWith("Orleans.", StringComparison.Ordinal))
        {
            var name = interfaceType.IsGenericType ? interfaceType.Name[..interfaceType.Name.IndexOf('`', StringComparison.Ordinal)] : interfaceType.Name;
            return RuntimeDenied.Contains(name) ? CallAccess.SilosOnly
                : RuntimeOperator.Contains(name) ? CallAccess.Operator
                : CallAccess.Runtime;
        }

        // Cocoon's internal interfaces (escrow, keys, leases, deployments, hosts, settlement, ...) and anything unknown.
        return CallAccess.SilosOnly;
    }
}
