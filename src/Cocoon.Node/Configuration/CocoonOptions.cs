namespace Cocoon.Node.Configuration;

/// <summary>Whether a node runs for real or as a local developer network.</summary>
public enum NodeMode
{
    /// <summary>Not set: start-up refuses to guess.</summary>
    Unset = 0,

    /// <summary>A real deployment: PostgreSQL storage, no development shortcuts.</summary>
    Production,

    /// <summary>A developer network on one machine: in-memory storage, seeded accounts and simulated attestation allowed.</summary>
    Devnet,
}

/// <summary>The roles a silo can play (DESIGN section 3), published as silo metadata <c>cocoon.role</c>.</summary>
[Flags]
public enum SiloRoles
{
    /// <summary>No role.</summary>
    None = 0,

    /// <summary>Gateway, escrow accounts, deployments, settlement, registry mirror.</summary>
    Proxy = 1,

    /// <summary>Runs inference on the machine's models.</summary>
    Worker = 2,
}

/// <summary>Where grain state, membership and reminders live.</summary>
public enum StorageProvider
{
    /// <summary>PostgreSQL through the Orleans AdoNet providers and the schema in infra/sql.</summary>
    PostgreSql,

    /// <summary>Process memory: lost on exit. Devnet only.</summary>
    Memory,
}

/// <summary>The <c>Cocoon</c> configuration section of a node (appsettings.json, environment, command line).</summary>
public sealed class CocoonOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Cocoon";

    /// <summary><c>Production</c> or <c>Devnet</c>; must be set explicitly.</summary>
    public NodeMode Mode { get; set; }

    /// <summary>Comma-separated roles: <c>proxy</c>, <c>worker</c> or both.</summary>
    public string Roles { get; set; } = "";

    /// <summary>The Orleans cluster id: silos with the same id and storage form one cluster.</summary>
    public string ClusterId { get; set; } = "cocoon";

    /// <summary>The Orleans service id: keys grain state and reminders; keep it stable across deployments.</summary>
    public string ServiceId { get; set; } = "cocoon";

    /// <summary>Silo endpoints.</summary>
    public SiloEndpointOptions Silo { get; set; } = new();

    /// <summary>Storage of grain state, membership and reminders.</summary>
    public StorageOptions Storage { get; set; } = new();

    /// <summary>The HTTP gateway of proxy silos.</summary>
    public GatewayOptions Gateway { get; set; } = new();
}

/// <summary>Silo-to-silo and client-gateway endpoints.</summary>
public sealed class SiloEndpointOptions
{
    /// <summary>The address other silos and clients use to reach this silo.</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>Listen on every local address rather than only the advertised one (for containers and NAT).</summary>
    public bool ListenOnAnyAddress { get; set; }

    /// <summary>Silo-to-silo port.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port Orleans clients (Cocoon.Client) connect to; 0 disables the client gateway.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>A name for this silo in membership and logs; defaults to host name and port.</summary>
    public string? Name { get; set; }
}

/// <summary>Storage settings.</summary>
public sealed class StorageOptions
{
    /// <summary><c>PostgreSql</c> (default) or <c>Memory</c> (devnet only).</summary>
    public StorageProvider Provider { get; set; } = StorageProvider.PostgreSql;

    /// <summary>Npgsql connection string, e.g. <c>Host=db;Port=5432;Database=cocoon;Username=cocoon;Password=...</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Apply the migrations in infra/sql at start-up; when false, start-up only checks the schema is current.</summary>
    public bool MigrateOnStart { get; set; } = true;
}

/// <summary>The HTTP gateway.</summary>
public sealed class GatewayOptions
{
    /// <summary>Base URL the gateway listens on, e.g. <c>http://127.0.0.1:8080</c>. Only proxy silos serve it.</summary>
    public string Url { get; set; } = "http://127.0.0.1:8080";

    /// <summary>Whether a proxy silo serves the HTTP gateway at all.</summary>
    public bool Enabled { get; set; } = true;
}
