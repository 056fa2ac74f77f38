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

    /// <summary>Prices (DESIGN section 5); later mirrored from the root contract.</summary>
    public PricingOptions Pricing { get; set; } = new();

    /// <summary>What a worker silo serves.</summary>
    public WorkerOptions Worker { get; set; } = new();

    /// <summary>Devnet conveniences; refused in Production mode.</summary>
    public DevnetOptions Devnet { get; set; } = new();

    /// <summary>How a proxy silo attests its gateway (DESIGN sections 2 and 7).</summary>
    public AttestationOptions Attestation { get; set; } = new();

    /// <summary>The admin HTTP server: Prometheus metrics, health, readiness, the Orleans Dashboard.</summary>
    public Observability.AdminOptions Admin { get; set; } = new();

    /// <summary>Telemetry export (OTLP).</summary>
    public Observability.TelemetryOptions Telemetry { get; set; } = new();

    /// <summary>The proxy key and on-chain settlement (DESIGN sections 2 and 6).</summary>
    public Chain.ChainOptions Chain { get; set; } = new();

    /// <summary>Escrow reservations of proxy silos.</summary>
    public EscrowOptions Escrow { get; set; } = new();
}

/// <summary>The <c>Cocoon:Escrow</c> section: how long a request's reservation may hold an account's money.</summary>
public sealed class EscrowOptions
{
    /// <summary>
    /// Seconds an embeddings request's reservation lives before the expiry reminder releases it (default 300). It bounds
    /// what a proxy that died mid-request leaves held; it must outlast the slowest request.
    /// </summary>
    public double ReservationSeconds { get; set; } = 300;

    /// <summary>The same for chat and text completions (default 1800).</summary>
    public double GenerationReservationSeconds { get; set; } = 1800;
}

/// <summary>Where a proxy silo's TDX quotes come from.</summary>
public enum AttestationProviderKind
{
    /// <summary>Quotes signed by a local simulated authority: devnet only, refused in Production mode.</summary>
    Simulated,

    /// <summary>Real TDX quotes through Linux configfs-tsm (a TDX guest).</summary>
    ConfigFsTsm,

    /// <summary>
    /// No attestation: the gateway serves no quote (<c>/v1/attestation</c> answers 503) and cannot serve https. Never a
    /// default; only where set explicitly (tests of Production-mode nodes on machines without TDX).
    /// </summary>
    None,
}

/// <summary>Attestation of a proxy silo's gateway.</summary>
public sealed class AttestationOptions
{
    /// <summary><c>Simulated</c> (Devnet default), <c>ConfigFsTsm</c> (Production default) or, explicitly, <c>None</c>.</summary>
    public AttestationProviderKind? Provider { get; set; }

    /// <summary>The configfs-tsm report directory.</summary>
    public string ConfigFsTsmPath { get; set; } = "/sys/kernel/config/tsm/report";

    /// <summary>
    /// Mutual RA-TLS between silos and TLS to clients. Default: on whenever attestation is (Provider is not None);
    /// Production refuses it off while attestation is on.
    /// </summary>
    public bool? SiloTls { get; set; }

    /// <summary>
    /// Comma-separated image hashes (64 lower-case hex characters each) a peer silo must attest to, used only until the
    /// root contract (<c>Cocoon:Chain:Endpoint</c> + <c>Cocoon:Chain:RootAddress</c>) has been read, or always when no
    /// root is configured (Devnet only). Empty in Devnet without a root: the node's own image hash only.
    /// </summary>
    public string AllowedImageHashes { get; set; } = "";

    /// <summary>
    /// The longest an RA-TLS connection (silo-silo, client-silo) stays open before it must re-handshake, in minutes; unset:
    /// bounded by the handshake certificates' validity (one hour) and closed when this silo's certificate rotates.
    /// </summary>
    public double? MaxConnectionAgeMinutes { get; set; }

    /// <summary>How often every silo re-reads the root contract's image allow-lists, in seconds (default 30).</summary>
    public double AllowListRefreshSeconds { get; set; } = 30;

    /// <summary>
    /// Collateral for peers' quotes (<c>cocoon attest verify --collateral</c> shape): a file or a folder of <c>*.json</c>,
    /// one per platform FMSPC, re-read with the allow-list. Set: a real quote's TCB status must be no worse than
    /// <see cref="MinimumTcbStatus"/>, and a platform without collateral is refused. Unset: TCB status is not checked.
    /// </summary>
    public string? CollateralPath { get; set; }

    /// <summary>The worst TCB status accepted with collateral (default <c>SWHardeningNeeded</c>).</summary>
    public Cocoon.Attestation.Collateral.TcbStatus MinimumTcbStatus { get; set; } = Cocoon.Attestation.Collateral.TcbStatus.SWHardeningNeeded;

    /// <summary>
    /// TDATTRIBUTES bits (hex of the 64-bit value) peers must have set; default <c>10000000</c> (SEPT_VE_DISABLE).
    /// </summary>
    public string? RequiredTdAttributes { get; set; }

    /// <summary>
    /// TDATTRIBUTES bits (hex) peers must have clear, besides DEBUG; default <c>80000000c0000000</c> (PKS, KL, PERFMON).
    /// </summary>
    public string? ForbiddenTdAttributes { get; set; }

    /// <summary>Devnet only: the image name the simulated measurements derive from (default <c>cocoon-devnet</c>).</summary>
    public string? SimulatedImage { get; set; }

    /// <summary>
    /// Devnet only: the file holding the simulated attestation authority (its dev root certificate and key), created
    /// when missing, so the devnet nodes of one machine trust each other's simulated quotes. Default: a file per
    /// cluster id in the temporary folder.
    /// </summary>
    public string? SimulatedAuthorityFile { get; set; }
}

/// <summary>Price parameters in nanoTON per adjusted token and multipliers (10000 = 1.0x).</summary>
public sealed class PricingOptions
{
    /// <summary>
    /// Take prices and multipliers from the root contract (the registry, DESIGN section 5) when the node has a chain
    /// and a root: null means yes in Production, no in Devnet (whose configured prices stay in force). The values
    /// below are then only the fallback when the root cannot be read at start.
    /// </summary>
    public bool? FromRoot { get; set; }

    /// <summary>What a client pays per adjusted token. COCOON's test parameters use 20.</summary>
    public long PricePerToken { get; set; } = 20;

    /// <summary>What a worker earns per adjusted token. COCOON's test parameters use 19.</summary>
    public long WorkerFeePerToken { get; set; } = 19;

    /// <summary>Multiplier for prompt tokens.</summary>
    public long PromptMultiplier { get; set; } = 10000;

    /// <summary>Multiplier for cached prompt tokens.</summary>
    public long CachedMultiplier { get; set; } = 10000;

    /// <summary>Multiplier for completion tokens.</summary>
    public long CompletionMultiplier { get; set; } = 10000;

    /// <summary>Multiplier for reasoning tokens.</summary>
    public long ReasoningMultiplier { get; set; } = 10000;
}

/// <summary>A worker silo's models and limits.</summary>
public sealed class WorkerOptions
{
    /// <summary>Worker id prefix; each served model is the worker <c>{Id}.{model}</c>. Defaults to the silo name.</summary>
    public string? Id { get; set; }

    /// <summary>Folder of model folders (each with its manifest.json).</summary>
    public string? ModelsDirectory { get; set; }

    /// <summary>Comma-separated model names to serve from <see cref="ModelsDirectory"/>.</summary>
    public string Models { get; set; } = "";

    /// <summary>Write the built-in all-MiniLM-L6-v2 into the models folder when it is missing.</summary>
    public bool InstallBuiltInModels { get; set; } = true;

    /// <summary>Requests that may run at once per model (<c>max_active_requests</c>).</summary>
    public int Capacity { get; set; } = 4;

    /// <summary>Price coefficient, 1000 = 1.0x.</summary>
    public long Coefficient { get; set; } = 1000;

    /// <summary>TON address earnings are paid to.</summary>
    public string OwnerAddress { get; set; } = "";

    /// <summary>How long a lease lasts without renewal; renewed every third of it.</summary>
    public int LeaseSeconds { get; set; } = 30;

    /// <summary>Deploy a model this worker serves when no deployment exists yet (devnet default; operators deploy otherwise).</summary>
    public bool? AutoDeploy { get; set; }

    /// <summary><c>Auto</c> (CUDA when usable, else CPU), <c>Cpu</c> or <c>Cuda</c>.</summary>
    public string ExecutionProvider { get; set; } = "Auto";

    /// <summary>Largest dynamic batch.</summary>
    public int MaxBatchSize { get; set; } = 32;

    /// <summary>Longest a request waits for others to batch with, in milliseconds.</summary>
    public double MaxBatchWaitMilliseconds { get; set; } = 2;
}

/// <summary>Devnet conveniences: a funded development account and its API key.</summary>
public sealed class DevnetOptions
{
    /// <summary>The development API key to create (its hash is stored, never the key).</summary>
    public string? ApiKey { get; set; }

    /// <summary>The development account id.</summary>
    public string AccountId { get; set; } = "dev";

    /// <summary>The development account's starting balance, in nanoTON (default 1000 TON).</summary>
    public long InitialFundsNanoTon { get; set; } = 1_000_000_000_000;
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
