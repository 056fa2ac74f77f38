using Cocoon.Node.Chain;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;

namespace Cocoon.Ton.Tests.Localnet;

/// <summary>
/// One real local TON chain (infra/ton-localnet through <see cref="TonLocalnet"/>) per test class, in a fresh
/// folder, with a toncenter client on it. Node.js and npm are required; the first run does <c>npm ci</c>.
/// </summary>
public sealed class LocalnetFixture : IAsyncLifetime
{
    private readonly HttpClient _http = new();

    /// <summary>The data folder (deleted afterwards).</summary>
    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "cocoon-localnet-test-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>The running chain.</summary>
    public TonLocalnet Chain { get; private set; } = null!;

    /// <summary>A client on its toncenter API (no retries: the chain is local, and a refusal should show at once).</summary>
    public ToncenterClient Client { get; private set; } = null!;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        Chain = await StartAsync(DataDirectory);
        Client = NewClient(Chain);
    }

    /// <summary>Starts (or restarts) a localnet on <paramref name="dataDirectory"/>.</summary>
    public static Task<TonLocalnet> StartAsync(string dataDirectory) =>
        TonLocalnet.StartAsync(new TonLocalnetOptions { DataDirectory = dataDirectory }, line => Console.Error.WriteLine(line));

    /// <summary>A toncenter client on <paramref name="chain"/>.</summary>
    public ToncenterClient NewClient(TonLocalnet chain) =>
        new(_http, new ToncenterOptions { Endpoint = chain.Endpoint, MaxRetries = 0, Timeout = TimeSpan.FromSeconds(30) });

    /// <summary>A new funded, deployed wallet v5r1 (the faucet pays it, then a first empty transfer deploys it).</summary>
    public async Task<TestWallet> NewWalletAsync(decimal ton)
    {
        var key = Ed25519KeyPair.Generate();
        var wallet = new WalletV5R1(key.PublicKey);
        await Chain.FaucetAsync(wallet.Address, (long)(ton * 1_000_000_000m));
        var w = new TestWallet(this, key, wallet);
        await w.SendAsync([]);
        return w;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Chain is not null)
        {
            await Chain.DisposeAsync();
        }

        _http.Dispose();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A wallet v5r1 on the localnet that signs and sends through the toncenter client.</summary>
public sealed class TestWallet(LocalnetFixture fixture, Ed25519KeyPair key, WalletV5R1 wallet)
{
    /// <summary>The owner key.</summary>
    public Ed25519KeyPair Key { get; } = key;

    /// <summary>The wallet contract.</summary>
    public WalletV5R1 Wallet { get; } = wallet;

    /// <summary>The wallet address.</summary>
    public TonAddress Address => Wallet.Address;

    /// <summary>Signs a transfer with the current seqno, sends it with sendBoc, and checks the seqno moved.</summary>
    public async Task SendAsync(IReadOnlyList<WalletMessage> messages)
    {
        var info = await fixture.Client.GetWalletInformationAsync(Address);
        var seqno = (uint)(info.Seqno ?? 0);
        // valid_until from the chain's clock, which /advance may have moved past the wall clock.
        var now = (await fixture.Client.GetAddressInformationAsync(Address)).SyncUtime;
        var transfer = Wallet.CreateTransfer(Key, seqno, (uint)(now + 300), messages);
        await fixture.Client.SendBocAsync(transfer.ToBoc());
        var after = await fixture.Client.GetWalletInformationAsync(Address);
        Assert.Equal(seqno + 1, after.Seqno);
    }
}
