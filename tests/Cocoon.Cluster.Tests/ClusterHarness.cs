using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Operations;
using Cocoon.Abstractions.Settlement;
using Cocoon.Client;
using Cocoon.Inference.Models;
using Cocoon.Node.Chain;
using Cocoon.Node.Storage;
using Cocoon.Testing;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;

namespace Cocoon.Cluster.Tests;

/// <summary>How big a harness run is: the CI short form, or the long form run by hand (infra/harness/run.sh).</summary>
public sealed record HarnessOptions
{
    /// <summary>Seconds each phase runs (the chain-down phase keeps the chain down for most of it).</summary>
    public double PhaseSeconds { get; init; } = 12;

    /// <summary>Closed-loop clients, each with its own funded account.</summary>
    public int Clients { get; init; } = 4;

    /// <summary>Reservation lifetime the proxies run with, so a run can see orphaned reservations expire.</summary>
    public int ReservationSeconds { get; init; } = 20;

    /// <summary>The escrow expiry reminder's tick.</summary>
    public int ReminderSeconds { get; init; } = 5;

    /// <summary>The short form unless <c>COCOON_HARNESS_PHASE_SECONDS</c> / <c>COCOON_HARNESS_CLIENTS</c> say otherwise.</summary>
    public static HarnessOptions FromEnvironment()
    {
        var options = new HarnessOptions();
        if (double.TryParse(Environment.GetEnvironmentVariable("COCOON_HARNESS_PHASE_SECONDS"), NumberStyles.Float, CultureInfo.InvariantCulture, out var phase) && phase >= 6)
        {
            options = options with { PhaseSeconds = phase };
        }

        if (int.TryParse(Environment.GetEnvironmentVariable("COCOON_HARNESS_CLIENTS"), CultureInfo.InvariantCulture, out var clients) && clients is >= 1 and <= 64)
        {
            options = options with { Clients = clients };
        }

        return options;
    }
}

/// <summary>One cocoon-node process of the harness, restartable on the same ports and settings.</summary>
public sealed class HarnessNode(string name, string role, IReadOnlyList<string> arguments, int adminPort, Uri? gateway) : IAsyncDisposable
{
    private readonly List<NodeProcess> _dead = [];

    public string Name => name;

    public string Role => role;

    public Uri? Gateway => gateway;

    public Uri Admin { get; } = new($"http://127.0.0.1:{adminPort}");

    public NodeProcess? Process { get; private set; }

    /// <summary>Times this node was killed on purpose (its exit is not a crash).</summary>
    public int Kills { get; private set; }

    public void Start() => Process = NodeProcess.Start("cocoon-node", arguments);

    /// <summary>kill -9.</summary>
    public void Kill()
    {
        Kills++;
        Process!.KillHard();
        _dead.Add(Process);
        Process = null;
    }

    /// <summary>Waits for <c>/readyz</c> to answer 200 (or the process to exit, which fails with its output).</summary>
    public async Task WaitReadyAsync(HttpClient http, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string last = "no answer";
        while (true)
        {
            if (Process!.HasExited)
            {
                throw new InvalidOperationException($"{name} exited with {Process.ExitCode} before it was ready.\nstdout:\n{Tail(Process.StandardOutput)}\nstderr:\n{Tail(Process.StandardError)}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(Admin, "/readyz"));
                last = $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}";
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
            catch (TaskCanceledException)
            {
                last = "timed out";
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{name} not ready within {timeout.TotalSeconds:0} s (last /readyz: {last}).\nstdout:\n{Tail(Process.StandardOutput)}\nstderr:\n{Tail(Process.StandardError)}");
            }

            await Task.Delay(250);
        }
    }

    /// <summary>Whether the process is running; null when it is down on purpose.</summary>
    public bool? Alive => Process is null ? null : !Process.HasExited;

    public string Output => Process is null ? "" : $"stdout:\n{Tail(Process.StandardOutput)}\nstderr:\n{Tail(Process.StandardError)}";

    /// <summary>Everything every process of this node printed (the killed ones first), for the run's log folder.</summary>
    public string FullOutput => string.Join("\n", _dead.Append(Process).OfType<NodeProcess>()
        .Select((p, i) => $"=== process {i + 1} (pid {p.Id})\nstdout:\n{p.StandardOutput}\nstderr:\n{p.StandardError}"));

    public async ValueTask DisposeAsync()
    {
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }

        foreach (var dead in _dead)
        {
            await dead.DisposeAsync();
        }
    }

    private static string Tail(string text) => text.Length <= 6000 ? text : text[^6000..];
}

/// <summary>A client of the harness: its API key, account, and the wallet that funds its client contract.</summary>
public sealed record HarnessAccount(string AccountId, string ApiKey, string ContractAddress);

/// <summary>
/// The multi-process cluster (issue 10 item 1): one throwaway PostgreSQL for membership, state and reminders; the TON
/// localnet with the real contracts; two proxy silos (escrow, settlement, HTTP gateways) and two worker silos (real
/// all-MiniLM-L6-v2 on the CPU), each a separate <c>cocoon-node</c> process on loopback in Production mode, so a kill -9
/// is a real crash. The harness talks to the cluster only as a real party would: over HTTP as app clients, as an
/// operator's Orleans client (ledgers, settlement), and on chain (deposits, contract reads).
/// </summary>
public sealed class ClusterHarness : IAsyncDisposable
{
    public const string ClusterId = "harness";
    public static readonly string Model = BuiltInModels.MiniLmName;

    private readonly string _root = Directory.CreateTempSubdirectory("cocoon-harness-").FullName;
    private readonly List<HarnessNode> _nodes = [];
    private readonly Action<string> _log;
    private readonly string _operatorToken = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
    private readonly string _proxyMnemonic = string.Join(' ', Mnemonic.Generate());

    private ClusterHarness(HarnessOptions options, Action<string> log)
    {
        Options = options;
        _log = log;
    }

    public HarnessOptions Options { get; }

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public PostgresServer Postgres { get; private set; } = null!;

    public string ConnectionString { get; private set; } = "";

    public TonLocalnet Chain { get; private set; } = null!;

    public ToncenterClient Ton { get; private set; } = null!;

    public CocoonClusterClient Operator { get; private set; } = null!;

    public IReadOnlyList<HarnessNode> Proxies => _nodes.Where(n => n.Role == "proxy").ToList();

    public IReadOnlyList<HarnessNode> Workers => _nodes.Where(n => n.Role == "worker").ToList();

    public IReadOnlyList<HarnessNode> Nodes => _nodes;

    public List<HarnessAccount> Accounts { get; } = [];

    /// <summary>The worker owner's address: worker contracts pay it.</summary>
    public TonAddress WorkerOwner { get; } = new WalletV5R1(Ed25519KeyPair.Generate().PublicKey).Address;

    private int ChainPort { get; set; }

    private string ChainDirectory => Path.Combine(_root, "chain");

    /// <summary>Starts everything and funds one account per client on chain; logs each step.</summary>
    public static async Task<ClusterHarness> StartAsync(HarnessOptions options, Action<string> log)
    {
        var harness = new ClusterHarness(options, log);
        try
        {
            await harness.StartAsync();
            return harness;
        }
        catch
        {
            await harness.DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync()
    {
        var started = DateTime.UtcNow;
        if (!OperatingSystem.IsWindows())
        {
            // PostgreSQL runs as the postgres user when the tests run as root: it must be able to enter the folder.
            File.SetUnixFileMode(_root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }

        Postgres = await PostgresServer.StartAsync(new PostgresServerOptions { DataDirectory = Path.Combine(_root, "pg"), Durable = true });
        await Postgres.EnsureDatabaseAsync("harness");
        ConnectionString = Postgres.ConnectionString("harness");
        await SchemaMigrator.MigrateAsync(ConnectionString);
        _log($"PostgreSQL on 127.0.0.1:{Postgres.Port}");

        ChainPort = PostgresServer.FreeLoopbackPort();
        Chain = await StartChainAsync();
        Ton = new ToncenterClient(Http, new ToncenterOptions { Endpoint = Chain.Endpoint, MaxRetries = 0, Timeout = TimeSpan.FromSeconds(30) });
        _log($"TON localnet at {Chain.Endpoint}");

        // The proxy wallet pays gas and prefunds worker contracts; the root owner registers it so its state commits land.
        using (var proxyKey = Mnemonic.ToKeyPair(Mnemonic.Split(_proxyMnemonic)))
        {
            var proxyWallet = new WalletV5R1(proxyKey.PublicKey);
            await Chain.FaucetAsync(proxyWallet.Address, 500_000_000_000);
            using var owner = Chain.LoadOwnerKey();
            await new Wallet(Ton, owner).SendAsync([RootContract.Message(Chain.RootAddress,
                RootContract.RegisterProxyBody((ulong)Random.Shared.NextInt64(1, long.MaxValue), proxyWallet.Address, proxyKey.PublicKey), 50_000_000)]);
        }

        _nodes.Add(NewNode("proxy-1", "proxy"));
        _nodes.Add(NewNode("proxy-2", "proxy"));
        _nodes.Add(NewNode("worker-1", "worker"));
        _nodes.Add(NewNode("worker-2", "worker"));

        // The first proxy alone first (it creates the settlement state), then the rest together.
        _nodes[0].Start();
        await _nodes[0].WaitReadyAsync(Http, TimeSpan.FromSeconds(180));
        foreach (var node in _nodes.Skip(1))
        {
            node.Start();
        }

        await Task.WhenAll(_nodes.Skip(1).Select(n => n.WaitReadyAsync(Http, TimeSpan.FromSeconds(240))));
        _log($"2 proxy and 2 worker processes ready ({(DateTime.UtcNow - started).TotalSeconds:0} s since start)");

        Operator = await CocoonClusterClient.ConnectAsync(new CocoonClientOptions
        {
            ClusterId = ClusterId,
            ServiceId = ClusterId,
            MembershipConnectionString = ConnectionString,
            OperatorToken = _operatorToken,
        });
        await WaitForWorkersAsync(TimeSpan.FromSeconds(120));

        for (var i = 0; i < Options.Clients; i++)
        {
            Accounts.Add(await NewFundedAccountAsync($"client-{i}"));
        }

        _log($"{Accounts.Count} accounts funded on chain ({(DateTime.UtcNow - started).TotalSeconds:0} s since start)");
    }

    private HarnessNode NewNode(string name, string role)
    {
        var adminPort = PostgresServer.FreeLoopbackPort();
        var gatewayPort = role == "proxy" ? PostgresServer.FreeLoopbackPort() : 0;
        string S(double v) => v.ToString(CultureInfo.InvariantCulture);
        var args = new List<string>
        {
            "--Cocoon:Mode", "Production",
            "--Cocoon:Roles", role,
            "--Cocoon:ClusterId", ClusterId,
            "--Cocoon:ServiceId", ClusterId,
            "--Cocoon:Silo:Name", name,
            "--Cocoon:Silo:AdvertisedAddress", "127.0.0.1",
            "--Cocoon:Silo:SiloPort", S(PostgresServer.FreeLoopbackPort()),
            "--Cocoon:Silo:GatewayPort", S(PostgresServer.FreeLoopbackPort()),
            "--Cocoon:Storage:ConnectionString", ConnectionString,
            "--Cocoon:Storage:MigrateOnStart", "false",
            "--Cocoon:Admin:Port", S(adminPort),
            "--Cocoon:Attestation:Provider", "None",
            "--Cocoon:Chain:ProxyMnemonic", _proxyMnemonic,
            "--Cocoon:Chain:Endpoint", Chain.Endpoint.ToString(),
            "--Cocoon:Chain:RootAddress", Chain.RootAddress.ToFriendlyString(),
            "--Cocoon:Operators:TokenSha256", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(_operatorToken))),
            // Failure detection in seconds rather than about a minute, and an expiry tick of a few seconds.
            "--Cocoon:Orleans:Membership:ProbeTimeout", "00:00:03",
            "--Cocoon:Orleans:Membership:NumMissedProbesLimit", "2",
            "--Cocoon:Orleans:Membership:NumVotesForDeathDeclaration", "1",
            "--Cocoon:Orleans:Membership:TableRefreshTimeout", "00:00:02",
            "--Cocoon:Orleans:Membership:IAmAliveTablePublishTimeout", "00:00:05",
            "--Cocoon:Orleans:Reminders:MinimumReminderPeriod", TimeSpan.FromSeconds(Options.ReminderSeconds).ToString("c", CultureInfo.InvariantCulture),
            "--Logging:LogLevel:Default", "Warning",
            "--Logging:LogLevel:Orleans.Runtime.Silo", "Error",
            "--Logging:LogLevel:Orleans.Runtime.Watchdog", "Error",
        };
        if (role == "proxy")
        {
            args.AddRange([
                "--Cocoon:Gateway:Url", $"http://127.0.0.1:{gatewayPort}",
                "--Cocoon:Escrow:ReservationSeconds", S(Options.ReservationSeconds),
                // Settle on every poll: every charge and payout reaches the chain within seconds of the load.
                "--Cocoon:Chain:ChargeThresholdNanoTon", "1",
                "--Cocoon:Chain:PayoutThresholdNanoTon", "1",
                "--Cocoon:Chain:PollIntervalSeconds", "1",
                "--Cocoon:Chain:CommitIntervalSeconds", "5",
            ]);
        }
        else
        {
            var models = Path.Combine(_root, "models-" + name);
            Directory.CreateDirectory(models);
            args.AddRange([
                "--Cocoon:Worker:Id", name,
                "--Cocoon:Worker:Models", Model,
                "--Cocoon:Worker:ModelsDirectory", models,
                "--Cocoon:Worker:ExecutionProvider", "Cpu",
                "--Cocoon:Worker:AutoDeploy", "true",
                "--Cocoon:Worker:LeaseSeconds", "6",
                "--Cocoon:Worker:OwnerAddress", WorkerOwner.ToFriendlyString(),
            ]);
        }

        return new HarnessNode(name, role, args, adminPort, role == "proxy" ? new Uri($"http://127.0.0.1:{gatewayPort}") : null);
    }

    /// <summary>Waits until both workers hold a live lease.</summary>
    public async Task WaitForWorkersAsync(TimeSpan timeout)
    {
        var admin = Operator.Grains.GetGrain<IClusterAdminGrain>(0);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var live = (await admin.ListWorkersAsync()).Where(w => w.Details.Live).Select(w => w.Details.WorkerId).ToHashSet();
            if (Workers.All(w => live.Contains(WorkerId(w))))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"workers live: {string.Join(", ", live)}; expected {string.Join(", ", Workers.Select(WorkerId))}");
            }

            await Task.Delay(250);
        }
    }

    public static string WorkerId(HarnessNode worker) => $"{worker.Name}.{Model}";

    /// <summary>
    /// A new account as an app would get one: an API key made by the operator, a client contract registered with the
    /// proxy, deployed by the client's wallet with a 5 TON top-up, credited by the deposit watcher.
    /// </summary>
    private async Task<HarnessAccount> NewFundedAccountAsync(string name)
    {
        var accountId = name + "-" + Guid.NewGuid().ToString("N")[..6];
        var apiKey = ApiKeys.Generate();
        await Operator.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(apiKey)).CreateAsync(accountId, name, ApiKeyLimits.None);

        var wallet = new Wallet(Ton, Ed25519KeyPair.Generate());
        await Chain.FaucetAsync(wallet.Address, 20_000_000_000);
        await wallet.SendAsync([]);
        var settlement = Operator.Grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey);
        var channel = await settlement.RegisterClientAsync(accountId, wallet.Address.ToFriendlyString());
        var status = await settlement.GetStatusAsync();
        var ledger = await Escrow(accountId).GetLedgerAsync();
        var contract = new ClientContract(new ClientContractConfig(wallet.Address, TonAddress.Parse(status.ProxyWallet), Convert.FromHexString(status.ProxyPublicKey),
            status.PricePerToken, (uint)ledger.CloseDelay.TotalSeconds, ledger.StakeNanoTon));
        if (!contract.Address.Equals(TonAddress.Parse(channel.ContractAddress)))
        {
            throw new InvalidOperationException($"client contract {contract.Address.ToFriendlyString()} is not the registered {channel.ContractAddress}");
        }

        await wallet.SendAsync([contract.DeployMessage(5_000_000_000)]);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await Escrow(accountId).GetBalanceAsync()).Deposited == 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the deposit of {accountId} was not credited within 60 s");
            }

            await Task.Delay(300);
        }

        return new HarnessAccount(accountId, apiKey, channel.ContractAddress);
    }

    public IEscrowAccountGrain Escrow(string accountId) => Operator.Grains.GetGrain<IEscrowAccountGrain>(accountId);

    public ISettlementGrain Settlement => Operator.Grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey);

    public IWorkerEarningsGrain Earnings(string workerId) => Operator.Grains.GetGrain<IWorkerEarningsGrain>(workerId);

    /// <summary>Starts (or restarts, on the same state file and port) the local chain.</summary>
    public Task<TonLocalnet> StartChainAsync() =>
        TonLocalnet.StartAsync(new TonLocalnetOptions { DataDirectory = ChainDirectory, Port = ChainPort }, _ => { });

    /// <summary>Stops the chain endpoint.</summary>
    public Task StopChainAsync() => Chain.StopAsync();

    /// <summary>Brings the chain back on the same port and state file.</summary>
    public async Task RestartChainAsync() => Chain = await StartChainAsync();

    /// <summary>Stops PostgreSQL (fast shutdown) and starts it again on the same port and data.</summary>
    public async Task RestartPostgresAsync(TimeSpan down)
    {
        var port = Postgres.Port;
        await Postgres.StopAsync();
        await Task.Delay(down);
        Postgres = await PostgresServer.StartAsync(new PostgresServerOptions { DataDirectory = Path.Combine(_root, "pg"), Durable = true, PreferredPort = port });
        if (Postgres.Port != port)
        {
            throw new InvalidOperationException($"PostgreSQL came back on port {Postgres.Port}, not {port}: the silos' connection strings name {port}.");
        }
    }

    /// <summary>Balance of an address on chain.</summary>
    public async Task<BigInteger> BalanceAsync(TonAddress address) => (await Ton.GetAddressInformationAsync(address)).Balance;

    public async ValueTask DisposeAsync()
    {
        if (Operator is not null)
        {
            try
            {
                await Operator.DisposeAsync();
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or OperationCanceledException)
            {
            }
        }

        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }

        if (Chain is not null)
        {
            await Chain.DisposeAsync();
        }

        if (Postgres is not null)
        {
            await Postgres.DisposeAsync();
        }

        Http.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
