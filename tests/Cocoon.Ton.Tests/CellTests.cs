using System.Numerics;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Cells;

namespace Cocoon.Ton.Tests;

public class CellTests
{
    [Fact]
    public void Integers_of_every_width_round_trip_at_their_limits()
    {
        for (var bits = 1; bits <= 257; bits++)
        {
            var min = -(BigInteger.One << (bits - 1));
            var max = (BigInteger.One << (bits - 1)) - 1;
            var cell = new CellBuilder().StoreInt(min, bits).StoreInt(max, bits).EndCell();
            var s = cell.BeginParse();
            Assert.Equal(min, s.LoadBigInt(bits));
            Assert.Equal(max, s.LoadBigInt(bits));
            Assert.Throws<ArgumentOutOfRangeException>(() => new CellBuilder().StoreInt(max + 1, bits));
            Assert.Throws<ArgumentOutOfRangeException>(() => new CellBuilder().StoreInt(min - 1, bits));
            if (bits <= 256)
            {
                var umax = (BigInteger.One << bits) - 1;
                Assert.Equal(umax, new CellBuilder().StoreUInt(umax, bits).EndCell().BeginParse().LoadBigUInt(bits));
                Assert.Throws<ArgumentOutOfRangeException>(() => new CellBuilder().StoreUInt(umax + 1, bits));
            }
        }

        Assert.Equal(-3, new CellBuilder().StoreInt(-3, 5).EndCell().BeginParse().LoadInt(5));
        Assert.Equal(ulong.MaxValue, new CellBuilder().StoreUInt(ulong.MaxValue, 64).EndCell().BeginParse().LoadUInt(64));
    }

    [Fact]
    public void Maybe_and_Either_read_back_what_was_written()
    {
        var inner = new CellBuilder().StoreUInt(0xabc, 12).EndCell();
        var cell = new CellBuilder()
            .StoreMaybe<string>(null, (_, _) => { })
            .StoreMaybe("x", (_, b) => b.StoreUInt(9, 4))
            .StoreEither(inner)
            .StoreEither(inner, inRef: true)
            .StoreMaybeRef(inner)
            .EndCell();
        var s = cell.BeginParse();
        Assert.Null(s.LoadMaybe(x => "never"));
        Assert.Equal("9", s.LoadMaybe(x => x.LoadUInt(4).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(0xabcUL, s.LoadEither().LoadUInt(12));
        Assert.Equal(0xabcUL, s.LoadEither().LoadUInt(12));
        Assert.Equal(inner, s.LoadMaybeRef());
        s.EndParse();
    }

    [Fact]
    public void Addresses_none_internal_and_external_are_written_as_TL_B_says()
    {
        var ext = new ExternalAddress([0xA5], 8);
        var a = new TonAddress(-1, new byte[32]);
        var cell = new CellBuilder().StoreAddressNone().StoreAddress(a).StoreExternalAddress(ext).EndCell();
        Assert.Equal(2 + 267 + 2 + 9 + 8, cell.BitLength);
        var s = cell.BeginParse();
        Assert.Null(s.LoadMaybeAddress());
        Assert.Equal(a, s.LoadAddress());
        var back = s.LoadMaybeExternalAddress()!;
        Assert.Equal(8, back.BitLength);
        Assert.Equal(0xA5, back.Bits[0]);
    }

    [Fact]
    public void Reading_past_the_end_throws_CellUnderflowException()
    {
        var s = new CellBuilder().StoreUInt(1, 3).EndCell().BeginParse();
        Assert.Throws<CellUnderflowException>(() => s.LoadUInt(4));
        Assert.Throws<CellUnderflowException>(() => s.LoadRef());
        Assert.Equal(1UL, s.LoadUInt(3));
    }

    [Fact]
    public void Pruned_branch_takes_lower_hashes_from_its_data_and_Merkle_proof_lowers_the_level()
    {
        var hidden = new CellBuilder().StoreUInt(42, 64).EndCell();
        var pruned = new CellBuilder().StoreUInt(1, 8).StoreUInt(1, 8).StoreBytes(hidden.Hash()).StoreUInt((ulong)hidden.Depth(), 16).EndCell(exotic: true);
        Assert.Equal(CellType.PrunedBranch, pruned.Type);
        Assert.Equal(1, pruned.Level);
        Assert.Equal(hidden.Hash(0).ToArray(), pruned.Hash(0).ToArray());
        Assert.NotEqual(hidden.Hash().ToArray(), pruned.Hash().ToArray());

        var parent = new CellBuilder().StoreUInt(7, 8).StoreRef(pruned).EndCell();
        var original = new CellBuilder().StoreUInt(7, 8).StoreRef(hidden).EndCell();
        Assert.Equal(1, parent.Level);
        Assert.Equal(original.Hash().ToArray(), parent.Hash(0).ToArray()); // level-0 hash sees through the pruning

        var proof = new CellBuilder().StoreUInt(3, 8).StoreBytes(parent.Hash(0)).StoreUInt((ulong)parent.Depth(0), 16).StoreRef(parent).EndCell(exotic: true);
        Assert.Equal(CellType.MerkleProof, proof.Type);
        Assert.Equal(0, proof.Level);
    }
}
