using System.Numerics;
using System.Text.Json;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Settlement;

namespace Cocoon.Ton.Tests.Localnet;

/// <summary>The contract wrappers without a chain: embedded code, data layouts both ways, refusals of wrong input.</summary>
public sealed class ContractWrapperTests
{
    private static readonly TonAddress Owner = new(0, Enumerable.Repeat((byte)0x11, 32).ToArray());
    private static readonly TonAddress Proxy = new(0, Enumerable.Repeat((byte)0x22, 32).ToArray());
    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    [Theory]
    [InlineData("root")]
    [InlineData("client")]
    [InlineData("worker")]
    public void Embedded_code_is_the_committed_build(string name)
    {
        var file = Path.Combine(RepoRoot(), "src", "Cocoon.Contracts", "build", name + ".json");
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        var code = name switch { "root" => ContractCode.Root, "client" => ContractCode.Client, _ => ContractCode.Worker };
        Assert.Equal(doc.RootElement.GetProperty("codeHashHex").GetString(), Convert.ToHexString(code.Hash()));
    }

    [Fact]
    public void Client_data_round_trips_and_the_address_is_the_state_init_hash()
    {
        var config = new ClientContractConfig(Owner, Proxy, Key, 2, 300, 1_000_000_000);
        var escrow = new ClientContract(config);
        var (info, parsed) = ClientContract.ParseData(escrow.StateInit.Data!);
        Assert.Equal(new ClientEscrowInfo(ClientEscrowState.Running, 0, 1_000_000_000, 0, 0), info);
        Assert.Equal((Owner, Proxy, 2, 300u), (parsed.Owner, parsed.Proxy, (int)parsed.PricePerToken, parsed.ClientDelayBeforeClose));
        Assert.Equal(Key, parsed.ProxyPublicKey.ToArray());
        Assert.Equal(TonAddress.FromStateInit(0, escrow.StateInit), escrow.Address);
        Assert.NotEqual(escrow.Address, new ClientContract(config with { PricePerToken = 3 }).Address);
    }

    [Fact]
    public void Worker_data_round_trips()
    {
        var worker = new WorkerContract(new WorkerContractConfig(Owner, Proxy, Key, 19));
        var (info, parsed) = WorkerContract.ParseData(worker.StateInit.Data!);
        Assert.Equal(new WorkerContractInfo(WorkerContractState.Running, 0, 0, 19), info);
        Assert.Equal(Owner, parsed.Owner);
        Assert.Equal(Proxy, parsed.Proxy);
    }

    [Fact]
    public void Root_params_round_trip_and_leftovers_are_refused()
    {
        var p = RootParams.FakeTonDefaults with { PricePerToken = 20, MinClientStake = BigInteger.Pow(10, 12) };
        Assert.Equal(p, RootParams.Parse(p.ToCell()));
        var longer = new CellBuilder().StoreCellContents(p.ToCell()).StoreBit(true).EndCell();
        Assert.Throws<FormatException>(() => RootParams.Parse(longer));
    }

    [Fact]
    public void Data_of_another_contract_is_refused_with_FormatException()
    {
        var worker = new WorkerContract(new WorkerContractConfig(Owner, Proxy, Key, 19));
        Assert.Throws<FormatException>(() => ClientContract.ParseData(worker.StateInit.Data!));
        Assert.Throws<FormatException>(() => WorkerContract.ParseData(Cell.Empty));
    }

    [Fact]
    public void Signed_bodies_refuse_a_settlement_for_the_other_contract_kind()
    {
        using var signer = new Ed25519SettlementSigner(Ed25519KeyPair.Generate());
        var escrow = new ClientContract(new ClientContractConfig(Owner, Proxy, signer.PublicKey.ToArray(), 2, 300, 0));
        var worker = new WorkerContract(new WorkerContractConfig(Owner, Proxy, signer.PublicKey.ToArray(), 1));
        var charge = signer.Sign(escrow.ChargePayload(1, 10), null);
        var payout = signer.Sign(worker.PayoutPayload(1, 10), null);

        Assert.Equal(charge.ToCell(), ClientContract.SignedBody(charge));
        Assert.Equal(payout.ToCell(), WorkerContract.SignedBody(payout));
        Assert.Throws<ArgumentException>(() => ClientContract.SignedBody(payout));
        Assert.Throws<ArgumentException>(() => WorkerContract.SignedBody(charge));
        Assert.Equal(SettlementCheck.Valid, SettlementVerifier.Verify(charge.ToCell(), signer.PublicKey.Span, escrow.Address, SettlementOp.ClientCharge));
    }

    [Fact]
    public void Bodies_have_the_documented_layouts()
    {
        var s = ClientContract.WithdrawBody(5, 1234).BeginParse();
        Assert.Equal((ClientContract.OpWithdraw, 5UL, new BigInteger(1234)), ((uint)s.LoadUInt(32), s.LoadUInt(64), s.LoadCoins()));
        s.EndParse();
        var hash = RootContract.ModelHash("m");
        s = RootContract.ProxySaveStateBody(9, 3, hash).BeginParse();
        Assert.Equal((RootContract.OpProxySaveState, 9UL, 3UL), ((uint)s.LoadUInt(32), s.LoadUInt(64), s.LoadUInt(64)));
        Assert.Equal(hash, s.LoadBytes(32));
        s.EndParse();
        Assert.Throws<ArgumentException>(() => RootContract.AddModelHashBody(1, new byte[31]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClientContract.WithdrawBody(1, -1));
    }

    [Fact]
    public void TransactionSummary_refuses_a_cell_that_is_not_a_transaction()
    {
        Assert.Throws<FormatException>(() => TransactionSummary.Parse(Cell.Empty));
        Assert.Throws<FormatException>(() => TransactionSummary.Parse(new CellBuilder().StoreUInt(0b0111, 4).StoreUInt(1, 64).EndCell()));
    }

    [Fact]
    public void UInt256_conversions_round_trip()
    {
        var bytes = Enumerable.Range(0, 32).Select(i => (byte)(255 - i)).ToArray();
        Assert.Equal(bytes, ContractGetMethods.ToBytes256(ContractGetMethods.UInt256(bytes, "b")));
        Assert.Equal(new byte[32], ContractGetMethods.ToBytes256(BigInteger.Zero));
        Assert.Throws<FormatException>(() => ContractGetMethods.ToBytes256(BigInteger.One << 256));
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "src", "Cocoon.Contracts", "build", "root.json")))
            {
                return d.FullName;
            }
        }

        // Built outside the repository (e.g. --artifacts-path): the localnet folder variable points into it.
        var localnet = Environment.GetEnvironmentVariable("COCOON_TON_LOCALNET_DIR");
        return localnet is null ? throw new InvalidOperationException("cannot find the repository root") : Path.GetFullPath(Path.Combine(localnet, "..", ".."));
    }
}
