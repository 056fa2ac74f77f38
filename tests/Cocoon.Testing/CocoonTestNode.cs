using Cocoon.Node.Hosting;
using Cocoon.Node.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace Cocoon.Testing;

/// <summary>
/// One real Cocoon silo inside the test process, built by the same <see cref="CocoonNode"/> code path as a
/// deployment (configuration, preflight, AdoNet providers, real TCP between silos), on free loopback ports.
/// </summary>
public sealed class CocoonTestNode : IAsyncDisposable
{
    /// <summary>
    /// The proxy key every test node of this process shares (<c>Cocoon:Chain:ProxyMnemonic</c>), so silos of one
    /// cluster and a restarted silo verify each other's signed state.
    /// </summary>
    public static readonly string ProxyMnemonic = string.Join(' ', Cocoon.Ton.Crypto.Mnemonic.Generate());

    private bool _stopped;

    private CocoonTestNode(IHost host, string name, int siloPort, int gatewayPort)
    {
        Host = host;
        Name = name;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
    }

    /// <summary>The silo's host.</summary>
    public IHost Host { get; }

    /// <summary>The silo's name.</summary>
    public string Name { get; }

    /// <summary>Silo-to-silo port.</summary>
    public int SiloPort { get; }

    /// <summary>Client gateway port.</summary>
    public int GatewayPort { get; }

    /// <summary>The silo's own grain factory: with local placement, grains called through it activate here.</summary>
    public IGrainFactory Grains => Host.Services.GetRequiredService<IGrainFactory>();

    /// <summary>The HTTP gateway's base URL for proxy silos with the gateway on.</summary>
    public Uri? GatewayUrl => Host.Services.GetService<GatewayServer>()?.BoundUrl;

    /// <summary>The admin server's base URL (metrics, health, readiness, dashboard); each test node has a free port.</summary>
    public Uri? AdminUrl => Host.Services.GetService<Cocoon.Node.Observability.AdminServer>()?.BoundUrl;

    /// <summary>Builds and starts a silo.</summary>
    /// <param name="cluster">Cluster and service id (one per test class keeps tests apart).</param>
    /// <param name="roles"><c>proxy</c>, <c>worker</c> or <c>proxy,worker</c>.</param>
    /// <param name="connectionString">PostgreSQL database, or null for in-memory storage (devnet mode).</param>
    /// <param name="name">Silo name.</param>
    /// <param name="siloPort">A fixed silo port (to restart "the same" silo), or 0 for a free one.</param>
    /// <param name="extra">More configuration values.</param>
    /// <param name="configureSilo">More silo configuration.</param>
    public static async Task<CocoonTestNode> StartAsync(
        string cluster, string roles, string? connectionString, string name, int siloPort = 0,
        IDictionary<string, string?>? extra = null, Action<ISiloBuilder>? configureSilo = null)
    {
        siloPort = siloPort == 0 ? PostgresServer.FreeLoopbackPort() : siloPort;
        var gatewayPort = PostgresServer.FreeLoopbackPort();
        var overrides = new Dictionary<string, string?>
        {
            ["Cocoon:Mode"] = connectionString is null ? "Devnet" : "Production",
            ["Cocoon:Roles"] = roles,
            ["Cocoon:ClusterId"] = cluster,
            ["Cocoon:ServiceId"] = cluster,
            ["Cocoon:Silo:AdvertisedAddress"] = "127.0.0.1",
            ["Cocoon:Silo:SiloPort"] = siloPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Cocoon:Silo:GatewayPort"] = gatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Cocoon:Silo:Name"] = name,
            ["Cocoon:Storage:Provider"] = connectionString is null ? "Memory" : "PostgreSql",
            ["Cocoon:Storage:ConnectionString"] = connectionString,
            ["Cocoon:Gateway:Url"] = "http://127.0.0.1:0",
            ["Cocoon:Admin:Port"] = "0",
            // Devnet nodes attest with simulated quotes (the devnet default). Production nodes would need TDX
            // (ConfigFsTsm) and refuse to start without it, so the tests' Production nodes say explicitly that they
            // serve no attestation; a test that wants one passes Cocoon:Attestation:Provider in `extra`.
            ["Cocoon:Attestation:Provider"] = connectionString is null ? "Simulated" : "None",
            ["Cocoon:Chain:ProxyMnemonic"] = ProxyMnemonic,
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Orleans.Runtime.Silo"] = "Error",
            ["Logging:LogLevel:Orleans.Runtime.Watchdog"] = "Error",
        };
        if (extra is not null)
        {
            foreach (var (key, value) in extra)
            {
                overrides[key] = value;
            }
        }

        var host = await CocoonNode.BuildAsync([], new CocoonNodeOptions
        {
            Overrides = overrides,
            ConfigureSilo = silo =>
            {
                FastMembership(silo);
                configureSilo?.Invoke(silo);
            },
            ConfigureHost = builder => builder.Logging.ClearProviders(),
        });
        await host.StartAsync();
        return new CocoonTestNode(host, name, siloPort, gatewayPort);
    }

    /// <summary>
    /// Membership settings for tests: a dead silo is noticed in seconds rather than the production default of about a
    /// minute, so tests that stop silos do not wait.
    /// </summary>
    public static void FastMembership(ISiloBuilder silo)
    {
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = TimeSpan.FromSeconds(2);
            o.NumMissedProbesLimit = 2;
            o.NumVotesForDeathDeclaration = 1;
            o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
            o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
        });
    }

    /// <summary>Stops the silo gracefully (its activations deactivate and write nothing new).</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        await Host.StopAsync(TimeSpan.FromSeconds(30));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            Host.Dispose();
        }
    }
}
