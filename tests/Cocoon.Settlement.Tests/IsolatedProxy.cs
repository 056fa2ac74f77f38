using Cocoon.Testing;
using Cocoon.Ton.Crypto;

namespace Cocoon.Settlement.Tests;

/// <summary>
/// A proxy of its own on the shared local chain: its own key (funded and registered in the shared root), database
/// and cluster id, for a test that freezes or reconfigures its proxy without touching the shared one.
/// </summary>
public sealed class IsolatedProxy : IAsyncDisposable
{
    private readonly SettlementCluster _cluster;
    private readonly List<CocoonTestNode> _nodes = [];
    private readonly string _models = Directory.CreateTempSubdirectory("cocoon-isolated-models-").FullName;

    private IsolatedProxy(SettlementCluster cluster, string database, string clusterId, string mnemonic)
    {
        _cluster = cluster;
        Database = database;
        ClusterId = clusterId;
        Mnemonic = mnemonic;
    }

    /// <summary>The proxy's database (connection string).</summary>
    public string Database { get; }

    /// <summary>The cluster and service id.</summary>
    public string ClusterId { get; }

    /// <summary>The proxy key's mnemonic (<c>Cocoon:Chain:ProxyMnemonic</c>).</summary>
    public string Mnemonic { get; }

    /// <summary>Creates the database and key and registers the proxy wallet in the root.</summary>
    public static async Task<IsolatedProxy> CreateAsync(SettlementCluster cluster, string name)
    {
        var database = await cluster.CreateDatabaseAsync(name);
        var mnemonic = string.Join(' ', Cocoon.Ton.Crypto.Mnemonic.Generate());
        using (var key = Cocoon.Ton.Crypto.Mnemonic.ToKeyPair(Cocoon.Ton.Crypto.Mnemonic.Split(mnemonic)))
        {
            await cluster.RegisterProxyAsync(key);
        }

        return new IsolatedProxy(cluster, database, name + "-" + Guid.NewGuid().ToString("N")[..8], mnemonic);
    }

    /// <summary>The proxy key.</summary>
    public Ed25519KeyPair Key() => Cocoon.Ton.Crypto.Mnemonic.ToKeyPair(Cocoon.Ton.Crypto.Mnemonic.Split(Mnemonic));

    /// <summary>Starts a silo of this proxy's cluster with settlement on the shared chain (fast polls, low thresholds).</summary>
    public async Task<CocoonTestNode> StartNodeAsync(string roles, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Cocoon:Chain:ProxyMnemonic"] = Mnemonic,
            ["Cocoon:Chain:Endpoint"] = _cluster.Chain.Endpoint.ToString(),
            ["Cocoon:Chain:RootAddress"] = _cluster.Chain.RootAddress.ToFriendlyString(),
            ["Cocoon:Chain:ChargeThresholdNanoTon"] = "1",
            ["Cocoon:Chain:PayoutThresholdNanoTon"] = "1",
            ["Cocoon:Chain:PollIntervalSeconds"] = "0.5",
            ["Cocoon:Pricing:FromRoot"] = "false",
            ["Cocoon:Pricing:PricePerToken"] = SettlementCluster.PricePerToken.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Cocoon:Pricing:WorkerFeePerToken"] = SettlementCluster.WorkerFeePerToken.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (roles.Contains("worker", StringComparison.Ordinal))
        {
            settings["Cocoon:Worker:Models"] = Cocoon.Inference.Models.BuiltInModels.MiniLmName;
            settings["Cocoon:Worker:ModelsDirectory"] = _models;
            settings["Cocoon:Worker:ExecutionProvider"] = "Cpu";
            settings["Cocoon:Worker:AutoDeploy"] = "true";
        }

        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var node = await CocoonTestNode.StartAsync(ClusterId, roles, Database, ClusterId + "-" + _nodes.Count, extra: settings);
        _nodes.Add(node);
        return node;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }

        try
        {
            Directory.Delete(_models, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
