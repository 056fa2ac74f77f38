using System.Globalization;
using System.Net.Http.Json;
using System.Numerics;
using System.Text.Json.Nodes;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Settlement;
using Cocoon.Node.Chain;
using Cocoon.Node.Storage;
using Cocoon.Testing;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;

[assembly: AssemblyFixture(typeof(Cocoon.Settlement.Tests.SettlementCluster))]

namespace Cocoon.Settlement.Tests;

/// <summary>
/// The whole money path on real parts: a local TON chain (infra/ton-localnet with the real contracts), PostgreSQL, and
/// one silo with both roles serving all-MiniLM-L6-v2 through the HTTP gateway, settling on the chain with low
/// thresholds. The root owner registers the proxy wallet in the root so state commits land; the faucet funds the proxy.
/// </summary>
public sealed class SettlementCluster : IAsyncLifetime
{
    public const long PricePerToken = 20;
    public const long WorkerFeePerToken = 19;

    /// <summary>
    /// The client contracts' stake: 5,000 tokens at 20 nanoTON, a few large requests, so a test reaches the stake
    /// bound while the chain is down (the default is 1 TON).
    /// </summary>
    public const long ClientStake = 100_000;

    /// <summary>The client contracts' close delay in seconds, short so a close is refunded within a test.</summary>
    public const uint ClientDelayBeforeClose = 2;

    private readonly PostgresFixture _postgres = new();
    private readonly SemaphoreSlim _ownerWallet = new(1, 1);
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private readonly string _models = Directory.CreateTempSubdirectory("cocoon-settlement-models-").FullName;

    public string ChainDirectory { get; } = Directory.CreateTempSubdirectory("cocoon-settlement-chain-").FullName;

    public TonLocalnet Chain { get; private set; } = null!;

    public int ChainPort { get; private set; }

    public ToncenterClient Ton { get; private set; } = null!;

    public CocoonTestNode Node { get; private set; } = null!;

    public string ConnectionString { get; private set; } = "";

    public HttpClient Http => _http;

    public ISettlementGrain Settlement => Node.Grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey);

    /// <summary>The proxy key, as the node has it (the tests' shared mnemonic).</summary>
    public Ed25519KeyPair ProxyKey { get; } = Mnemonic.ToKeyPair(Mnemonic.Split(CocoonTestNode.ProxyMnemonic));

    public WalletV5R1 ProxyWallet => new(ProxyKey.PublicKey);

    public async ValueTask InitializeAsync()
    {
        await _postgres.InitializeAsync();
        ConnectionString = await _postgres.CreateDatabaseAsync("settlement");
        ChainPort = PostgresServer.FreeLoopbackPort();
        Chain = await StartChainAsync();
        Ton = new ToncenterClient(_http, new ToncenterOptions { Endpoint = Chain.Endpoint, MaxRetries = 0, Timeout = TimeSpan.FromSeconds(30) });

        // The proxy wallet needs TON for gas and worker prefunds; the root owner registers it so its commits land.
        await RegisterProxyAsync(ProxyKey);

        Node = await CocoonTestNode.StartAsync("settle-" + Guid.NewGuid().ToString("N")[..8], "proxy,worker", ConnectionString, "settle",
            extra: new Dictionary<string, string?>
            {
                ["Cocoon:Worker:Models"] = Cocoon.Inference.Models.BuiltInModels.MiniLmName,
                ["Cocoon:Worker:ModelsDirectory"] = _models,
                ["Cocoon:Worker:ExecutionProvider"] = "Cpu",
                ["Cocoon:Worker:AutoDeploy"] = "true",
                // These tests' arithmetic uses 20 and 19 (COCOON's test parameters); the localnet root holds its fake-TON
                // 2 and 1, so the node keeps its configured prices (RootPricingTests covers prices from the root).
                ["Cocoon:Pricing:FromRoot"] = "false",
                ["Cocoon:Pricing:PricePerToken"] = PricePerToken.ToString(CultureInfo.InvariantCulture),
                ["Cocoon:Pricing:WorkerFeePerToken"] = WorkerFeePerToken.ToString(CultureInfo.InvariantCulture),
                ["Cocoon:Chain:Endpoint"] = Chain.Endpoint.ToString(),
                ["Cocoon:Chain:RootAddress"] = Chain.RootAddress.ToFriendlyString(),
                // Low thresholds and a fast poll: tests settle in seconds (defaults are 1 and 10 TON, 5 s).
                ["Cocoon:Chain:ChargeThresholdNanoTon"] = "1",
                ["Cocoon:Chain:PayoutThresholdNanoTon"] = "1",
                ["Cocoon:Chain:PollIntervalSeconds"] = "0.5",
                ["Cocoon:Chain:CommitIntervalSeconds"] = "5",
                ["Cocoon:Chain:ClientStakeNanoTon"] = ClientStake.ToString(CultureInfo.InvariantCulture),
                ["Cocoon:Chain:ClientDelayBeforeCloseSeconds"] = ClientDelayBeforeClose.ToString(CultureInfo.InvariantCulture),
            },
            // Reminders (reservation expiry, the close of an account) may tick every second.
            configureSilo: silo => silo.Configure<Orleans.Hosting.ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1)));
    }

    /// <summary>Funds the v5r1 wallet of <paramref name="key"/> and has the root owner register it as a proxy.</summary>
    public async Task RegisterProxyAsync(Ed25519KeyPair key)
    {
        var wallet = new WalletV5R1(key.PublicKey);
        await Chain.FaucetAsync(wallet.Address, 100_000_000_000);
        await SendAsOwnerAsync([RootContract.Message(Chain.RootAddress,
            RootContract.RegisterProxyBody((ulong)Random.Shared.NextInt64(1, long.MaxValue), wallet.Address, key.PublicKey), 50_000_000)]);
    }

    /// <summary>Sends messages from the root owner's wallet, one test at a time (its seqno is read, then used).</summary>
    public async Task SendAsOwnerAsync(IReadOnlyList<WalletMessage> messages)
    {
        await _ownerWallet.WaitAsync();
        try
        {
            using var owner = Chain.LoadOwnerKey();
            await new Wallet(this, owner, new WalletV5R1(owner.PublicKey)).SendAsync(messages);
        }
        finally
        {
            _ownerWallet.Release();
        }
    }

    /// <summary>A new database on the tests' PostgreSQL server (for a test that needs its own cluster).</summary>
    public Task<string> CreateDatabaseAsync(string name) => _postgres.CreateDatabaseAsync(name);

    /// <summary>Starts (or restarts, on the same state file and port) the local chain.</summary>
    public Task<TonLocalnet> StartChainAsync() =>
        TonLocalnet.StartAsync(new TonLocalnetOptions { DataDirectory = ChainDirectory, Port = ChainPort }, line => Console.Error.WriteLine(line));

    /// <summary>Restarts the chain after a test stopped it.</summary>
    public async Task RestartChainAsync() => Chain = await StartChainAsync();

    /// <summary>A new API key for a new escrow account.</summary>
    public async Task<(string AccountId, string ApiKey)> NewAccountAsync(string name)
    {
        var accountId = name + "-" + Guid.NewGuid().ToString("N")[..8];
        var apiKey = "sk-cocoon-test-" + Guid.NewGuid().ToString("N");
        await Node.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(apiKey)).CreateAsync(accountId, name);
        return (accountId, apiKey);
    }

    /// <summary>A funded, deployed client wallet.</summary>
    public async Task<Wallet> NewWalletAsync(long nanoTon)
    {
        var key = Ed25519KeyPair.Generate();
        var wallet = new Wallet(this, key, new WalletV5R1(key.PublicKey));
        await Chain.FaucetAsync(wallet.Address, nanoTon);
        await wallet.SendAsync([]);
        return wallet;
    }

    /// <summary>The client contract of <paramref name="owner"/> with this cluster's proxy and terms.</summary>
    public ClientContract ClientContractOf(TonAddress owner) =>
        new(new ClientContractConfig(owner, ProxyWallet.Address, ProxyKey.PublicKey, PricePerToken, ClientDelayBeforeClose, ClientStake));

    /// <summary>One embeddings request through the gateway; returns the HTTP status and the JSON answer.</summary>
    public async Task<(int Status, JsonObject Body)> TryEmbedAsync(string apiKey, params string[] inputs)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Node.GatewayUrl!, "/v1/embeddings"))
        {
            Content = JsonContent.Create(new { model = Cocoon.Inference.Models.BuiltInModels.MiniLmName, input = inputs }),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await _http.SendAsync(request);
        return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    /// <summary>One embeddings request through the gateway; returns the JSON answer.</summary>
    public async Task<JsonObject> EmbedAsync(string apiKey, params string[] inputs)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Node.GatewayUrl!, "/v1/embeddings"))
        {
            Content = JsonContent.Create(new { model = Cocoon.Inference.Models.BuiltInModels.MiniLmName, input = inputs }),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await _http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"HTTP {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    public IEscrowAccountGrain Escrow(string accountId) => Node.Grains.GetGrain<IEscrowAccountGrain>(accountId);

    public IWorkerEarningsGrain Earnings(string workerId) => Node.Grains.GetGrain<IWorkerEarningsGrain>(workerId);

    /// <summary>Balance of an account on chain (0 when it does not exist).</summary>
    public async Task<BigInteger> BalanceAsync(TonAddress address) => (await Ton.GetAddressInformationAsync(address)).Balance;

    public async ValueTask DisposeAsync()
    {
        if (Node is not null)
        {
            await Node.DisposeAsync();
        }

        if (Chain is not null)
        {
            await Chain.DisposeAsync();
        }

        await _postgres.DisposeAsync();
        _http.Dispose();
        _ownerWallet.Dispose();
        ProxyKey.Dispose();
        foreach (var dir in new[] { ChainDirectory, _models })
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>A wallet v5r1 on the localnet.</summary>
public sealed class Wallet(SettlementCluster cluster, Ed25519KeyPair key, WalletV5R1 wallet)
{
    public Ed25519KeyPair Key { get; } = key;

    public TonAddress Address => wallet.Address;

    /// <summary>Signs a transfer with the current seqno and the chain's clock, sends it and checks the seqno moved.</summary>
    public async Task SendAsync(IReadOnlyList<WalletMessage> messages)
    {
        var info = await cluster.Ton.GetWalletInformationAsync(Address);
        var seqno = (uint)(info.Seqno ?? 0);
        var now = (await cluster.Ton.GetAddressInformationAsync(Address)).SyncUtime;
        await cluster.Ton.SendBocAsync(wallet.CreateTransfer(Key, seqno, (uint)(now + 300), messages).ToBoc());
        Assert.Equal(seqno + 1, (await cluster.Ton.GetWalletInformationAsync(Address)).Seqno);
    }
}
