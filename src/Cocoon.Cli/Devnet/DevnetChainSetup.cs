using System.Text.Json.Serialization;
using Cocoon.Abstractions.Settlement;
using Cocoon.Grains.Inference;
using Cocoon.Grains.Ledger;
using Cocoon.Node.Chain;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Cli.Devnet;

/// <summary>
/// What a devnet does on its local TON chain once its silo runs, idempotently (a restarted devnet finds it done): the
/// faucet funds the proxy wallet, the root owner registers it (so its state commits land), a devnet client wallet
/// (key in <c>DIR/client-key.txt</c>) is funded and deploys the devnet account's client contract with a first deposit,
/// and the devnet's workers are linked to worker contracts paying a devnet owner wallet (<c>DIR/worker-owner-key.txt</c>).
/// </summary>
internal static class DevnetChainSetup
{
    private const long Ton = 1_000_000_000;

    public static async Task<DevnetChainInfo> PrepareAsync(TonLocalnet chain, IServiceProvider services, string dir, string accountId, Action<string> step, CancellationToken cancellationToken)
    {
        // The devnet account starts with Cocoon:Devnet:InitialFundsNanoTon, deposited on chain: the contract keeps
        // 0.01 TON of a top-up for gas, so the deposit is that much more and the credit is exactly the starting funds.
        var firstDeposit = services.GetRequiredService<Node.Configuration.NodeSettings>().Devnet.InitialFundsNanoTon + (long)ClientContract.TopUpFee;
        using var http = new HttpClient();
        var ton = new ToncenterClient(http, new ToncenterOptions { Endpoint = chain.Endpoint, MaxRetries = 0, Timeout = TimeSpan.FromSeconds(30) });
        var grains = services.GetRequiredService<IGrainFactory>();
        var proxy = services.GetRequiredService<ProxyChain>();
        var settlement = grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey);

        // The proxy wallet pays gas and worker prefunds.
        if ((await ton.GetAddressInformationAsync(proxy.Wallet.Address, cancellationToken)).Balance < 100 * Ton)
        {
            await chain.FaucetAsync(proxy.Wallet.Address, 1000 * Ton, cancellationToken);
            step($"chain: the faucet sent 1000 TON to the proxy wallet {proxy.Wallet.Address.ToFriendlyString()}");
        }

        if (!(await RootContract.GetProxyAsync(ton, chain.RootAddress, proxy.Wallet.Address, cancellationToken)).Registered)
        {
            using var owner = chain.LoadOwnerKey();
            await SendAsync(ton, owner, [RootContract.Message(chain.RootAddress, RootContract.RegisterProxyBody(1, proxy.Wallet.Address, proxy.Wallet.PublicKey.Span), 50_000_000)], cancellationToken);
            step("chain: the root owner registered the proxy wallet in the root");
        }

        // The devnet client: its wallet, funded, and the devnet account's escrow contract, deployed with a deposit.
        var clientKeyFile = KeyFile(dir, "client-key.txt");
        using var clientKey = Mnemonic.ToKeyPair(Mnemonic.Split(await File.ReadAllTextAsync(clientKeyFile, cancellationToken)));
        var clientWallet = new WalletV5R1(clientKey.PublicKey);
        var channel = await settlement.RegisterClientAsync(accountId, clientWallet.Address.ToFriendlyString());
        var contract = proxy.ClientContractOf(clientWallet.Address);
        if ((await ton.GetAddressInformationAsync(contract.Address, cancellationToken)).State != "active")
        {
            if ((await ton.GetAddressInformationAsync(clientWallet.Address, cancellationToken)).Balance < firstDeposit + 10 * Ton)
            {
                await chain.FaucetAsync(clientWallet.Address, firstDeposit + 100 * Ton, cancellationToken);
            }

            await SendAsync(ton, clientKey, [contract.DeployMessage(firstDeposit)], cancellationToken);
            await settlement.SettleNowAsync(TimeSpan.FromSeconds(60));
            step($"chain: account '{accountId}' deposited {(decimal)firstDeposit / Ton} TON into its client contract {channel.ContractAddress}");
        }

        // The devnet's workers are paid to a devnet owner wallet.
        using var ownerKey = Mnemonic.ToKeyPair(Mnemonic.Split(await File.ReadAllTextAsync(KeyFile(dir, "worker-owner-key.txt"), cancellationToken)));
        var workerOwner = new WalletV5R1(ownerKey.PublicKey).Address;
        foreach (var worker in services.GetRequiredService<LocalWorkers>().All)
        {
            await settlement.RegisterWorkerAsync(worker.WorkerId, workerOwner.ToFriendlyString());
        }

        return new DevnetChainInfo
        {
            Endpoint = chain.Endpoint.ToString(),
            Root = chain.RootAddress.ToFriendlyString(),
            ProxyWallet = proxy.Wallet.Address.ToFriendlyString(),
            ClientWallet = clientWallet.Address.ToFriendlyString(),
            ClientKeyFile = clientKeyFile,
            ClientContract = channel.ContractAddress,
            Account = accountId,
            WorkerOwner = workerOwner.ToFriendlyString(),
        };
    }

    private static string KeyFile(string dir, string name)
    {
        var path = Path.Combine(dir, name);
        if (!File.Exists(path))
        {
            AtomicFile.Write(path, string.Join(' ', Mnemonic.Generate()) + "\n", ownerOnly: true);
        }

        return path;
    }

    private static async Task SendAsync(ToncenterClient ton, Ed25519KeyPair key, IReadOnlyList<WalletMessage> messages, CancellationToken cancellationToken)
    {
        var wallet = new WalletV5R1(key.PublicKey);
        var info = await ton.GetWalletInformationAsync(wallet.Address, cancellationToken);
        var now = (await ton.GetAddressInformationAsync(wallet.Address, cancellationToken)).SyncUtime;
        await ton.SendBocAsync(wallet.CreateTransfer(key, (uint)(info.Seqno ?? 0), (uint)(now + 120), messages).ToBoc(), cancellationToken);
    }
}

/// <summary>The <c>chain</c> object of <c>devnet.json</c>.</summary>
internal sealed record DevnetChainInfo
{
    [JsonPropertyName("endpoint")] public required string Endpoint { get; init; }
    [JsonPropertyName("root")] public required string Root { get; init; }
    [JsonPropertyName("proxyWallet")] public required string ProxyWallet { get; init; }
    [JsonPropertyName("clientWallet")] public required string ClientWallet { get; init; }
    [JsonPropertyName("clientKeyFile")] public required string ClientKeyFile { get; init; }
    [JsonPropertyName("clientContract")] public required string ClientContract { get; init; }
    [JsonPropertyName("account")] public required string Account { get; init; }
    [JsonPropertyName("workerOwner")] public required string WorkerOwner { get; init; }
}
