using Cocoon.Abstractions.Inference;
using Cocoon.Client;
using Cocoon.Node.Security;

namespace Cocoon.Security.Tests;

/// <summary>The table of who may call what, checked for every grain interface Cocoon.Abstractions declares.</summary>
public sealed class CallPolicyTests
{
    private static IEnumerable<Type> GrainInterfaces() =>
        typeof(IInferenceServiceGrain).Assembly.GetTypes().Where(t => t.IsInterface && typeof(IAddressable).IsAssignableFrom(t));

    [Fact]
    public void Only_the_inference_service_and_the_node_probe_are_public()
    {
        var open = GrainInterfaces().Where(t => t.GetMethods().Any(m => CallPolicy.Classify(t, m.Name) == CallAccess.Public)).Select(t => t.Name).Order();

        Assert.Equal(["IInferenceServiceGrain", "INodeInfoGrain"], open);
    }

    // The internal methods the operator CLI calls (models deploy; accounts show|topup, workers earnings, settle now).
    private static readonly HashSet<(string, string)> OperatorCalls =
    [
        ("IModelDeploymentGrain", "GetAsync"),
        ("IEscrowAccountGrain", "GetBalanceAsync"),
        ("IEscrowAccountGrain", "GetLedgerAsync"),
        ("ISettlementGrain", "GetStatusAsync"),
        ("ISettlementGrain", "SettleNowAsync"),
        ("ISettlementGrain", "RegisterClientAsync"),
        ("IWorkerEarningsGrain", "GetAsync"),
    ];

    [Fact]
    public void Every_operations_interface_is_for_operators_and_every_other_interface_for_silos_only()
    {
        var interfaces = GrainInterfaces().ToList();
        Assert.Contains(interfaces, t => t.Name == "IEscrowAccountGrain");
        foreach (var type in interfaces)
        {
            foreach (var method in type.GetMethods())
            {
                var expected = type.Namespace == "Cocoon.Abstractions.Operations" ? CallAccess.Operator
                    : type.Name is "IInferenceServiceGrain" or "INodeInfoGrain" ? CallAccess.Public
                    : OperatorCalls.Contains((type.Name, method.Name)) ? CallAccess.Operator
                    : CallAccess.SilosOnly;
                Assert.True(expected == CallPolicy.Classify(type, method.Name), $"{type.Name}.{method.Name}: {CallPolicy.Classify(type, method.Name)}, expected {expected}");
            }
        }
    }

    [Fact]
    public void Orleans_reminders_and_silo_control_are_for_silos_management_for_operators()
    {
        Assert.Equal(CallAccess.SilosOnly, CallPolicy.Classify(typeof(IRemindable), nameof(IRemindable.ReceiveReminder)));
        Assert.Equal(CallAccess.Operator, CallPolicy.Classify(typeof(IManagementGrain), nameof(IManagementGrain.GetHosts)));
        Assert.Equal(CallAccess.Runtime, CallPolicy.Classify(typeof(IAsyncEnumerableGrainExtension), "MoveNext"));
        // Silo plumbing a client never needs (reminder table, membership table, migration) is for silos too.
        var plumbing = typeof(IManagementGrain).Assembly.GetTypes().Concat(typeof(IRemindable).Assembly.GetTypes())
            .Where(t => t.Name is "IMembershipTableSystemTarget" or "IActivationMigrationManagerSystemTarget" or "IMemoryStorageGrain")
            .ToList();
        Assert.NotEmpty(plumbing);
        Assert.All(plumbing, t => Assert.Equal(CallAccess.SilosOnly, CallPolicy.Classify(t, "Any")));
        // Anything outside Cocoon and Orleans (a grain some other assembly brings in) is not for clients either.
        Assert.Equal(CallAccess.SilosOnly, CallPolicy.Classify(typeof(IDisposable), "Dispose"));
    }

    [Fact]
    public void The_client_sends_the_operator_token_under_the_key_the_silos_read()
    {
        Assert.Equal(CallerCredentials.OperatorTokenKey, CocoonClientOptions.OperatorTokenKey);
    }

    [Fact]
    public void Markers_and_tokens_are_compared_exactly()
    {
        var hash = System.Security.Cryptography.SHA256.HashData("op-token"u8);
        var credentials = new CallerCredentials("a silo secret of thirty-two chars"u8, "cluster-a", hash);
        var otherCluster = new CallerCredentials("a silo secret of thirty-two chars"u8, "cluster-b", hash);

        Assert.True(credentials.IsSiloMarker(credentials.SiloMarker));
        Assert.False(credentials.IsSiloMarker(otherCluster.SiloMarker));
        Assert.False(credentials.IsSiloMarker(credentials.SiloMarker[..^1] + "0" == credentials.SiloMarker ? credentials.SiloMarker[..^1] + "1" : credentials.SiloMarker[..^1] + "0"));
        Assert.False(credentials.IsSiloMarker(null));
        Assert.False(credentials.IsSiloMarker(42));
        Assert.True(credentials.IsOperatorToken("op-token"));
        Assert.False(credentials.IsOperatorToken("op-token "));
        Assert.False(credentials.IsOperatorToken(new string('x', 100_000)));
        Assert.False(new CallerCredentials("a silo secret of thirty-two chars"u8, "cluster-a", null).IsOperatorToken("op-token"));
    }
}
