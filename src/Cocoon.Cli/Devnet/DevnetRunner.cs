using System.Text.Json;
using Cocoon.Node.Chain;
using Cocoon.Node.Configuration;
using Cocoon.Node.Hosting;
using Cocoon.Node.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Cli.Devnet;

/// <summary>Settings of one <c>cocoon devnet</c> run.</summary>
internal sealed record DevnetRunOptions(string DataDirectory, int Port, string Storage, bool Verbose)
{
    /// <summary>Run the local TON chain (default; <c>--no-chain</c> turns it off).</summary>
    public bool Chain { get; init; } = true;

    /// <summary>
    /// The admin port asked for: taken when free (else any free loopback port); 0 asks for any free port. A port this
    /// folder used before is kept when it is still free.
    /// </summary>
    public int AdminPort { get; init; } = Node.Observability.AdminOptions.DefaultPort;
}

/// <summary>
/// <c>cocoon devnet</c>: a whole Cocoon network on one machine. A private PostgreSQL (or memory, loudly, when the
/// machine has none), the schema, one silo with both roles and the HTTP gateway on 127.0.0.1; <c>DIR/devnet.json</c>
/// when ready; a clean stop on Ctrl-C or SIGTERM; the same state on the next start with the same folder.
/// </summary>
internal sealed class DevnetRunner(DevnetRunOptions options, TextWriter output, TextWriter error)
{
    private const string DatabaseName = "cocoon";

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var dir = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(dir);
        using var dirLock = AcquireLock(dir);
        var statePath = Path.Combine(dir, "state.json");
        var readyPath = Path.Combine(dir, "devnet.json");
        File.Delete(readyPath);
        var state = DevnetState.LoadOrCreate(statePath);

        PostgresServer? postgres = null;
        TonLocalnet? chain = null;
        try
        {
            string storage;
            string? connectionString = null;
            var binaries = options.Storage == "memory" ? null : PostgresBinaries.Find();
            if (binaries is null && options.Storage == "postgresql")
            {
                throw new DevnetException("--storage postgresql was asked for, but no PostgreSQL server binaries were found " +
                                          "(looked at $COCOON_PG_BIN, pg_config --bindir, /usr/lib/postgresql/*/bin).");
            }

            if (binaries is null)
            {
                storage = "memory";
                Warn(options.Storage == "memory"
                    ? "IN-MEMORY STORAGE (--storage memory): balances, keys and registrations are lost when the devnet stops."
                    : "NO POSTGRESQL SERVER BINARIES FOUND: falling back to IN-MEMORY storage. Balances, keys and " +
                      "registrations are lost when the devnet stops. Install PostgreSQL (apt-get install postgresql) for durable state.");
            }
            else
            {
                storage = "postgresql";
                Step($"starting PostgreSQL {binaries.MajorVersion} from {binaries.BinDirectory}");
                postgres = await PostgresServer.StartAsync(
                    new PostgresServerOptions { DataDirectory = Path.Combine(dir, "pg"), Binaries = binaries, PreferredPort = state.PostgresPort },
                    Step, cancellationToken);
                await postgres.EnsureDatabaseAsync(DatabaseName, cancellationToken);
                connectionString = postgres.ConnectionString(DatabaseName);
                Step($"PostgreSQL is up on 127.0.0.1:{postgres.Port}{(postgres.Adopted ? " (reused)" : "")}");
            }

            if (options.Chain)
            {
                // The local TON chain (infra/ton-localnet) with its state in DIR/chain, on the port it had before.
                Step("starting the local TON chain");
                chain = await TonLocalnet.StartAsync(
                    new TonLocalnetOptions { DataDirectory = Path.Combine(dir, "chain"), Port = PickPort(state.ChainPort) }, Step, cancellationToken);
            }

            state = state with
            {
                ChainPort = chain?.Port ?? state.ChainPort,
                SiloPort = PickPort(state.SiloPort),
                ClientGatewayPort = PickPort(state.ClientGatewayPort),
                // The admin port (metrics, health, dashboard): the one asked for (9464 by default) when free, else any free
                // loopback port; --admin-port 0 always takes a free one, so devnets started side by side cannot race for 9464.
                AdminPort = PickPort(state.AdminPort > 0 ? state.AdminPort : options.AdminPort),
                PostgresPort = postgres?.Port,
            };
            state.Save(statePath);

            var overrides = new Dictionary<string, string?>
            {
                ["Cocoon:Mode"] = nameof(NodeMode.Devnet),
                ["Cocoon:Roles"] = "proxy,worker",
                ["Cocoon:ClusterId"] = "devnet",
                ["Cocoon:ServiceId"] = "devnet",
                ["Cocoon:Silo:AdvertisedAddress"] = "127.0.0.1",
                ["Cocoon:Silo:SiloPort"] = state.SiloPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Cocoon:Silo:GatewayPort"] = state.ClientGatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Cocoon:Silo:Name"] = "devnet",
                ["Cocoon:Storage:Provider"] = storage == "memory" ? nameof(StorageProvider.Memory) : nameof(StorageProvider.PostgreSql),
                ["Cocoon:Storage:ConnectionString"] = connectionString,
                ["Cocoon:Gateway:Url"] = $"http://127.0.0.1:{options.Port}",
                ["Cocoon:Admin:Port"] = state.AdminPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                // Embeddings and the built-in tiny text generation model, so /v1/chat/completions works out of the box.
                ["Cocoon:Worker:Models"] = Inference.Models.BuiltInModels.MiniLmName + "," + Inference.Models.BuiltInModels.TinyLmName,
                ["Cocoon:Worker:ModelsDirectory"] = Path.Combine(dir, "models"),
                ["Cocoon:Devnet:ApiKey"] = state.ApiKey,
                // The proxy key signs every escrow row (DESIGN section 2); kept in the data folder so a restarted devnet
                // verifies what it wrote before.
                ["Cocoon:Chain:ProxyKeyFile"] = EnsureProxyKey(dir),
                // Operator commands present DIR/operator-token; the silo knows only its SHA-256 (README "Who may call what").
                ["Cocoon:Operators:TokenSha256"] = EnsureOperatorToken(dir),
                ["Cocoon:Chain:Endpoint"] = chain?.Endpoint.ToString(),
                ["Cocoon:Chain:RootAddress"] = chain?.RootAddress.ToFriendlyString(),
                // Quiet unless asked: the devnet prints its own progress lines.
                ["Logging:LogLevel:Default"] = options.Verbose ? "Information" : "Warning",
                ["Logging:LogLevel:Orleans"] = options.Verbose ? "Information" : "Warning",
                ["Logging:LogLevel:Orleans.Runtime.Silo"] = options.Verbose ? "Information" : "Error",
                ["Logging:LogLevel:Orleans.Runtime.Watchdog"] = options.Verbose ? "Information" : "Error",
                ["Logging:LogLevel:Orleans.Runtime.MembershipService"] = options.Verbose ? "Information" : "Error",
            };

            Step("applying the schema and starting the silo (roles proxy, worker)");
            IHost host;
            try
            {
                host = await CocoonNode.BuildAsync([], new CocoonNodeOptions
                {
                    Overrides = overrides,
                    Progress = Step,
                    ConfigureHost = builder =>
                    {
                        builder.Logging.ClearProviders();
                        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
                    },
                }, cancellationToken);
            }
            catch (CocoonConfigurationException e) when (e.Setting == "Cocoon:Gateway:Url")
            {
                throw new DevnetException($"--port {options.Port}: {e.Message.Split(": ", 2)[1]} Pass another --port.");
            }

            using (host)
            {
                await host.StartAsync(cancellationToken);
                var gateway = host.Services.GetRequiredService<GatewayServer>().BoundUrl!;
                await WaitHealthyAsync(gateway, cancellationToken);

                var ready = new DevnetReadyFile
                {
                    Gateway = gateway.ToString().TrimEnd('/'),
                    ApiKey = state.ApiKey,
                    Storage = storage,
                    DataDirectory = dir,
                    ProcessId = Environment.ProcessId,
                    PostgresPort = postgres?.Port,
                    Admin = host.Services.GetService<Node.Observability.AdminServer>()?.BoundUrl?.ToString().TrimEnd('/'),
                };
                ready = WithOperatorAccess(ready, host.Services, state, connectionString);
                if (chain is not null)
                {
                    ready = ready with
                    {
                        Chain = await DevnetChainSetup.PrepareAsync(chain, host.Services, dir,
                            host.Services.GetRequiredService<NodeSettings>().Devnet.AccountId, Step, cancellationToken),
                    };
                }

                AtomicFile.Write(readyPath, JsonSerializer.Serialize(ready, DevnetState.Json), ownerOnly: true);
                output.WriteLine($"cocoon devnet ready: {ready.Gateway} (storage: {storage}, data: {dir}) -- try: " +
                                 $"curl -s {ready.Gateway}/v1/embeddings -H 'Authorization: Bearer {ready.ApiKey}' " +
                                 $"-H 'Content-Type: application/json' -d '{{\"model\":\"{Inference.Models.BuiltInModels.MiniLmName}\",\"input\":\"hello\"}}'");
                output.Flush();

                // Ctrl-C and SIGTERM reach the host's console lifetime, which stops the application.
                await host.WaitForShutdownAsync(cancellationToken);
            }

            File.Delete(readyPath);
            Step("silo stopped");
            return 0;
        }
        finally
        {
            if (chain is not null)
            {
                await chain.StopAsync();
                Step("local TON chain stopped");
            }

            if (postgres is not null)
            {
                await postgres.StopAsync();
                Step("PostgreSQL stopped");
            }
        }
    }

    private static FileStream AcquireLock(string dir)
    {
        try
        {
            // FileShare.None takes an exclusive flock on Unix; the kernel drops it if this process dies.
            return new FileStream(Path.Combine(dir, "devnet.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new DevnetException($"another cocoon devnet is running with --data-dir {dir}; stop it first or choose another folder.");
        }
    }

    /// <summary>The devnet's proxy key file (a 24-word TON mnemonic, owner-only), created on the first run.</summary>
    // The operator token of this devnet, kept in DIR/operator-token (owner only) so a restart keeps it; returns its SHA-256.
    private static string EnsureOperatorToken(string dir)
    {
        var path = Path.Combine(dir, "operator-token");
        if (!File.Exists(path))
        {
            AtomicFile.Write(path, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_') + "\n", ownerOnly: true);
        }

        var token = File.ReadAllText(path).Trim();
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)));
    }

    private static string EnsureProxyKey(string dir)
    {
        var path = Path.Combine(dir, "proxy-key.txt");
        if (!File.Exists(path))
        {
            AtomicFile.Write(path, string.Join(' ', Ton.Crypto.Mnemonic.Generate()) + "\n", ownerOnly: true);
        }

        return path;
    }

    // How operator commands (cocoon status, workers, models, accounts keys, bench) reach this devnet as an Orleans
    // client: its ids, its client gateway, and what TLS to its silo checks (the simulated root and the image hash).
    private static DevnetReadyFile WithOperatorAccess(DevnetReadyFile ready, IServiceProvider services, DevnetState state, string? connectionString)
    {
        var settings = services.GetRequiredService<NodeSettings>();
        var attestation = services.GetService<NodeAttestation>();
        var tls = settings.SiloTls && attestation is not null;
        return ready with
        {
            ClusterId = settings.ClusterId,
            ServiceId = settings.ServiceId,
            AccountId = settings.Devnet.AccountId,
            OrleansGateway = $"127.0.0.1:{state.ClientGatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
            Membership = connectionString,
            AuthorityFile = tls ? settings.SimulatedAuthorityFile : null,
            ImageHash = tls ? attestation!.ImageHash : null,
        };
    }

    private static int PickPort(int previous) =>
        previous > 0 && PostgresServer.IsPortFree(previous) ? previous : PostgresServer.FreeLoopbackPort();

    private static async Task WaitHealthyAsync(Uri gateway, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(new Uri(gateway, "/healthz"), cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new DevnetException($"the gateway at {gateway} did not become healthy within a minute; run with --verbose to see why.");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    private void Step(string message)
    {
        error.WriteLine($"devnet: {message}");
        error.Flush();
    }

    private void Warn(string message)
    {
        var bar = new string('!', 100);
        error.WriteLine(bar);
        error.WriteLine($"!! WARNING: {message}");
        error.WriteLine(bar);
        error.Flush();
    }
}

/// <summary>The contents of <c>DIR/devnet.json</c>, written when the devnet is ready and removed when it stops.</summary>
internal sealed record DevnetReadyFile
{
    [System.Text.Json.Serialization.JsonPropertyName("gateway")] public required string Gateway { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("apiKey")] public required string ApiKey { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("storage")] public required string Storage { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("dataDir")] public required string DataDirectory { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("pid")] public required int ProcessId { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("postgresPort")] public int? PostgresPort { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("admin")] public string? Admin { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("chain")] public DevnetChainInfo? Chain { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("clusterId")] public string? ClusterId { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("serviceId")] public string? ServiceId { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("account")] public string? AccountId { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("orleansGateway")] public string? OrleansGateway { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("membership")] public string? Membership { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("authorityFile")] public string? AuthorityFile { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("imageHash")] public string? ImageHash { get; init; }
}
