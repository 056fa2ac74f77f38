using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Settlement;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Settlement;

namespace Cocoon.Settlement.Tests;

/// <summary>
/// Issue 5 "what must be shown", on the real chain, database, model and gateway: a deposit credited once, paid
/// requests, the charge and the worker payout on chain with balances equal to the ledger to the nanoTON, forged and
/// replayed charges refused by the contract without moving the ledger, and settlement catching up after the chain
/// endpoint was down, with no double charge or payout.
/// </summary>
public sealed class SettlementEndToEndTests(SettlementCluster cluster)
{
    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(60);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Deposit_requests_charge_and_payout_reach_the_chain_and_match_the_ledger_to_the_nanoton()
    {
        var (accountId, apiKey) = await cluster.NewAccountAsync("e2e");
        var client = await cluster.NewWalletAsync(20_000_000_000);
        var channel = await cluster.Settlement.RegisterClientAsync(accountId, client.Address.ToFriendlyString());
        var contract = TonAddress.Parse(channel.ContractAddress);
        var escrowContract = cluster.ClientContractOf(client.Address);
        Assert.Equal(escrowContract.Address, contract);

        // Deposit: the client deploys its escrow with a 5 TON top-up; the watcher credits value - 0.01 TON, once.
        await client.SendAsync([escrowContract.DeployMessage(5_000_000_000)]);
        await cluster.Settlement.SettleNowAsync(SettleTimeout);
        await cluster.Settlement.SettleNowAsync(SettleTimeout);
        var deposited = 5_000_000_000 - (long)ClientContract.TopUpFee;
        Assert.Equal(new EscrowBalance(deposited, 0, 0, deposited), await cluster.Escrow(accountId).GetBalanceAsync());

        // Paid requests through the gateway, on the real model.
        string? workerId = null;
        for (var i = 0; i < 5; i++)
        {
            var answer = await cluster.EmbedAsync(apiKey, $"settlement request {i}", "a second input to embed");
            Assert.Equal(384, answer["data"]![0]!["embedding"]!.AsArray().Count);
            workerId = answer["cocoon"]!["worker"]!.GetValue<string>();
        }

        var ledger = await cluster.Escrow(accountId).GetLedgerAsync();
        Assert.True(ledger.ChargedTokens > 0);
        Assert.Equal(ledger.ChargedTokens * SettlementCluster.PricePerToken, ledger.Balance.Charged);

        // The worker is paid to an address of its owner's.
        using var ownerKey = Ed25519KeyPair.Generate();
        var owner = new Cocoon.Ton.Wallets.WalletV5R1(ownerKey.PublicKey).Address;
        var workerChannel = await cluster.Settlement.RegisterWorkerAsync(workerId!, owner.ToFriendlyString());
        var workerContract = TonAddress.Parse(workerChannel.ContractAddress);

        var status = await cluster.Settlement.SettleNowAsync(SettleTimeout);

        // Charge on chain: the contract's counter is the ledger's, and its balance is the ledger's balance, exactly.
        ledger = await cluster.Escrow(accountId).GetLedgerAsync();
        var onChain = await ClientContract.GetInfoAsync(cluster.Ton, contract, Ct);
        Assert.Equal((ulong)ledger.ChargedTokens, onChain.TokensCharged);
        Assert.Equal(ledger.ChargedTokens, ledger.ChargedOnChainTokens);
        Assert.Equal(ledger.Balance.Balance, (long)onChain.Balance);
        Assert.Equal(deposited - ledger.Balance.Charged, (long)onChain.Balance);

        // Payout on chain: the worker contract paid every earned token, and the owner received exactly the earnings;
        // its balance is that minus the fees of the transactions that brought it.
        var earnings = await cluster.Earnings(workerId!).GetAsync();
        Assert.True(earnings.EarnedTokens >= ledger.ChargedTokens); // this account's tokens, and other tests' on the same worker
        Assert.Equal(earnings.EarnedTokens, earnings.PaidTokens);
        Assert.Equal((ulong)earnings.EarnedTokens, await WorkerContract.GetTokensPaidAsync(cluster.Ton, workerContract, Ct));
        var ownerTxs = await cluster.Ton.GetTransactionsAsync(owner, 20, cancellationToken: Ct);
        var received = ownerTxs.Where(t => t.InMessage is { } m && TonAddress.Parse(m.Source).Equals(workerContract)).Sum(t => (long)t.InMessage!.Value);
        var fees = ownerTxs.Sum(t => (long)t.Fee);
        Assert.Equal(earnings.EarnedNanoTon, received);
        Assert.Equal(earnings.EarnedNanoTon - fees, (long)await cluster.BalanceAsync(owner));

        // The proxy committed its state to the root.
        Assert.True(status.CommittedSeqno > 0);
        Assert.Equal((ulong)status.CommittedSeqno, (await RootContract.GetProxyAsync(cluster.Ton, cluster.Chain.RootAddress, cluster.ProxyWallet.Address, Ct)).Seqno);

        // A second settle finds nothing to do and moves nothing.
        await cluster.Settlement.SettleNowAsync(SettleTimeout);
        Assert.Equal(onChain, await ClientContract.GetInfoAsync(cluster.Ton, contract, Ct));
        Assert.Equal(earnings, await cluster.Earnings(workerId!).GetAsync());
    }

    [Fact]
    public async Task Forged_replayed_and_reordered_charges_are_refused_by_the_contract_and_the_ledger_does_not_move()
    {
        var (accountId, apiKey) = await cluster.NewAccountAsync("forge");
        var client = await cluster.NewWalletAsync(20_000_000_000);
        var channel = await cluster.Settlement.RegisterClientAsync(accountId, client.Address.ToFriendlyString());
        var contract = cluster.ClientContractOf(client.Address);
        await client.SendAsync([contract.DeployMessage(3_000_000_000)]);
        await cluster.Settlement.SettleNowAsync(SettleTimeout); // credits the deposit
        await cluster.EmbedAsync(apiKey, "one paid request");
        await cluster.Settlement.SettleNowAsync(SettleTimeout);
        var before = await cluster.Escrow(accountId).GetLedgerAsync();
        var infoBefore = await ClientContract.GetInfoAsync(cluster.Ton, contract.Address, Ct);
        Assert.Equal((ulong)before.ChargedTokens, infoBefore.TokensCharged);

        // Forged: a charge for far more tokens, signed by a key that is not the proxy's.
        using var forgedSigner = new Ed25519SettlementSigner(Ed25519KeyPair.Generate());
        var forged = forgedSigner.Sign(contract.ChargePayload(900, infoBefore.TokensCharged + 1_000_000), client.Address);
        await client.SendAsync([contract.Message(ClientContract.SignedBody(forged), 50_000_000)]);
        Assert.Equal(ContractErrors.BadSignature, await LastExitCodeAsync(contract.Address));

        // Replayed: the proxy's own signature over the count already charged (what a resent charge carries).
        using var proxySigner = new Ed25519SettlementSigner(Ed25519KeyPair.FromSeed(cluster.ProxyKey.ExportSeed()));
        var replay = proxySigner.Sign(contract.ChargePayload(901, infoBefore.TokensCharged), client.Address);
        await client.SendAsync([contract.Message(ClientContract.SignedBody(replay), 50_000_000)]);
        Assert.Equal(ContractErrors.TokensNotIncreasing, await LastExitCodeAsync(contract.Address));

        // Reordered: an older charge (a smaller count, validly signed by the proxy) arriving after a newer one.
        Assert.True(infoBefore.TokensCharged > 1);
        var older = proxySigner.Sign(contract.ChargePayload(902, infoBefore.TokensCharged - 1), client.Address);
        await client.SendAsync([contract.Message(ClientContract.SignedBody(older), 50_000_000)]);
        Assert.Equal(ContractErrors.TokensNotIncreasing, await LastExitCodeAsync(contract.Address));

        await cluster.Settlement.SettleNowAsync(SettleTimeout);
        Assert.Equal(infoBefore, await ClientContract.GetInfoAsync(cluster.Ton, contract.Address, Ct));
        var after = await cluster.Escrow(accountId).GetLedgerAsync();
        Assert.Equal(before.Balance, after.Balance);
        Assert.Equal(before.ChargedTokens, after.ChargedTokens);
        Assert.Equal(before.ChargedOnChainTokens, after.ChargedOnChainTokens);
        Assert.Equal(channel.ContractAddress, contract.Address.ToFriendlyString());
    }

    [Fact]
    public async Task A_client_refund_request_on_chain_closes_the_account_and_the_contract_refunds_the_ledger_balance()
    {
        var (accountId, apiKey) = await cluster.NewAccountAsync("close");
        var client = await cluster.NewWalletAsync(20_000_000_000);
        await cluster.Settlement.RegisterClientAsync(accountId, client.Address.ToFriendlyString());
        var contract = cluster.ClientContractOf(client.Address);
        await client.SendAsync([contract.DeployMessage(2_000_000_000)]);
        await cluster.Settlement.SettleNowAsync(SettleTimeout);
        await cluster.EmbedAsync(apiKey, "a paid request before the close", "and a second input");

        // The client asks its contract for a refund (owner_client_request_refund); the watcher closes the account.
        var walletBefore = await cluster.BalanceAsync(client.Address);
        await client.SendAsync([ContractGetMethods.ToContract(contract.Address, 50_000_000, ClientContract.RequestRefundBody(7))]);
        await cluster.Settlement.SettleNowAsync(SettleTimeout);
        var closing = await cluster.Escrow(accountId).GetLedgerAsync();
        Assert.Equal(EscrowAccountStatus.Closing, closing.Status);
        var refused = await cluster.TryEmbedAsync(apiKey, "after the close request");
        Assert.Equal(409, refused.Status);
        Assert.Equal("account_closing", refused.Body["error"]!["code"]!.GetValue<string>());

        // After the close delay the reminder refunds the whole balance off chain...
        var deadline = DateTime.UtcNow.AddSeconds(60);
        EscrowLedger ledger;
        do
        {
            await Task.Delay(250, Ct);
            ledger = await cluster.Escrow(accountId).GetLedgerAsync();
        }
        while (ledger.Status != EscrowAccountStatus.Closed && DateTime.UtcNow < deadline);

        Assert.Equal(EscrowAccountStatus.Closed, ledger.Status);
        Assert.Equal(0, ledger.Balance.Balance);
        Assert.Equal(ledger.Balance.Deposited, ledger.Balance.Charged + ledger.Balance.Refunded);

        // ... and settlement answers with the contract's signed refund: the final charge, the rest to the client.
        await cluster.Settlement.SettleNowAsync(SettleTimeout);
        ledger = await cluster.Escrow(accountId).GetLedgerAsync();
        var onChain = await ClientContract.GetInfoAsync(cluster.Ton, contract.Address, Ct);
        Assert.True(ledger.RefundedOnChain);
        Assert.Equal(ClientEscrowState.Closed, onChain.State);
        Assert.Equal((ulong)ledger.ChargedTokens, onChain.TokensCharged);
        Assert.Equal(ledger.ChargedTokens, ledger.ChargedOnChainTokens);
        var txs = await cluster.Ton.GetTransactionsAsync(client.Address, 5, cancellationToken: Ct);
        var refund = txs.Where(t => t.InMessage is { Source.Length: > 0 } m && TonAddress.Parse(m.Source).Equals(contract.Address)).Sum(t => (long)t.InMessage!.Value);
        Assert.True(refund >= ledger.Balance.Refunded, $"the client got {refund} nanoTON back; the ledger refunded {ledger.Balance.Refunded}");
        Assert.True(await cluster.BalanceAsync(client.Address) > walletBefore);

        // Nothing more is sent: a second settle leaves the closed contract as it is.
        await cluster.Settlement.SettleNowAsync(SettleTimeout);
        Assert.Equal(onChain, await ClientContract.GetInfoAsync(cluster.Ton, contract.Address, Ct));
    }

    [Fact]
    public async Task The_registry_mirrors_the_root_parameters_and_allow_lists()
    {
        var registry = cluster.Node.Grains.GetGrain<IRegistryGrain>(cluster.Chain.RootAddress.ToFriendlyString());
        var onChain = await RootContract.GetParamsAsync(cluster.Ton, cluster.Chain.RootAddress, Ct);
        var model = RootContract.ModelHash("all-minilm-l6-v2@" + Guid.NewGuid().ToString("N"));

        var mirrored = await registry.RefreshAsync();
        var before = await registry.IsAllowedAsync(RegistryHashKind.Model, Convert.ToHexStringLower(model));
        await cluster.SendAsOwnerAsync([RootContract.Message(cluster.Chain.RootAddress, RootContract.AddModelHashBody(7, model), 50_000_000)]);

        await registry.RefreshAsync();
        var after = await registry.IsAllowedAsync(RegistryHashKind.Model, Convert.ToHexStringLower(model));

        Assert.Equal((long)onChain.ParamsVersion, mirrored.ParamsVersion);
        Assert.Equal((long)onChain.PricePerToken, mirrored.Prices.PricePerToken);
        Assert.Equal((long)onChain.WorkerFeePerToken, mirrored.Prices.WorkerFeePerToken);
        Assert.Equal(onChain.CompletionTokensPriceMultiplier, mirrored.Prices.CompletionMultiplier);
        Assert.Equal((long)onChain.MinClientStake, mirrored.MinClientStake);
        Assert.False(before);
        Assert.True(after);
    }

    private async Task<int> LastExitCodeAsync(TonAddress contract)
    {
        var newest = (await cluster.Ton.GetTransactionsAsync(contract, 1, cancellationToken: Ct))[0];
        return TransactionSummary.Parse(newest.Data!).ExitCode;
    }
}
