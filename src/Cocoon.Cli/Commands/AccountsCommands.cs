using System.CommandLine;
using System.Text.Json;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Operations;
using Cocoon.Abstractions.Settlement;
using Cocoon.Cli.Operations;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;

namespace Cocoon.Cli.Commands;

/// <summary>
/// <c>cocoon accounts topup --amount TON</c> and <c>cocoon accounts show [--json]</c> (issue 5 item 5): money on an
/// escrow account. A top-up is a real transfer on the devnet's chain, from the devnet's client wallet to the account's
/// client contract; the settlement grain's deposit watcher credits it.
/// </summary>
internal static class AccountsCommands
{
    /// <summary><c>topup</c>, for the <c>accounts</c> command.</summary>
    public static Command CreateTopUp()
    {
        var amount = new Option<string>("--amount") { Description = "TON to deposit (e.g. 5 or 0.25).", Required = true };
        var account = new Option<string?>("--account") { Description = "The escrow account (default: the devnet's)." };
        var json = OperatorCommand.JsonOption();
        var command = new Command("topup", "Deposit TON from the devnet's client wallet into the account's client contract; waits until it is credited.")
        {
            amount, account, json,
        };
        OperatorCommand.SetClusterAction(command, "accounts topup", async (parse, client, cancellationToken) =>
        {
            var text = parse.GetValue(amount)!;
            if (!TonAmount.TryParse(text, out var nano) || nano <= (long)ClientContract.TopUpFee)
            {
                throw new CliUsageException($"--amount {text}: expected a TON amount above 0.01 (the contract keeps 0.01 TON of each top-up for gas).");
            }

            var chain = DevnetChain.Read(parse.GetValue<string>("--data-dir")!);
            var accountId = parse.GetValue(account) ?? chain.AccountId;
            var settlement = client.Grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey);
            using var key = Mnemonic.ToKeyPair(Mnemonic.Split(File.ReadAllText(chain.ClientKeyFile)));
            var channel = await settlement.RegisterClientAsync(accountId, new WalletV5R1(key.PublicKey).Address.ToFriendlyString());
            var escrow = client.Grains.GetGrain<IEscrowAccountGrain>(accountId);
            var before = await escrow.GetBalanceAsync();

            using var http = new HttpClient();
            var ton = new ToncenterClient(http, new ToncenterOptions { Endpoint = new Uri(chain.Endpoint), MaxRetries = 1 });
            var contract = TonAddress.Parse(channel.ContractAddress);
            var deployed = (await ton.GetAddressInformationAsync(contract, cancellationToken)).State == "active";
            var body = ClientContract.TopUpBody(0);
            var init = deployed ? null : (await ContractInitAsync(settlement, accountId, key, await escrow.GetLedgerAsync(), cancellationToken));
            await SendAsync(ton, key, [ContractGetMethods.ToContract(contract, nano, body, init, bounce: deployed)], cancellationToken);

            // The deposit watcher credits it on its next pass; settling now makes that pass happen at once.
            await settlement.SettleNowAsync(TimeSpan.FromSeconds(60));
            var after = await escrow.GetBalanceAsync();
            var credited = after.Deposited - before.Deposited;
            if (parse.GetValue(json))
            {
                OperatorCommand.WriteJson(new { account = accountId, contract = channel.ContractAddress, sentNanoTon = nano, creditedNanoTon = credited, balanceNanoTon = after.Balance });
            }
            else
            {
                Console.WriteLine($"sent {TonAmount.Format(nano)} TON to {channel.ContractAddress}; credited {TonAmount.Format(credited)} TON to '{accountId}' " +
                                  $"(balance {TonAmount.Format(after.Balance)} TON)");
            }

            return credited > 0 ? 0 : 1;
        });
        return command;
    }

    /// <summary><c>show</c>, for the <c>accounts</c> command.</summary>
    public static Command CreateShow()
    {
        var account = new Option<string?>("--account") { Description = "The escrow account (default: the devnet's)." };
        var json = OperatorCommand.JsonOption();
        var command = new Command("show", "An account's off-chain balance, reserved and charged amounts, and its client contract on chain.") { account, json };
        OperatorCommand.SetClusterAction(command, "accounts show", async (parse, client, cancellationToken) =>
        {
            var dataDir = parse.GetValue<string>("--data-dir")!;
            var chain = DevnetChain.TryRead(dataDir);
            var accountId = parse.GetValue(account) ?? chain?.AccountId ?? throw new CliUsageException("--account is required outside a devnet.");
            var ledger = await client.Grains.GetGrain<IEscrowAccountGrain>(accountId).GetLedgerAsync();
            var status = await client.Grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey).GetStatusAsync();
            var channel = status.Clients.FirstOrDefault(c => c.AccountId == accountId);
            long? onChainBalance = null;
            if (channel is not null && chain is not null)
            {
                using var http = new HttpClient();
                var ton = new ToncenterClient(http, new ToncenterOptions { Endpoint = new Uri(chain.Endpoint), MaxRetries = 1 });
                try
                {
                    onChainBalance = (long)await ClientContract.GetBalanceAsync(ton, TonAddress.Parse(channel.ContractAddress), cancellationToken);
                }
                catch (Exception e) when (e is ContractGetMethodException or ToncenterException)
                {
                    onChainBalance = null; // not deployed yet, or the chain is down: shown as unknown
                }
            }

            if (parse.GetValue(json))
            {
                OperatorCommand.WriteJson(new
                {
                    account = accountId,
                    balanceNanoTon = ledger.Balance.Balance,
                    reservedNanoTon = ledger.Balance.Reserved,
                    availableNanoTon = ledger.Balance.Available,
                    depositedNanoTon = ledger.Balance.Deposited,
                    chargedNanoTon = ledger.Balance.Charged,
                    chargedTokens = ledger.ChargedTokens,
                    chargedOnChainTokens = ledger.ChargedOnChainTokens,
                    refundedNanoTon = ledger.Balance.Refunded,
                    stakeNanoTon = ledger.StakeNanoTon,
                    unchargedNanoTon = ledger.UnchargedNanoTon,
                    status = ledger.Status.ToString().ToLowerInvariant(),
                    closeAt = ledger.CloseAt,
                    contract = channel?.ContractAddress,
                    onChainBalanceNanoTon = onChainBalance,
                });
                return 0;
            }

            var table = OperatorCommand.Table("field", "value");
            OperatorCommand.Row(table, "account", accountId);
            OperatorCommand.Row(table, "balance (off chain)", TonAmount.Format(ledger.Balance.Balance) + " TON");
            OperatorCommand.Row(table, "reserved", TonAmount.Format(ledger.Balance.Reserved) + " TON");
            OperatorCommand.Row(table, "charged", $"{TonAmount.Format(ledger.Balance.Charged)} TON ({ledger.ChargedTokens} tokens, {ledger.ChargedOnChainTokens} on chain)");
            OperatorCommand.Row(table, "status", ledger.Status == EscrowAccountStatus.Closing ? $"closing (refund at {ledger.CloseAt:u} at the earliest)" : ledger.Status.ToString().ToLowerInvariant());
            if (ledger.StakeNanoTon > 0)
            {
                OperatorCommand.Row(table, "stake", $"{TonAmount.Format(ledger.StakeNanoTon)} TON ({TonAmount.Format(ledger.UnchargedNanoTon)} TON not yet charged on chain)");
            }

            if (ledger.Balance.Refunded > 0)
            {
                OperatorCommand.Row(table, "refunded", TonAmount.Format(ledger.Balance.Refunded) + " TON");
            }

            OperatorCommand.Row(table, "client contract", channel?.ContractAddress ?? "(none linked)");
            OperatorCommand.Row(table, "balance (on chain)", onChainBalance is { } b ? TonAmount.Format(b) + " TON" : "unknown");
            OperatorCommand.Write(table);
            return 0;
        });
        return command;
    }

    /// <summary><c>close</c>, for the <c>accounts</c> command.</summary>
    public static Command CreateClose()
    {
        var account = new Option<string?>("--account") { Description = "The escrow account (default: the devnet's)." };
        var json = OperatorCommand.JsonOption();
        var command = new Command("close",
            "Close an escrow account: new requests are refused at once, running ones finish, and after the close delay the balance is refunded " +
            "(on chain by the client contract's signed refund).") { account, json };
        OperatorCommand.SetClusterAction(command, "accounts close", async (parse, client, cancellationToken) =>
        {
            var chain = DevnetChain.TryRead(parse.GetValue<string>("--data-dir")!);
            var accountId = parse.GetValue(account) ?? chain?.AccountId ?? throw new CliUsageException("--account is required outside a devnet.");
            var ledger = await client.Grains.GetGrain<IEscrowAdminGrain>(accountId).CloseAsync().WaitAsync(cancellationToken);
            var status = ledger.Status.ToString().ToLowerInvariant();
            if (parse.GetValue(json))
            {
                OperatorCommand.WriteJson(new
                {
                    account = accountId,
                    status,
                    closeAt = ledger.CloseAt,
                    balanceNanoTon = ledger.Balance.Balance,
                    reservedNanoTon = ledger.Balance.Reserved,
                    refundedNanoTon = ledger.Balance.Refunded,
                });
            }
            else
            {
                Console.WriteLine(ledger.Status == EscrowAccountStatus.Closing
                    ? $"'{accountId}' is closing: new requests are refused; {TonAmount.Format(ledger.Balance.Balance)} TON is refunded at {ledger.CloseAt:u} at the earliest."
                    : $"'{accountId}' is {status}; {TonAmount.Format(ledger.Balance.Refunded)} TON was refunded.");
            }

            return 0;
        });
        return command;
    }

    private static async Task<Ton.Addresses.StateInit> ContractInitAsync(ISettlementGrain settlement, string accountId, Ed25519KeyPair key, EscrowLedger ledger, CancellationToken cancellationToken)
    {
        // The contract's address is the hash of its code and data; the settlement grain computed it from the same
        // inputs (owner, proxy wallet, proxy key, price, stake, delay), which the status and the linked escrow expose.
        var status = await settlement.GetStatusAsync().WaitAsync(cancellationToken);
        var proxyWallet = TonAddress.Parse(status.ProxyWallet);
        var proxyKey = Convert.FromHexString(status.ProxyPublicKey);
        var contract = new ClientContract(new ClientContractConfig(new WalletV5R1(key.PublicKey).Address, proxyWallet, proxyKey,
            status.PricePerToken,
            ledger.StakeNanoTon > 0 ? (uint)ledger.CloseDelay.TotalSeconds : Grains.Ledger.ProxyChain.ClientDelayBeforeClose,
            ledger.StakeNanoTon > 0 ? ledger.StakeNanoTon : Grains.Ledger.ProxyChain.ClientStake));
        var channel = status.Clients.First(c => c.AccountId == accountId);
        if (!contract.Address.Equals(TonAddress.Parse(channel.ContractAddress)))
        {
            throw new CliException($"the client contract of '{accountId}' is {channel.ContractAddress}, not {contract.Address.ToFriendlyString()}: the devnet's client key does not own it.");
        }

        return contract.StateInit;
    }

    private static async Task SendAsync(ToncenterClient ton, Ed25519KeyPair key, IReadOnlyList<WalletMessage> messages, CancellationToken cancellationToken)
    {
        var wallet = new WalletV5R1(key.PublicKey);
        var info = await ton.GetWalletInformationAsync(wallet.Address, cancellationToken);
        var now = (await ton.GetAddressInformationAsync(wallet.Address, cancellationToken)).SyncUtime;
        var seqno = (uint)(info.Seqno ?? 0);
        await ton.SendBocAsync(wallet.CreateTransfer(key, seqno, (uint)(now + 120), messages).ToBoc(), cancellationToken);
    }
}

/// <summary>The <c>chain</c> part of a devnet's <c>devnet.json</c>.</summary>
internal sealed record DevnetChain(string Endpoint, string Root, string ProxyWallet, string ClientWallet, string ClientKeyFile, string AccountId)
{
    public static DevnetChain Read(string dataDir) => TryRead(dataDir)
        ?? throw new CliException($"the devnet at {dataDir} runs without a chain (started with --no-chain, or not running): nothing to top up.");

    public static DevnetChain? TryRead(string dataDir)
    {
        var file = Path.Combine(Path.GetFullPath(dataDir), "devnet.json");
        if (!File.Exists(file))
        {
            return null;
        }

        using var json = JsonDocument.Parse(File.ReadAllText(file));
        if (!json.RootElement.TryGetProperty("chain", out var c) || c.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        string Text(string name) => c.TryGetProperty(name, out var v) && v.GetString() is { } s ? s : throw new CliException($"{file}: chain.{name} is missing.");
        return new DevnetChain(Text("endpoint"), Text("root"), Text("proxyWallet"), Text("clientWallet"), Text("clientKeyFile"), Text("account"));
    }
}
