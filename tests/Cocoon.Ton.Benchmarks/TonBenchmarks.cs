using BenchmarkDotNet.Attributes;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Boc;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Wallets;

namespace Cocoon.Ton.Benchmarks;

/// <summary>
/// Cell hashing, BoC parse and serialize, and transfer signing, with bare NSec Ed25519 signing as the floor.
/// The same cases, on the same inputs, are timed for @ton/core by tests/ton-oracle/bench.js.
/// </summary>
[MemoryDiagnoser]
public class TonBenchmarks : IDisposable
{
    private readonly byte[] _data = Enumerable.Repeat((byte)0x5a, 127).ToArray();
    private readonly Cell[] _children = Enumerable.Range(0, 4).Select(i => new CellBuilder().StoreUInt((ulong)i, 8).EndCell()).ToArray();
    private readonly byte[] _hash32 = Enumerable.Repeat((byte)1, 32).ToArray();
    private readonly TonAddress _to = TonAddress.Parse("EQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4wJB");
    private byte[] _walletBoc = [];
    private byte[] _largeBoc = [];
    private Cell _large = Cell.Empty;
    private Cell _walletCode = Cell.Empty;
    private Ed25519KeyPair? _key;
    private WalletV4R2? _wallet;

    [GlobalSetup]
    public void Setup()
    {
        _walletCode = WalletCode.V4R2;
        _walletBoc = BagOfCells.Serialize(_walletCode);
        _largeBoc = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Inputs", "large.boc"));
        _large = BagOfCells.ParseSingle(_largeBoc);
        _key = Ed25519KeyPair.FromSeed(Enumerable.Repeat((byte)7, 32).ToArray());
        _wallet = new WalletV4R2(_key.PublicKey);
    }

    [Benchmark]
    public Cell CellBuildAndHash()
    {
        // 1023 bits and 4 references; the representation hash is computed when the cell is made.
        var b = new CellBuilder().StoreBytes(_data).StoreUInt(5, 7);
        foreach (var c in _children)
        {
            b.StoreRef(c);
        }

        return b.EndCell();
    }

    [Benchmark]
    public IReadOnlyList<Cell> ParseWalletCode() => BagOfCells.Parse(_walletBoc);

    [Benchmark]
    public IReadOnlyList<Cell> ParseLarge() => BagOfCells.Parse(_largeBoc);

    [Benchmark]
    public byte[] SerializeWalletCode() => BagOfCells.Serialize(_walletCode);

    [Benchmark]
    public byte[] SerializeLarge() => BagOfCells.Serialize(_large);

    [Benchmark]
    public Cell SignV4Transfer() =>
        _wallet!.CreateTransferBody(_key!, 1, 1_800_000_000, [new WalletMessage(new InternalMessage(_to, 1_000_000_000, false, InternalMessage.TextComment("hello")), SendMode.PayGasSeparately)]);

    [Benchmark(Baseline = true)]
    public byte[] BareEd25519Sign() => _key!.Sign(_hash32);

    public void Dispose()
    {
        _key?.Dispose();
        GC.SuppressFinalize(this);
    }
}
