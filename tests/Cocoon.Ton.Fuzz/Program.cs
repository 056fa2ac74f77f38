using Cocoon.Ton.Boc;
using SharpFuzz;

namespace Cocoon.Ton.Fuzz;

/// <summary>
/// Fuzz target for <see cref="BagOfCells.Parse"/>. The contract under test: any input either parses or throws
/// <see cref="BocFormatException"/>; anything else (another exception, a hang, a crash) is a finding. Inputs that
/// parse must also survive a canonical re-serialization round trip with the same root hashes.
///
/// AFL:       afl-fuzz -i Corpus/boc -o findings -t 5000 -m none -- dotnet Cocoon.Ton.Fuzz.dll
/// libFuzzer: libfuzzer-dotnet --target_path=dotnet --target_arg=Cocoon.Ton.Fuzz.dll --libfuzzer Corpus/boc
/// (instrument Cocoon.Ton.dll with `sharpfuzz` from SharpFuzz.CommandLine 2.3.0 first). See README.md.
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--libfuzzer")
        {
            Fuzzer.LibFuzzer.Run(Check);
            return;
        }

        if (args.Length == 2 && args[0] == "--write-seeds")
        {
            WriteSeeds(args[1]);
            return;
        }

        if (args.Length > 0)
        {
            // Replay files (crash triage): run the same check on each.
            foreach (var path in args)
            {
                Check(File.ReadAllBytes(path));
            }

            return;
        }

        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            Check(buffer.ToArray());
        });
    }

    /// <summary>Writes a small seed corpus covering each BoC variant and cell kind.</summary>
    private static void WriteSeeds(string directory)
    {
        Directory.CreateDirectory(directory);
        var docs = Convert.FromHexString("b5ee9c7201010301000e000201c002010101ff0200060aaaaa");
        var root = BagOfCells.ParseSingle(docs);
        var leaf = new Cells.CellBuilder().StoreUInt(0xabc, 12).EndCell();
        var pruned = new Cells.CellBuilder().StoreUInt(1, 8).StoreUInt(1, 8).StoreBytes(leaf.Hash()).StoreUInt(0, 16).EndCell(exotic: true);
        var withPruned = new Cells.CellBuilder().StoreUInt(5, 3).StoreRef(pruned).StoreRef(leaf).EndCell();
        var proof = new Cells.CellBuilder().StoreUInt(3, 8).StoreBytes(withPruned.Hash(0)).StoreUInt((ulong)withPruned.Depth(0), 16).StoreRef(withPruned).EndCell(exotic: true);
        var update = new Cells.CellBuilder().StoreUInt(4, 8).StoreBytes(leaf.Hash(0)).StoreBytes(root.Hash(0)).StoreUInt(0, 16).StoreUInt((ulong)root.Depth(0), 16)
            .StoreRef(leaf).StoreRef(root).EndCell(exotic: true);
        var library = new Cells.CellBuilder().StoreUInt(2, 8).StoreBytes(root.Hash()).EndCell(exotic: true);
        var seeds = new Dictionary<string, byte[]>
        {
            ["docs-plain.boc"] = docs,
            ["docs-crc.boc"] = BagOfCells.Serialize(root, new BocOptions(false, true)),
            ["docs-idx.boc"] = BagOfCells.Serialize(root, new BocOptions(true, false)),
            ["docs-idx-crc.boc"] = BagOfCells.Serialize(root, new BocOptions(true, true)),
            ["pruned.boc"] = BagOfCells.Serialize(withPruned),
            ["merkle-proof.boc"] = BagOfCells.Serialize(proof),
            ["merkle-update.boc"] = BagOfCells.Serialize(update),
            ["library.boc"] = BagOfCells.Serialize(library),
            ["two-roots.boc"] = BagOfCells.Serialize([root, leaf], new BocOptions(false, false)),
            ["wallet-v4r2.boc"] = BagOfCells.Serialize(Wallets.WalletCode.V4R2, new BocOptions(false, false)),
        };
        foreach (var (name, bytes) in seeds)
        {
            File.WriteAllBytes(Path.Combine(directory, name), bytes);
        }
    }

    private static void Check(ReadOnlySpan<byte> input)
    {
        IReadOnlyList<Cells.Cell> roots;
        try
        {
            roots = BagOfCells.Parse(input);
        }
        catch (BocFormatException)
        {
            return;
        }

        var again = BagOfCells.Parse(BagOfCells.Serialize(roots, new BocOptions(true, true)));
        for (var i = 0; i < roots.Count; i++)
        {
            if (!roots[i].Hash().SequenceEqual(again[i].Hash()))
            {
                throw new InvalidOperationException("round trip changed a root hash");
            }
        }
    }
}
