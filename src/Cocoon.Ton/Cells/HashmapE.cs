using System.Numerics;

namespace Cocoon.Ton.Cells;

/// <summary>
/// TL-B dictionaries (<c>HashmapE n X</c>, tblkch.pdf 3.3) with unsigned keys of <c>n</c> bits. Labels are written
/// in the shortest of <c>hml_short</c>, <c>hml_long</c> and <c>hml_same</c>, ties resolved as ton-core
/// serializeDict.ts does, so the cells match @ton/core byte for byte.
/// </summary>
public static class HashmapE
{
    /// <summary>Builds the root cell of a dictionary; null for an empty one (stored as a 0 bit by <c>HashmapE</c>).</summary>
    public static Cell? Serialize<T>(IEnumerable<KeyValuePair<BigInteger, T>> entries, int keyBits, Action<T, CellBuilder> writeValue)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(writeValue);
        if (keyBits is < 1 or > Cell.MaxBits)
        {
            throw new ArgumentOutOfRangeException(nameof(keyBits));
        }

        var list = new List<KeyValuePair<BigInteger, T>>();
        var limit = BigInteger.One << keyBits;
        foreach (var e in entries)
        {
            if (e.Key.Sign < 0 || e.Key >= limit)
            {
                throw new ArgumentOutOfRangeException(nameof(entries), $"key {e.Key} does not fit in {keyBits} bits");
            }

            list.Add(e);
        }

        if (list.Count == 0)
        {
            return null;
        }

        // Unsigned big-endian keys order the same as their bit strings.
        list.Sort((a, b) => a.Key.CompareTo(b.Key));
        for (var i = 1; i < list.Count; i++)
        {
            if (list[i].Key == list[i - 1].Key)
            {
                throw new ArgumentException($"duplicate key {list[i].Key}", nameof(entries));
            }
        }

        var builder = new CellBuilder();
        WriteEdge(list, 0, list.Count, 0, keyBits, keyBits, writeValue, builder);
        return builder.EndCell();
    }

    /// <summary>Stores a dictionary as <c>HashmapE</c>: a 0 bit when empty, else 1 and a reference.</summary>
    public static CellBuilder StoreHashmapE<T>(this CellBuilder builder, IEnumerable<KeyValuePair<BigInteger, T>> entries, int keyBits, Action<T, CellBuilder> writeValue)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.StoreMaybeRef(Serialize(entries, keyBits, writeValue));
    }

    /// <summary>Reads a dictionary from its root cell (null means empty).</summary>
    public static Dictionary<BigInteger, T> Parse<T>(Cell? root, int keyBits, Func<CellSlice, T> readValue)
    {
        ArgumentNullException.ThrowIfNull(readValue);
        var result = new Dictionary<BigInteger, T>();
        if (root is not null)
        {
            ReadEdge(root.BeginParse(), keyBits, BigInteger.Zero, readValue, result);
        }

        return result;
    }

    /// <summary>Reads a <c>HashmapE</c> from a slice.</summary>
    public static Dictionary<BigInteger, T> LoadHashmapE<T>(this CellSlice slice, int keyBits, Func<CellSlice, T> readValue)
    {
        ArgumentNullException.ThrowIfNull(slice);
        return Parse(slice.LoadMaybeRef(), keyBits, readValue);
    }

    private static bool Bit(BigInteger key, int keyBits, int index) => !(key >> (keyBits - 1 - index)).IsEven;

    private static int LenBits(int n) => n == 0 ? 0 : 32 - BitOperations.LeadingZeroCount((uint)n); // ceil(log2(n + 1))

    private static void WriteEdge<T>(List<KeyValuePair<BigInteger, T>> keys, int from, int to, int prefixLen, int n, int keyBits, Action<T, CellBuilder> writeValue, CellBuilder b)
    {
        // Label: the common prefix of keys[from..to) from bit prefixLen on (all remaining bits for a single key).
        var labelLen = 0;
        if (to - from == 1)
        {
            labelLen = n;
        }
        else
        {
            var first = keys[from].Key;
            var last = keys[to - 1].Key;
            while (labelLen < n && Bit(first, keyBits, prefixLen + labelLen) == Bit(last, keyBits, prefixLen + labelLen))
            {
                labelLen++;
            }
        }

        WriteLabel(keys[from].Key, keyBits, prefixLen, labelLen, n, b);
        var m = n - labelLen;
        if (to - from == 1)
        {
            writeValue(keys[from].Value, b);
            return;
        }

        // hmn_fork: left (bit 0) and right (bit 1) subtrees, each of m - 1 remaining bits.
        var split = prefixLen + labelLen;
        var mid = from;
        while (mid < to && !Bit(keys[mid].Key, keyBits, split))
        {
            mid++;
        }

        var left = new CellBuilder();
        WriteEdge(keys, from, mid, split + 1, m - 1, keyBits, writeValue, left);
        var right = new CellBuilder();
        WriteEdge(keys, mid, to, split + 1, m - 1, keyBits, writeValue, right);
        b.StoreRef(left.EndCell()).StoreRef(right.EndCell());
    }

    private static void WriteLabel(BigInteger key, int keyBits, int start, int len, int n, CellBuilder b)
    {
        var lenBits = LenBits(n);
        var shortLen = 2 + (2 * len);
        var longLen = 2 + lenBits + len;
        var sameLen = 3 + lenBits;
        var same = true;
        for (var i = 1; i < len; i++)
        {
            if (Bit(key, keyBits, start + i) != Bit(key, keyBits, start))
            {
                same = false;
                break;
            }
        }

        var kind = 0;
        var best = shortLen;
        if (longLen < best)
        {
            kind = 1;
            best = longLen;
        }

        if (same && sameLen < best)
        {
            kind = 2;
        }

        switch (kind)
        {
            case 0:
                // hml_short$0 len:(Unary ~n) s:(n * Bit)
                b.StoreBit(false);
                for (var i = 0; i < len; i++)
                {
                    b.StoreBit(true);
                }

                b.StoreBit(false);
                StoreKeyBits(key, keyBits, start, len, b);
                break;
            case 1:
                // hml_long$10 n:(#<= m) s:(n * Bit)
                b.StoreBit(true).StoreBit(false).StoreUInt((ulong)len, lenBits);
                StoreKeyBits(key, keyBits, start, len, b);
                break;
            default:
                // hml_same$11 v:Bit n:(#<= m)
                b.StoreBit(true).StoreBit(true).StoreBit(len > 0 && Bit(key, keyBits, start)).StoreUInt((ulong)len, lenBits);
                break;
        }
    }

    private static void StoreKeyBits(BigInteger key, int keyBits, int start, int len, CellBuilder b)
    {
        for (var i = 0; i < len; i++)
        {
            b.StoreBit(Bit(key, keyBits, start + i));
        }
    }

    private static void ReadEdge<T>(CellSlice s, int n, BigInteger prefix, Func<CellSlice, T> readValue, Dictionary<BigInteger, T> result)
    {
        var lenBits = LenBits(n);
        int len;
        if (!s.LoadBit())
        {
            len = 0;
            while (s.LoadBit())
            {
                len++;
            }

            if (len > n)
            {
                throw new FormatException($"dictionary label of {len} bits exceeds the {n} key bits left");
            }

            for (var i = 0; i < len; i++)
            {
                prefix = (prefix << 1) | (s.LoadBit() ? 1 : 0);
            }
        }
        else if (!s.LoadBit())
        {
            len = (int)s.LoadUInt(lenBits);
            if (len > n)
            {
                throw new FormatException($"dictionary label of {len} bits exceeds the {n} key bits left");
            }

            for (var i = 0; i < len; i++)
            {
                prefix = (prefix << 1) | (s.LoadBit() ? 1 : 0);
            }
        }
        else
        {
            var v = s.LoadBit();
            len = (int)s.LoadUInt(lenBits);
            if (len > n)
            {
                throw new FormatException($"dictionary label of {len} bits exceeds the {n} key bits left");
            }

            for (var i = 0; i < len; i++)
            {
                prefix = (prefix << 1) | (v ? 1 : 0);
            }
        }

        var m = n - len;
        if (m == 0)
        {
            result[prefix] = readValue(s);
            return;
        }

        var left = s.LoadRef();
        var right = s.LoadRef();
        ReadEdge(left.BeginParse(), m - 1, prefix << 1, readValue, result);
        ReadEdge(right.BeginParse(), m - 1, (prefix << 1) | 1, readValue, result);
    }
}
