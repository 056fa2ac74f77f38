using System.Buffers.Binary;
using Cocoon.Ton.Boc;
using Cocoon.Ton.Cells;

namespace Cocoon.Ton.Tests;

/// <summary>Every BoC variant is read; every kind of bad input is refused with <see cref="BocFormatException"/>.</summary>
public class BocTests
{
    private const string DocsExample = "b5ee9c7201010301000e000201c002010101ff0200060aaaaa";
    private const string DocsRootHash = "593ca12b3559c76ad372841357a6728da8984d69c289869e7dd5cfbd4ace449a";

    private static string Hex(ReadOnlySpan<byte> b) => Convert.ToHexStringLower(b);

    private static Cell Sample()
    {
        var r = new RandomCells(3);
        return r.Ordinary(4);
    }

    /// <summary>Rewrites a generic indexed BoC (one root) with a legacy magic: no flags byte, no root list.</summary>
    private static byte[] ToLegacy(byte[] indexed, bool crc)
    {
        var size = indexed[4] & 7;
        var offBytes = indexed[5];
        var headerEnd = 6 + (3 * size) + offBytes;
        var body = indexed.AsSpan(headerEnd + size, indexed.Length - headerEnd - size - ((indexed[4] & 0x40) != 0 ? 4 : 0));
        var output = new List<byte>();
        output.AddRange(crc ? [0xac, 0xc3, 0xa7, 0x28] : [0x68, 0xff, 0x65, 0xf3]);
        output.Add((byte)size);
        output.Add(offBytes);
        output.AddRange(indexed.AsSpan(6, (3 * size) + offBytes).ToArray());
        output.AddRange(body.ToArray());
        if (crc)
        {
            var c = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(c, Crc.Crc32C(output.ToArray()));
            output.AddRange(c);
        }

        return [.. output];
    }

    [Fact]
    public void Legacy_magics_68ff65f3_and_acc3a728_are_read()
    {
        var cell = Sample();
        var indexed = BagOfCells.Serialize(cell, new BocOptions(true, false));
        Assert.Equal(cell, BagOfCells.ParseSingle(ToLegacy(indexed, crc: false)));
        var withCrc = ToLegacy(indexed, crc: true);
        Assert.Equal(cell, BagOfCells.ParseSingle(withCrc));
        withCrc[^1] ^= 1;
        var e = Assert.Throws<BocFormatException>(() => BagOfCells.Parse(withCrc));
        Assert.Contains("CRC32C", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cache_bits_in_the_index_are_read()
    {
        var cell = Sample();
        var boc = BagOfCells.Serialize(cell, new BocOptions(true, false));
        var size = boc[4] & 7;
        var offBytes = boc[5];
        var cells = BagOfCells.CountCells(cell);
        var indexAt = 6 + (3 * size) + offBytes + size;

        // has_cache_bits: each index entry is end_offset * 2 + cache flag; widen entries by rebuilding with one more offset byte is
        // not needed when the doubled value still fits, which holds for this sample.
        Assert.True(boc.Length - indexAt - (cells * offBytes) < (1 << ((8 * offBytes) - 1)));
        boc[4] |= 0x20;
        for (var i = 0; i < cells; i++)
        {
            var at = indexAt + (i * offBytes);
            ulong v = 0;
            for (var k = 0; k < offBytes; k++)
            {
                v = (v << 8) | boc[at + k];
            }

            v = (v * 2) + (ulong)(i % 2);
            for (var k = offBytes - 1; k >= 0; k--)
            {
                boc[at + k] = (byte)v;
                v >>= 8;
            }
        }

        Assert.Equal(cell, BagOfCells.ParseSingle(boc));
    }

    [Fact]
    public void Stored_hashes_in_a_cell_are_skipped()
    {
        // One cell, d1 with the with_hashes bit (16): hash(32) and depth(2) precede the data (ton-core readCell).
        var plain = new CellBuilder().StoreUInt(0xabcd, 16).EndCell();
        var boc = new List<byte> { 0xb5, 0xee, 0x9c, 0x72, 0x01, 0x01, 0x01, 0x01, 0x00, 2 + 34 + 2, 0x00, 0x10, 0x04 };
        boc.AddRange(plain.Hash().ToArray());
        boc.AddRange(new byte[] { 0, 0, 0xab, 0xcd });
        Assert.Equal(Hex(plain.Hash()), Hex(BagOfCells.ParseSingle(boc.ToArray()).Hash()));
    }

    [Fact]
    public void Several_roots_keep_their_order()
    {
        var a = new CellBuilder().StoreUInt(1, 8).EndCell();
        var b = new CellBuilder().StoreUInt(2, 8).StoreRef(a).EndCell();
        var roots = BagOfCells.Parse(BagOfCells.Serialize([a, b], BocOptions.Default));
        Assert.Equal(2, roots.Count);
        Assert.Equal(a, roots[0]);
        Assert.Equal(b, roots[1]);
        Assert.Throws<BocFormatException>(() => BagOfCells.ParseSingle(BagOfCells.Serialize([a, b], BocOptions.Default)));
    }

    [Fact]
    public void Equal_subtrees_are_written_once()
    {
        var leaf = new CellBuilder().StoreUInt(7, 3).EndCell();
        var root = new CellBuilder().StoreRef(leaf).StoreRef(new CellBuilder().StoreUInt(7, 3).EndCell()).EndCell();
        Assert.Equal(2, BagOfCells.CountCells(root));
        Assert.Equal(root, BagOfCells.ParseSingle(BagOfCells.Serialize(root)));
    }

    [Fact]
    public void Every_truncation_is_refused()
    {
        foreach (var options in new[] { BocOptions.Default, new BocOptions(true, true), new BocOptions(false, false) })
        {
            var boc = BagOfCells.Serialize(Sample(), options);
            for (var len = 0; len < boc.Length; len++)
            {
                var e = Assert.Throws<BocFormatException>(() => BagOfCells.Parse(boc.AsSpan(0, len)));
                Assert.InRange(e.Offset, 0, len);
            }
        }
    }

    [Fact]
    public void Any_flipped_byte_under_crc_is_refused()
    {
        var boc = BagOfCells.Serialize(Sample(), BocOptions.Default);
        for (var i = 0; i < boc.Length; i++)
        {
            var copy = (byte[])boc.Clone();
            copy[i] ^= (byte)(1 << (i % 8));
            Assert.Throws<BocFormatException>(() => BagOfCells.Parse(copy));
        }
    }

    [Fact]
    public void Wrong_crc_says_so_and_where()
    {
        var boc = Convert.FromHexString("b5ee9c7241010301000e000201c002010101ff0200060aaaaa50d7f592");
        var e = Assert.Throws<BocFormatException>(() => BagOfCells.Parse(boc));
        Assert.Contains("CRC32C mismatch", e.Message, StringComparison.Ordinal);
        Assert.Equal(boc.Length - 4, e.Offset);
    }

    public static TheoryData<string, string, int> BadBocs => new()
    {
        // name, hex, expected offset
        { "bad magic", "b5ee9c7301010301000e000201c002010101ff0200060aaaaa", 0 },
        { "reserved flags", "b5ee9c7209010301000e000201c002010101ff0200060aaaaa", 4 },
        { "index size 0", "b5ee9c7200010301000e000201c002010101ff0200060aaaaa", 4 },
        { "index size 5", "b5ee9c7205010301000e000201c002010101ff0200060aaaaa", 4 },
        { "offset size 9", "b5ee9c7201090301000e000201c002010101ff0200060aaaaa", 5 },
        { "no cells", "b5ee9c7201010001000e000201c002010101ff0200060aaaaa", 6 },
        { "no roots", "b5ee9c7201010300000e000201c002010101ff0200060aaaaa", 7 },
        { "absurd cell count", "b5ee9c7204010fffffff0000000100000000000e0000000001c002010101ff0200060aaaaa", 18 },
        { "absurd total size", "b5ee9c72010803010000ffffffffffffffff0001c002010101ff0200060aaaaa", 9 },
        { "root index out of range", "b5ee9c7201010301000e030201c002010101ff0200060aaaaa", 10 },
        { "reference out of range", "b5ee9c7201010301000e000201c003010101ff0200060aaaaa", 14 },
        { "self reference", "b5ee9c7201010301000e000201c000010101ff0200060aaaaa", 14 },
        { "reference cycle", "b5ee9c7201010301000e000201c002010101ff0100060aaaaa", 19 },
        { "more than 4 references", "b5ee9c7201010301000e000501c002010101ff0200060aaaaa", 11 },
        { "declared size too large", "b5ee9c7201010301000f000201c002010101ff0200060aaaaa", 25 },
        { "trailing bytes", "b5ee9c7201010301000e000201c002010101ff0200060aaaaa00", 25 },
        { "padded data with zero last byte", "b5ee9c7201010101000300000100", 13 },
    };

    [Theory]
    [MemberData(nameof(BadBocs))]
    public void Malformed_bocs_are_refused_with_the_offset(string name, string hex, int offset)
    {
        var e = Assert.Throws<BocFormatException>(() => BagOfCells.Parse(Convert.FromHexString(hex)));
        Assert.True(offset == e.Offset, $"{name}: expected offset {offset}, got {e.Offset}: {e.Message}");
        Assert.Contains($"offset {offset}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void More_than_1023_bits_cannot_be_expressed_or_built()
    {
        // d2 = 0xFF is the largest descriptor: 128 bytes, padded. With the padding marker in the last bit that is
        // 1023 bits; a zero last byte (which would make 1024 bits) has no marker and is refused.
        var header = Convert.FromHexString("b5ee9c720101010100820000ff");
        var data = Enumerable.Repeat((byte)0xFF, 127).Append((byte)0x01).ToArray();
        Assert.Equal(1023, BagOfCells.ParseSingle([.. header, .. data]).BitLength);
        data[^1] = 0;
        var e = Assert.Throws<BocFormatException>(() => BagOfCells.Parse([.. header, .. data]));
        Assert.Equal(header.Length + 127, e.Offset);
        Assert.Throws<InvalidOperationException>(() => new CellBuilder().StoreBytes(new byte[128]));
        Assert.Throws<InvalidOperationException>(() => new CellBuilder().StoreRef(Cell.Empty).StoreRef(Cell.Empty).StoreRef(Cell.Empty).StoreRef(Cell.Empty).StoreRef(Cell.Empty));
    }

    [Fact]
    public void Invalid_exotic_cells_are_refused()
    {
        // Pruned branch (type 1) with mask 1 but only 8 bits of payload.
        var e = Assert.Throws<BocFormatException>(() => BagOfCells.Parse(Convert.FromHexString("b5ee9c72010101010004002804" + "0101")));
        Assert.Contains("pruned branch", e.Message, StringComparison.Ordinal);

        // Unknown exotic type 9.
        Assert.Throws<BocFormatException>(() => BagOfCells.Parse(Convert.FromHexString("b5ee9c720101010100030008020" + "9")));

        // Merkle proof whose stored hash does not match its child.
        var child = new CellBuilder().StoreUInt(5, 8).EndCell();
        var proof = RandomCells.MerkleProof(child);
        var boc = BagOfCells.Serialize(proof, new BocOptions(false, false));
        var at = Hex(boc).IndexOf("03" + Hex(child.Hash()), StringComparison.Ordinal) / 2;
        boc[at + 1] ^= 0xFF;
        e = Assert.Throws<BocFormatException>(() => BagOfCells.Parse(boc));
        Assert.Contains("Merkle proof", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Declared_level_mask_must_match_the_computed_one()
    {
        // The docs example with the root's d1 claiming level mask 1.
        var e = Assert.Throws<BocFormatException>(() => BagOfCells.Parse(Convert.FromHexString("b5ee9c7201010301000e002201c002010101ff0200060aaaaa")));
        Assert.Contains("level mask", e.Message, StringComparison.Ordinal);
        Assert.Equal(DocsRootHash, Hex(BagOfCells.ParseHex(DocsExample).Hash()));
    }

    [Fact]
    public void A_header_claiming_billions_of_cells_allocates_almost_nothing()
    {
        var bytes = Convert.FromHexString("b5ee9c7204010fffffff0000000100000000ffffffff0000000001c002010101ff0200060aaaaa");
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<BocFormatException>(() => BagOfCells.Parse(bytes));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024);
    }

    [Fact]
    public void Deep_chains_are_limited_to_depth_1024()
    {
        var cell = Cell.Empty;
        for (var i = 0; i < 1024; i++)
        {
            cell = new CellBuilder().StoreRef(cell).EndCell();
        }

        Assert.Equal(1024, cell.Depth());
        var boc = BagOfCells.Serialize(cell);
        Assert.Equal(cell, BagOfCells.ParseSingle(boc));
        Assert.Throws<ArgumentException>(() => new CellBuilder().StoreRef(cell).EndCell());
    }

    private static byte[] Chain(int cells)
    {
        // cells 0..n-2 each reference the next; the last is empty. Index size 2, offset size 2.
        var total = ((cells - 1) * 4) + 2;
        var boc = new List<byte> { 0xb5, 0xee, 0x9c, 0x72, 0x02, 0x02, (byte)(cells >> 8), (byte)cells, 0, 1, 0, 0, (byte)(total >> 8), (byte)total, 0, 0 };
        for (var i = 0; i < cells - 1; i++)
        {
            boc.AddRange(new byte[] { 0x01, 0x00, (byte)((i + 1) >> 8), (byte)(i + 1) });
        }

        boc.AddRange(new byte[] { 0x00, 0x00 });
        return [.. boc];
    }

    [Fact]
    public void A_chain_deeper_than_1024_is_refused()
    {
        Assert.Equal(1024, BagOfCells.ParseSingle(Chain(1025)).Depth());
        var e = Assert.Throws<BocFormatException>(() => BagOfCells.Parse(Chain(1026)));
        Assert.Contains("depth 1025 exceeds 1024", e.Message, StringComparison.Ordinal);
        Assert.Equal(16, e.Offset); // cell 0, the one whose depth is too large
    }

    [Fact]
    public void Random_mutations_parse_or_throw_BocFormatException_only()
    {
        var r = new RandomCells(12345);
        var seeds = Enumerable.Range(0, 40).Select(i => BagOfCells.Serialize(i % 3 == 0 ? r.Exotic(3, []) : r.Ordinary(3), new BocOptions(i % 2 == 0, i % 4 < 2))).ToList();
        seeds.Add(Convert.FromHexString(DocsExample));
        var parsed = 0;
        for (var i = 0; i < 20000; i++)
        {
            var input = Mutate(r.Random, seeds[r.Random.Next(seeds.Count)]);
            try
            {
                BagOfCells.Parse(input);
                parsed++;
            }
            catch (BocFormatException)
            {
            }
        }

        // Mutations that keep a BoC valid (e.g. data bits of a CRC-less BoC) must still parse.
        Assert.InRange(parsed, 1, 19999);
    }

    internal static byte[] Mutate(Random random, byte[] source)
    {
        var data = new List<byte>(source);
        var count = random.Next(1, 4);
        for (var k = 0; k < count; k++)
        {
            switch (random.Next(6))
            {
                case 0 when data.Count > 0:
                    data[random.Next(data.Count)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when data.Count > 0:
                    data[random.Next(data.Count)] = (byte)random.Next(256);
                    break;
                case 2 when data.Count > 0:
                    data.RemoveRange(random.Next(data.Count), 1);
                    break;
                case 3:
                    data.Insert(random.Next(data.Count + 1), (byte)random.Next(256));
                    break;
                case 4 when data.Count > 0:
                {
                    var cut = random.Next(data.Count);
                    data.RemoveRange(cut, data.Count - cut);
                    break;
                }

                case 5 when data.Count > 6:
                    data[random.Next(4, 7)] = new byte[] { 0, 1, 4, 8, 0xff, 0x7f, 0x80 }[random.Next(7)];
                    break;
            }
        }

        return [.. data];
    }
}
