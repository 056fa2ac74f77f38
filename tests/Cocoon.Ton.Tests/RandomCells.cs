using System.Numerics;
using Cocoon.Ton.Cells;

namespace Cocoon.Ton.Tests;

/// <summary>Seeded random cell trees, ordinary and exotic, for round trips against @ton/core.</summary>
public sealed class RandomCells(int seed)
{
    private readonly Random _random = new(seed);

    public Random Random => _random;

    public Cell Ordinary(int depth, List<Cell>? pool = null)
    {
        pool ??= [];
        var b = new CellBuilder();
        var bits = _random.Next(0, Cell.MaxBits + 1);
        var left = bits;
        while (left > 0)
        {
            var w = Math.Min(left, _random.Next(1, 65));
            var v = (ulong)_random.NextInt64() ^ ((ulong)_random.Next() << 33);
            b.StoreUInt(w == 64 ? v : v & ((1UL << w) - 1), w);
            left -= w;
        }

        var refs = depth <= 0 ? 0 : _random.Next(0, 5);
        for (var i = 0; i < refs; i++)
        {
            if (pool.Count > 0 && _random.Next(4) == 0)
            {
                b.StoreRef(pool[_random.Next(pool.Count)]);
            }
            else
            {
                var child = _random.Next(5) == 0 && depth > 1 ? Exotic(depth - 1, pool) : Ordinary(depth - 1 - _random.Next(2), pool);
                pool.Add(child);
                b.StoreRef(child);
            }
        }

        return b.EndCell();
    }

    /// <summary>A pruned branch (masks 1, 3, 7: the ones @ton/core reads), library, Merkle proof or Merkle update.</summary>
    public Cell Exotic(int depth, List<Cell> pool)
    {
        switch (_random.Next(4))
        {
            case 0:
                return Pruned(new[] { 1, 3, 7 }[_random.Next(3)]);
            case 1:
            {
                var b = new CellBuilder().StoreUInt(2, 8).StoreBytes(RandomBytes(32));
                return b.EndCell(exotic: true);
            }

            case 2:
                return MerkleProof(Ordinary(Math.Max(0, depth - 1), pool));
            default:
                return MerkleUpdate(Ordinary(Math.Max(0, depth - 1), pool), Ordinary(Math.Max(0, depth - 1), pool));
        }
    }

    public Cell Pruned(int mask)
    {
        var n = BitOperations.PopCount((uint)mask);
        var b = new CellBuilder().StoreUInt(1, 8).StoreUInt((ulong)mask, 8);
        for (var i = 0; i < n; i++)
        {
            b.StoreBytes(RandomBytes(32));
        }

        for (var i = 0; i < n; i++)
        {
            b.StoreUInt((ulong)_random.Next(0, 1000), 16);
        }

        return b.EndCell(exotic: true);
    }

    public static Cell MerkleProof(Cell inner) =>
        new CellBuilder().StoreUInt(3, 8).StoreBytes(inner.Hash(0)).StoreUInt((ulong)inner.Depth(0), 16).StoreRef(inner).EndCell(exotic: true);

    public static Cell MerkleUpdate(Cell from, Cell to) =>
        new CellBuilder().StoreUInt(4, 8).StoreBytes(from.Hash(0)).StoreBytes(to.Hash(0))
            .StoreUInt((ulong)from.Depth(0), 16).StoreUInt((ulong)to.Depth(0), 16).StoreRef(from).StoreRef(to).EndCell(exotic: true);

    public byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        _random.NextBytes(b);
        return b;
    }

    public BigInteger NextUnsignedValue(int bits)
    {
        if (bits == 0)
        {
            return BigInteger.Zero;
        }

        var bytes = RandomBytes((bits + 7) / 8 + 1);
        bytes[^1] = 0;
        var v = new BigInteger(bytes, isUnsigned: true);

        // Bias toward edge values: 0, max, and short numbers.
        return _random.Next(8) switch
        {
            0 => BigInteger.Zero,
            1 => (BigInteger.One << bits) - 1,
            2 => v & 0xFF & ((BigInteger.One << bits) - 1),
            _ => v & ((BigInteger.One << bits) - 1),
        };
    }

    public BigInteger NextSignedValue(int bits)
    {
        var min = -(BigInteger.One << (bits - 1));
        return _random.Next(8) switch
        {
            0 => min,
            1 => -min - 1,
            2 => -1,
            _ => NextUnsignedValue(bits) + min,
        };
    }
}
