using System.Numerics;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Settlement;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;

namespace Cocoon.Ton.Tests.Localnet;

/// <summary>
/// The contract wrappers of Cocoon.Ton.Contracts against the real contracts on the local chain: addresses computed
/// in C# are where the contracts live, every message built here is accepted (or refused with the contract's own
/// exit code), and the get-method readers read what happened, to the nanoTON.
/// </summary>
public sealed class LocalnetContractTests(LocalnetFixture fixture) : IClassFixture<LocalnetFixture>
{
    private const long Ton = 1_000_000_000;
    private const long Gas = 50_000_000; // 0.05 TON sent along with signed and owner messages; what is left comes back

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ToncenterClient Client => fixture.Client;

    [Fact]
    public async Task Root_address_computed_in_CSharp_is_the_deployed_root_and_get_methods_read_owner_and_prices()
    {
        // The localnet deploys with params_version 0 in the data and a root_change_price that makes it 1.
        var expected = new RootContract(fixture.Chain.OwnerWallet, RootParams.FakeTonDefaults with { ParamsVersion = 0 });
        Assert.Equal(fixture.Chain.RootAddress, expected.Address);

        Assert.Equal(fixture.Chain.OwnerWallet, await RootContract.GetOwnerAsync(Client, fixture.Chain.RootAddress, Ct));
        // params_version is 1 after the deploy; the governance test of this class may have bumped it since.
        var prices = await RootContract.GetParamsAsync(Client, fixture.Chain.RootAddress, Ct);
        Assert.True(prices.ParamsVersion >= 1);
        Assert.Equal(RootParams.FakeTonDefaults, prices with { ParamsVersion = 1 });
        var info = await Client.GetAddressInformationAsync(fixture.Chain.RootAddress, Ct);
        Assert.Equal(ContractCode.Root, info.Code);
    }

    [Fact]
    public async Task Client_escrow_deploy_top_up_charge_replay_and_forgery()
    {
        var clientWallet = await fixture.NewWalletAsync(10);
        var proxyWallet = await fixture.NewWalletAsync(3);
        using var proxyKey = Ed25519KeyPair.Generate();
        using var signer = new Ed25519SettlementSigner(Ed25519KeyPair.FromSeed(proxyKey.ExportSeed()));
        var prices = await RootContract.GetParamsAsync(Client, fixture.Chain.RootAddress, Ct);
        var escrow = new ClientContract(new ClientContractConfig(clientWallet.Address, proxyWallet.Address, proxyKey.PublicKey,
            prices.PricePerToken, prices.ClientDelayBeforeClose, prices.MinClientStake));

        // Deploy with a first top-up of 3 TON: the contract lives at the address computed here, with the code and data built here.
        await clientWallet.SendAsync([escrow.DeployMessage(3 * Ton, queryId: 1)]);
        var account = await Client.GetAddressInformationAsync(escrow.Address, Ct);
        Assert.Equal("active", account.State);
        Assert.Equal(ContractCode.Client, account.Code);
        var (stored, storedConfig) = ClientContract.ParseData(account.Data!);
        Assert.Equal(escrow.Config.Owner, storedConfig.Owner);
        Assert.Equal(escrow.Config.Proxy, storedConfig.Proxy);
        Assert.Equal(proxyKey.PublicKey, storedConfig.ProxyPublicKey.ToArray());
        var balance = new BigInteger(3 * Ton) - ClientContract.TopUpFee;
        Assert.Equal(new ClientEscrowInfo(ClientEscrowState.Running, balance, Ton, 0, 0), stored);
        Assert.Equal(stored, await ClientContract.GetInfoAsync(Client, escrow.Address, Ct));

        await clientWallet.SendAsync([escrow.TopUpMessage(2 * Ton, queryId: 2)]);
        balance += 2 * Ton - ClientContract.TopUpFee;
        Assert.Equal(balance, await ClientContract.GetBalanceAsync(Client, escrow.Address, Ct));
        Assert.Equal(new BigInteger(Ton), await ClientContract.GetStakeAsync(Client, escrow.Address, Ct));

        // A proxy-signed charge up to 1000 tokens: price 2 -> 2000 nanoTON to the proxy.
        var charge = ClientContract.SignedBody(signer.Sign(escrow.ChargePayload(7, 1000), proxyWallet.Address));
        await proxyWallet.SendAsync([escrow.Message(charge, Gas)]);
        var accepted = await LastTransactionAsync(escrow.Address);
        Assert.True(accepted.Succeeded, $"charge: exit {accepted.ExitCode}");
        Assert.Equal(ClientContract.OpChargeSigned, accepted.InMessageOp);
        balance -= 2000;
        Assert.Equal(new ClientEscrowInfo(ClientEscrowState.Running, balance, Ton, 1000, 0), await ClientContract.GetInfoAsync(Client, escrow.Address, Ct));
        var paid = (await Client.GetTransactionsAsync(proxyWallet.Address, limit: 5, cancellationToken: Ct))
            .Where(t => t.InMessage is { } m && m.Source.Length > 0 && TonAddress.Parse(m.Source).Equals(escrow.Address))
            .Select(t => t.InMessage!.Value).ToList();
        Assert.Contains(new BigInteger(2000), paid);

        // The same signed charge again: refused with 405, nothing moves.
        await proxyWallet.SendAsync([escrow.Message(charge, Gas)]);
        var replay = await LastTransactionAsync(escrow.Address);
        Assert.False(replay.Succeeded);
        Assert.Equal(ContractErrors.TokensNotIncreasing, replay.ExitCode);
        Assert.Equal(new ClientEscrowInfo(ClientEscrowState.Running, balance, Ton, 1000, 0), await ClientContract.GetInfoAsync(Client, escrow.Address, Ct));

        // A charge signed by another key: refused with 402, nothing moves.
        using var forger = new Ed25519SettlementSigner(Ed25519KeyPair.Generate());
        var forged = ClientContract.SignedBody(forger.Sign(escrow.ChargePayload(8, 5000), proxyWallet.Address));
        await proxyWallet.SendAsync([escrow.Message(forged, Gas)]);
        var refused = await LastTransactionAsync(escrow.Address);
        Assert.Equal(ContractErrors.BadSignature, refused.ExitCode);
        Assert.Equal(new ClientEscrowInfo(ClientEscrowState.Running, balance, Ton, 1000, 0), await ClientContract.GetInfoAsync(Client, escrow.Address, Ct));

        // A charge signed for another escrow: 403.
        var elsewhere = ClientContract.SignedBody(signer.Sign(new SettlementPayload(SettlementOp.ClientCharge, 9, 9000, proxyWallet.Address), proxyWallet.Address));
        await proxyWallet.SendAsync([escrow.Message(elsewhere, Gas)]);
        Assert.Equal(ContractErrors.WrongTarget, (await LastTransactionAsync(escrow.Address)).ExitCode);
        Assert.Equal(1000UL, await ClientContract.GetTokensChargedAsync(Client, escrow.Address, Ct));
    }

    [Fact]
    public async Task Client_escrow_withdraw_above_stake_and_close_after_the_delay()
    {
        var clientWallet = await fixture.NewWalletAsync(10);
        using var proxyKey = Ed25519KeyPair.Generate();
        var escrow = new ClientContract(new ClientContractConfig(clientWallet.Address, fixture.Chain.FaucetAddress, proxyKey.PublicKey, 2, 300, Ton));
        await clientWallet.SendAsync([escrow.DeployMessage(4 * Ton)]);
        var balance = new BigInteger(4 * Ton) - ClientContract.TopUpFee;

        // Withdrawing into the stake is refused (406); above it is paid.
        await clientWallet.SendAsync([escrow.Message(ClientContract.WithdrawBody(1, balance - Ton + 1), Gas)]);
        Assert.Equal(ContractErrors.NotEnoughFunds, (await LastTransactionAsync(escrow.Address)).ExitCode);
        await clientWallet.SendAsync([escrow.Message(ClientContract.WithdrawBody(2, Ton), Gas)]);
        Assert.True((await LastTransactionAsync(escrow.Address)).Succeeded);
        balance -= Ton;
        Assert.Equal(balance, await ClientContract.GetBalanceAsync(Client, escrow.Address, Ct));

        // Request a refund: closing, unlock 300 s later; asking again before that is refused (408).
        await clientWallet.SendAsync([escrow.Message(ClientContract.RequestRefundBody(3), Gas)]);
        var closing = await ClientContract.GetInfoAsync(Client, escrow.Address, Ct);
        Assert.Equal(ClientEscrowState.Closing, closing.State);
        Assert.Equal((await LastTransactionAsync(escrow.Address)).Now + 300, closing.UnlockTs);
        await clientWallet.SendAsync([escrow.Message(ClientContract.RequestRefundBody(4), Gas)]);
        Assert.Equal(ContractErrors.TooEarly, (await LastTransactionAsync(escrow.Address)).ExitCode);

        // After the delay (the localnet's clock moved on) the close pays everything to the owner.
        await fixture.Chain.AdvanceTimeAsync(TimeSpan.FromSeconds(301), Ct);
        await clientWallet.SendAsync([escrow.Message(ClientContract.RequestRefundBody(5), Gas)]);
        Assert.True((await LastTransactionAsync(escrow.Address)).Succeeded);
        Assert.Equal(ClientEscrowState.Closed, await ClientContract.GetStateAsync(Client, escrow.Address, Ct));
        Assert.Equal(BigInteger.Zero, await ClientContract.GetBalanceAsync(Client, escrow.Address, Ct));
        var refund = (await Client.GetTransactionsAsync(clientWallet.Address, limit: 1, cancellationToken: Ct))[0].InMessage!;
        Assert.Equal(escrow.Address, TonAddress.Parse(refund.Source));
        Assert.True(refund.Value > balance, $"the owner gets the balance and the gas reserve: {refund.Value} > {balance}");
    }

    [Fact]
    public async Task Worker_payout_accepted_replay_refused_and_owner_paid_exactly()
    {
        var proxyWallet = await fixture.NewWalletAsync(6);
        var workerWallet = await fixture.NewWalletAsync(1);
        using var proxyKey = Ed25519KeyPair.Generate();
        using var signer = new Ed25519SettlementSigner(Ed25519KeyPair.FromSeed(proxyKey.ExportSeed()));
        var prices = await RootContract.GetParamsAsync(Client, fixture.Chain.RootAddress, Ct);
        var worker = new WorkerContract(new WorkerContractConfig(workerWallet.Address, proxyWallet.Address, proxyKey.PublicKey, prices.WorkerFeePerToken));

        await proxyWallet.SendAsync([worker.DeployMessage(2 * Ton)]);
        var account = await Client.GetAddressInformationAsync(worker.Address, Ct);
        Assert.Equal(ContractCode.Worker, account.Code);
        var prefund = new BigInteger(2 * Ton) - WorkerContract.TopUpFee;
        Assert.Equal(new WorkerContractInfo(WorkerContractState.Running, 0, prefund, 1), WorkerContract.ParseData(account.Data!).Info);

        var payout = WorkerContract.SignedBody(signer.Sign(worker.PayoutPayload(11, 123_456), null));
        await proxyWallet.SendAsync([worker.Message(payout, Gas)]);
        Assert.True((await LastTransactionAsync(worker.Address)).Succeeded);
        prefund -= 123_456;
        Assert.Equal(new WorkerContractInfo(WorkerContractState.Running, 123_456, prefund, 1), await WorkerContract.GetInfoAsync(Client, worker.Address, Ct));
        var received = (await Client.GetTransactionsAsync(workerWallet.Address, limit: 1, cancellationToken: Ct))[0].InMessage!;
        Assert.Equal(worker.Address, TonAddress.Parse(received.Source));
        Assert.Equal(new BigInteger(123_456), received.Value);

        // Anyone may submit the signed payout, but only once.
        await workerWallet.SendAsync([worker.Message(payout, Gas)]);
        Assert.Equal(ContractErrors.TokensNotIncreasing, (await LastTransactionAsync(worker.Address)).ExitCode);
        Assert.Equal(123_456UL, await WorkerContract.GetTokensPaidAsync(Client, worker.Address, Ct));
        Assert.Equal(prefund, await WorkerContract.GetBalanceAsync(Client, worker.Address, Ct));
    }

    [Fact]
    public async Task Root_governance_by_the_owner_wallet_and_proxy_state_commits()
    {
        using var ownerKey = fixture.Chain.LoadOwnerKey();
        var owner = new TestWallet(fixture, ownerKey, new WalletV5R1(ownerKey.PublicKey));
        var root = fixture.Chain.RootAddress;
        var proxyWallet = await fixture.NewWalletAsync(2);
        using var proxyKey = Ed25519KeyPair.Generate();
        var model = RootContract.ModelHash("sentence-transformers/all-MiniLM-L6-v2");
        var image = Enumerable.Range(0, 32).Select(i => (byte)(i * 7)).ToArray();

        await owner.SendAsync([
            RootContract.Message(root, RootContract.AddModelHashBody(1, model), Gas),
            RootContract.Message(root, RootContract.AddWorkerTypeBody(2, image), Gas),
            RootContract.Message(root, RootContract.RegisterProxyBody(3, proxyWallet.Address, proxyKey.PublicKey), Gas),
        ]);
        Assert.True(await RootContract.HasModelHashAsync(Client, root, model, Ct));
        Assert.True(await RootContract.HasWorkerHashAsync(Client, root, image, Ct));
        Assert.False(await RootContract.HasProxyHashAsync(Client, root, image, Ct));
        Assert.Equal(new ProxyRegistration(true, proxyKey.PublicKey, 0, new byte[32]), await RootContract.GetProxyAsync(Client, root, proxyWallet.Address, Ct), ProxyComparer.Instance);

        // The registered proxy commits its state; the same seqno again is refused (409).
        var stateHash = System.Security.Cryptography.SHA256.HashData("ledger"u8);
        await proxyWallet.SendAsync([RootContract.Message(root, RootContract.ProxySaveStateBody(4, 1, stateHash), Gas)]);
        Assert.Equal(new ProxyRegistration(true, proxyKey.PublicKey, 1, stateHash), await RootContract.GetProxyAsync(Client, root, proxyWallet.Address, Ct), ProxyComparer.Instance);
        await proxyWallet.SendAsync([RootContract.Message(root, RootContract.ProxySaveStateBody(5, 1, new byte[32]), Gas)]);
        Assert.Equal(ContractErrors.SeqnoNotIncreasing, (await LastTransactionAsync(root)).ExitCode);

        // Someone else's governance message is refused (401); the owner's price change bumps params_version.
        await proxyWallet.SendAsync([RootContract.Message(root, RootContract.AddModelHashBody(6, new byte[32]), Gas)]);
        Assert.Equal(ContractErrors.WrongSender, (await LastTransactionAsync(root)).ExitCode);
        var before = await RootContract.GetParamsAsync(Client, root, Ct);
        var changed = before with { PricePerToken = 20, WorkerFeePerToken = 19 };
        await owner.SendAsync([RootContract.Message(root, RootContract.ChangeParamsBody(7, changed), Gas)]);
        Assert.Equal(changed with { ParamsVersion = before.ParamsVersion + 1 }, await RootContract.GetParamsAsync(Client, root, Ct));

        // Undo, so other tests of this class keep reading the default prices.
        await owner.SendAsync([RootContract.Message(root, RootContract.ChangeParamsBody(8, before), Gas)]);
        Assert.Equal(before.PricePerToken, (await RootContract.GetParamsAsync(Client, root, Ct)).PricePerToken);
    }

    [Fact]
    public async Task Get_method_on_an_undeployed_contract_is_a_clear_error()
    {
        using var key = Ed25519KeyPair.Generate();
        var escrow = new ClientContract(new ClientContractConfig(fixture.Chain.OwnerWallet, fixture.Chain.FaucetAddress, key.PublicKey, 2, 300, Ton));
        var e = await Assert.ThrowsAsync<ContractGetMethodException>(() => ClientContract.GetInfoAsync(Client, escrow.Address, Ct));
        Assert.Equal(-13, e.ExitCode);
        Assert.Contains("not deployed", e.Message, StringComparison.Ordinal);
    }

    private async Task<TransactionSummary> LastTransactionAsync(TonAddress address)
    {
        var tx = (await Client.GetTransactionsAsync(address, limit: 1, cancellationToken: Ct))[0];
        var summary = TransactionSummary.Parse(tx.Data!);
        Assert.Equal(tx.Id.Lt, summary.Lt);
        Assert.Equal(address.Hash.ToArray(), summary.AccountHash);
        return summary;
    }

    private sealed class ProxyComparer : IEqualityComparer<ProxyRegistration>
    {
        public static readonly ProxyComparer Instance = new();

        public bool Equals(ProxyRegistration? x, ProxyRegistration? y) =>
            x is not null && y is not null && x.Registered == y.Registered && x.Seqno == y.Seqno
            && x.PublicKey.AsSpan().SequenceEqual(y.PublicKey) && x.StateHash.AsSpan().SequenceEqual(y.StateHash);

        public int GetHashCode(ProxyRegistration obj) => obj.Seqno.GetHashCode();
    }
}
