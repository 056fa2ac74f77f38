using System.Numerics;
using Cocoon.Ton.Boc;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;

namespace Cocoon.Ton.Tests.Localnet;

/// <summary>The C# toncenter client against the real local chain: faucet, wallets, transactions, errors.</summary>
public sealed class LocalnetToncenterTests(LocalnetFixture fixture) : IClassFixture<LocalnetFixture>
{
    private const long Ton = 1_000_000_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Faucet_funds_an_undeployed_wallet_and_the_transaction_is_listed()
    {
        using var key = Ed25519KeyPair.Generate();
        var wallet = new WalletV5R1(key.PublicKey);

        var sent = await fixture.Chain.FaucetAsync(wallet.Address, 3 * Ton, cancellationToken: Ct);

        var info = await fixture.Client.GetAddressInformationAsync(wallet.Address, cancellationToken: Ct);
        Assert.Equal(new BigInteger(3 * Ton), info.Balance);
        Assert.Equal("uninitialized", info.State);
        Assert.Equal(sent.TransactionLt, info.LastTransaction!.Lt);
        var txs = await fixture.Client.GetTransactionsAsync(wallet.Address, cancellationToken: Ct);
        var tx = Assert.Single(txs);
        Assert.Equal(sent.TransactionLt, tx.Id.Lt);
        Assert.Equal(sent.TransactionHash, tx.Id.Hash);
        Assert.Equal(tx.Data!.Hash().ToArray(), tx.Id.Hash);
        Assert.Equal(new BigInteger(3 * Ton), tx.InMessage!.Value);
        Assert.Equal(fixture.Chain.FaucetAddress, Addresses.TonAddress.Parse(tx.InMessage.Source));
        Assert.Equal(wallet.Address, Addresses.TonAddress.Parse(tx.InMessage.Destination));
        var wi = await fixture.Client.GetWalletInformationAsync(wallet.Address, cancellationToken: Ct);
        Assert.False(wi.IsWallet);
        Assert.Equal("uninitialized", wi.AccountState);
    }

    [Fact]
    public async Task Wallet_v5r1_transfer_through_sendBoc_deploys_the_wallet_and_moves_the_funds()
    {
        var sender = await fixture.NewWalletAsync(5);
        using var otherKey = Ed25519KeyPair.Generate();
        var recipient = new WalletV5R1(otherKey.PublicKey).Address;

        await sender.SendAsync([new WalletMessage(new InternalMessage(recipient, Ton + 234, Bounce: false, InternalMessage.TextComment("hello")), SendMode.PayGasSeparately)]);

        var wi = await fixture.Client.GetWalletInformationAsync(sender.Address, cancellationToken: Ct);
        Assert.True(wi.IsWallet);
        Assert.Equal("wallet v5 r1", wi.WalletType);
        Assert.Equal(2, wi.Seqno);
        Assert.Equal(sender.Wallet.WalletId, wi.WalletId);
        Assert.Equal(new BigInteger(Ton + 234), (await fixture.Client.GetAddressInformationAsync(recipient, cancellationToken: Ct)).Balance);
        var incoming = Assert.Single(await fixture.Client.GetTransactionsAsync(recipient, cancellationToken: Ct));
        Assert.Equal("hello", incoming.InMessage!.Comment);
        Assert.Equal(sender.Address, Addresses.TonAddress.Parse(incoming.InMessage.Source));

        // The sender's newest transaction is the external one that sent it, with the out message listed.
        var outgoing = (await fixture.Client.GetTransactionsAsync(sender.Address, limit: 1, cancellationToken: Ct))[0];
        Assert.Equal(string.Empty, outgoing.InMessage!.Source);
        var o = Assert.Single(outgoing.OutMessages);
        Assert.Equal(new BigInteger(Ton + 234), o.Value);
        Assert.Equal(recipient, Addresses.TonAddress.Parse(o.Destination));
    }

    [Fact]
    public async Task GetTransactions_pages_back_from_a_transaction_id()
    {
        var w = await fixture.NewWalletAsync(5);
        await w.SendAsync([]);
        await w.SendAsync([]);
        var all = await fixture.Client.GetTransactionsAsync(w.Address, limit: 10, cancellationToken: Ct);
        Assert.Equal(4, all.Count); // faucet, deploy, two more
        Assert.True(all.Zip(all.Skip(1)).All(p => p.First.Id.Lt > p.Second.Id.Lt));

        var page = await fixture.Client.GetTransactionsAsync(w.Address, limit: 2, from: all[1].Id, cancellationToken: Ct);
        Assert.Equal([all[1].Id.Lt, all[2].Id.Lt], page.Select(t => t.Id.Lt));
        var upTo = await fixture.Client.GetTransactionsAsync(w.Address, limit: 10, toLt: all[2].Id.Lt, cancellationToken: Ct);
        Assert.Equal([all[0].Id.Lt, all[1].Id.Lt], upTo.Select(t => t.Id.Lt));
    }

    [Fact]
    public async Task Malformed_sendBoc_gives_a_clear_error_and_changes_nothing()
    {
        var e = await Assert.ThrowsAsync<ToncenterException>(() => fixture.Client.SendBocAsync(new byte[] { 1, 2, 3, 4, 5 }, cancellationToken: Ct));
        Assert.Equal("sendBoc", e.Method);
        Assert.Contains("failed to parse external message", e.Message, StringComparison.Ordinal);

        // A well-formed BoC that is an internal message, not an external one, is refused too.
        var notExternal = new InternalMessage(fixture.Chain.RootAddress, 1, false).ToCell();
        var e2 = await Assert.ThrowsAsync<ToncenterException>(() => fixture.Client.SendBocAsync(BagOfCells.Serialize(notExternal), cancellationToken: Ct));
        Assert.Contains("not an inbound external message", e2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_external_the_wallet_refuses_is_an_error_and_leaves_seqno_and_balance_alone()
    {
        var w = await fixture.NewWalletAsync(3);
        var before = await fixture.Client.GetWalletInformationAsync(w.Address, cancellationToken: Ct);
        using var wrongKey = Ed25519KeyPair.Generate();
        var forged = w.Wallet.CreateTransfer(wrongKey, (uint)before.Seqno!.Value, uint.MaxValue,
            [new WalletMessage(new InternalMessage(fixture.Chain.FaucetAddress, Ton, false), SendMode.PayGasSeparately)]);

        var e = await Assert.ThrowsAsync<ToncenterException>(() => fixture.Client.SendBocAsync(forged.ToBoc(), cancellationToken: Ct));
        Assert.Contains("External message was not accepted", e.Message, StringComparison.Ordinal);

        var after = await fixture.Client.GetWalletInformationAsync(w.Address, cancellationToken: Ct);
        Assert.Equal(before.Seqno, after.Seqno);
        Assert.Equal(before.Balance, after.Balance);
        Assert.Equal(before.LastTransaction!.Lt, after.LastTransaction!.Lt);
    }

    [Fact]
    public async Task Owner_wallet_is_the_v5r1_wallet_of_the_owner_key_and_owns_the_root()
    {
        using var owner = fixture.Chain.LoadOwnerKey();
        Assert.Equal(fixture.Chain.OwnerPublicKey, owner.PublicKey);
        Assert.Equal(fixture.Chain.OwnerWallet, new WalletV5R1(owner.PublicKey).Address);

        var r = await fixture.Client.RunGetMethodAsync(fixture.Chain.RootAddress, "get_owner", cancellationToken: Ct);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(fixture.Chain.OwnerWallet, r.Stack[0].Cell!.BeginParse().LoadAddress());

        var root = await fixture.Client.GetAddressInformationAsync(fixture.Chain.RootAddress, cancellationToken: Ct);
        Assert.Equal("active", root.State);
        Assert.Equal(fixture.Chain.RootCodeHash, Convert.ToHexString(root.Code!.Hash()));
    }

    [Fact]
    public async Task An_endpoint_configured_as_the_full_jsonRPC_url_works_too()
    {
        using var http = new HttpClient();
        var client = new ToncenterClient(http, new ToncenterOptions { Endpoint = new Uri(fixture.Chain.Endpoint, "jsonRPC"), MaxRetries = 0 });
        var root = await client.GetAddressInformationAsync(fixture.Chain.RootAddress, Ct);
        Assert.Equal("active", root.State);
    }

    [Fact]
    public async Task Get_method_on_an_account_without_code_gives_exit_code_minus_13()
    {
        using var key = Ed25519KeyPair.Generate();
        var r = await fixture.Client.RunGetMethodAsync(new WalletV5R1(key.PublicKey).Address, "seqno", cancellationToken: Ct);
        Assert.Equal(-13, r.ExitCode);
        Assert.Empty(r.Stack);
    }

    [Fact]
    public async Task Faucet_refuses_bad_input()
    {
        using var key = Ed25519KeyPair.Generate();
        var address = new WalletV5R1(key.PublicKey).Address;
        var e = await Assert.ThrowsAsync<Cocoon.Node.Chain.TonLocalnetException>(() => fixture.Chain.FaucetAsync(address, 0, cancellationToken: Ct));
        Assert.Contains("amount must be between", e.Message, StringComparison.Ordinal);
        Assert.Equal(BigInteger.Zero, (await fixture.Client.GetAddressInformationAsync(address, cancellationToken: Ct)).Balance);
    }
}
