using System.Numerics;
using Cocoon.Node.Chain;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Settlement;
using Cocoon.Ton.Wallets;

namespace Cocoon.Ton.Tests.Localnet;

/// <summary>A localnet stopped and started again on the same state file keeps its accounts, contracts (an escrow's charged tokens), transactions and clock.</summary>
public sealed class LocalnetRestartTests(LocalnetFixture fixture) : IClassFixture<LocalnetFixture>
{
    private const long Ton = 1_000_000_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Restart_on_the_same_state_file_keeps_balances_contracts_transactions_and_time()
    {
        var w = await fixture.NewWalletAsync(4);
        using var otherKey = Ed25519KeyPair.Generate();
        var recipient = new WalletV5R1(otherKey.PublicKey).Address;
        await w.SendAsync([new WalletMessage(new InternalMessage(recipient, 2 * Ton, Bounce: false), SendMode.PayGasSeparately)]);
        using var proxyKey = Ed25519KeyPair.Generate();
        var escrow = new ClientContract(new ClientContractConfig(w.Address, fixture.Chain.FaucetAddress, proxyKey.PublicKey, 2, 300, Ton));
        using (var signer = new Ed25519SettlementSigner(Ed25519KeyPair.FromSeed(proxyKey.ExportSeed())))
        {
            await w.SendAsync([escrow.DeployMessage(Ton)]);
            await w.SendAsync([escrow.Message(ClientContract.SignedBody(signer.Sign(escrow.ChargePayload(1, 100), null)), 50_000_000)]);
        }

        var escrowBefore = await ClientContract.GetInfoAsync(fixture.Client, escrow.Address, Ct);
        Assert.Equal(100UL, escrowBefore.TokensCharged);
        var advanced = await fixture.Chain.AdvanceTimeAsync(TimeSpan.FromHours(1), Ct);

        var walletBefore = await fixture.Client.GetWalletInformationAsync(w.Address, Ct);
        var txsBefore = await fixture.Client.GetTransactionsAsync(w.Address, limit: 10, cancellationToken: Ct);
        var rootBefore = await fixture.Client.RunGetMethodAsync(fixture.Chain.RootAddress, "get_params", cancellationToken: Ct);
        var oldRoot = fixture.Chain.RootAddress;
        var oldEndpoint = fixture.Chain.Endpoint;

        await fixture.Chain.StopAsync();
        Assert.False(fixture.Chain.IsRunning);
        await using var again = await LocalnetFixture.StartAsync(fixture.DataDirectory);
        var client = fixture.NewClient(again);

        Assert.True(again.Restored);
        Assert.Equal(oldRoot, again.RootAddress);
        var walletAfter = await client.GetWalletInformationAsync(w.Address, Ct);
        Assert.Equal(walletBefore.Balance, walletAfter.Balance);
        Assert.Equal(walletBefore.Seqno, walletAfter.Seqno);
        Assert.Equal(walletBefore.LastTransaction!.Lt, walletAfter.LastTransaction!.Lt);
        Assert.Equal(new BigInteger(2 * Ton), (await client.GetAddressInformationAsync(recipient, Ct)).Balance);
        var txsAfter = await client.GetTransactionsAsync(w.Address, limit: 10, cancellationToken: Ct);
        Assert.Equal(txsBefore.Select(t => (t.Id.Lt, Convert.ToBase64String(t.Id.Hash))), txsAfter.Select(t => (t.Id.Lt, Convert.ToBase64String(t.Id.Hash))));
        Assert.Equal(escrowBefore, await ClientContract.GetInfoAsync(client, escrow.Address, Ct));
        var rootAfter = await client.RunGetMethodAsync(again.RootAddress, "get_params", cancellationToken: Ct);
        Assert.Equal(rootBefore.Stack.Select(e => e.Number), rootAfter.Stack.Select(e => e.Number));

        // The chain's clock kept the hour it was advanced by.
        Assert.True((await client.GetAddressInformationAsync(w.Address, Ct)).SyncUtime >= advanced.ToUnixTimeSeconds());

        // And it still works: the wallet sends again with the next seqno, the new transaction is listed.
        var info = await client.GetAddressInformationAsync(w.Address, Ct);
        var transfer = w.Wallet.CreateTransfer(w.Key, (uint)walletAfter.Seqno!.Value, (uint)(info.SyncUtime + 300), []);
        await client.SendBocAsync(transfer.ToBoc(), Ct);
        Assert.Equal(walletAfter.Seqno + 1, (await client.GetWalletInformationAsync(w.Address, Ct)).Seqno);
        Assert.Equal(txsAfter.Count + 1, (await client.GetTransactionsAsync(w.Address, limit: 20, cancellationToken: Ct)).Count);
        Assert.NotEqual(oldEndpoint, again.Endpoint); // port 0: a fresh free port each start
    }

    [Fact]
    public async Task A_second_localnet_on_the_same_folder_is_refused_while_the_first_runs()
    {
        var dir = Path.Combine(Path.GetTempPath(), "cocoon-localnet-twice-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            await using var first = await LocalnetFixture.StartAsync(dir);
            var e = await Assert.ThrowsAsync<TonLocalnetException>(() => LocalnetFixture.StartAsync(dir));
            Assert.Contains("is in use by another localnet", e.Message, StringComparison.Ordinal);
            Assert.True(first.IsRunning);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_state_file_of_another_format_is_refused_with_a_clear_error()
    {
        var dir = Path.Combine(Path.GetTempPath(), "cocoon-localnet-bad-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dir, "chain.json"), "{\"format\":\"something-else\"}", Ct);
            var e = await Assert.ThrowsAsync<TonLocalnetException>(() => LocalnetFixture.StartAsync(dir));
            Assert.Contains("is not a cocoon-ton-localnet/1 state file", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
