using System.Buffers.Binary;
using System.Numerics;
using Cocoon.Ton.Cells;

namespace Cocoon.Ton.Boc;

/// <summary>Which optional parts a serialized bag of cells carries.</summary>
/// <param name="WithIndex">Write the index of cumulative cell end offsets (<c>has_idx</c>).</param>
/// <param name="WithCrc32C">Append the CRC32C of everything before it (<c>has_crc32c</c>).</param>
public readonly record struct BocOptions(bool WithIndex, bool WithCrc32C)
{
    /// <summary>What <c>@ton/core</c>'s <c>cell.toBoc()</c> writes by default: no index, with CRC32C.</summary>
    public static BocOptions Default => new(false, true);
}

/// <summary>
/// Bag-of-cells (BoC) reading and writing: the <c>serialized_boc#b5ee9c72</c> format of ton crypto/tl/boc.tlb,
/// plus the older <c>68ff65f3</c> (indexed) and <c>acc3a728</c> (indexed + CRC32C) magics on read
/// (ton-and-tdx.md section 1; ton-core src/boc/cell/serialization.ts).
/// </summary>
public static class BagOfCells
{
    /// <summary>The generic BoC magic.</summary>
    public const uint Magic = 0xb5ee9c72;

    /// <summary>The legacy indexed BoC magic.</summary>
    public const uint MagicIndexed = 0x68ff65f3;

    /// <summary>The legacy indexed BoC magic with CRC32C.</summary>
    public const uint MagicIndexedCrc32C = 0xacc3a728;

    /// <summary>Parses a BoC with exactly one root.</summary>
    public static Cell ParseSingle(ReadOnlySpan<byte> boc)
    {
        var roots = Parse(boc);
        if (roots.Count != 1)
        {
            throw new BocFormatException($"expected one root, found {roots.Count}", 0);
        }

        return roots[0];
    }

    /// <summary>Parses hex, then a BoC with one root.</summary>
    public static Cell ParseHex(string hex)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromHexString(hex.Trim());
        }
        catch (FormatException e)
        {
            throw new BocFormatException("BoC is not valid hex", e);
        }

        return ParseSingle(bytes);
    }

    /// <summary>Parses base64 (standard or url-safe), then a BoC with one root.</summary>
    public static Cell ParseBase64(string base64)
    {
        byte[] bytes;
        try
        {
            var s = base64.Trim().Replace('-', '+').Replace('_', '/');
            s = s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '=');
            bytes = Convert.FromBase64String(s);
        }
        catch (FormatException e)
        {
            throw new BocFormatException("BoC is not valid base64", e);
        }

        return ParseSingle(bytes);
    }

    /// <summary>
    /// Parses a BoC and returns its roots in order. Every length field is checked against the input before
    /// anything is allocated; any defect throws <see cref="BocFormatException"/> with the byte offset.
    /// </summary>
    public static IReadOnlyList<Cell> Parse(ReadOnlySpan<byte> boc)
    {
        var r = new Reader(boc);
        var magic = (uint)r.ReadUInt(4, "magic");
        bool hasIndex, hasCrc, hasCacheBits;
        int size;
        var legacy = false;
        switch (magic)
        {
            case Magic:
            {
                // has_idx:(## 1) has_crc32c:(## 1) has_cache_bits:(## 1) flags:(## 2) { flags = 0 } size:(## 3)
                var b = (int)r.ReadUInt(1, "flags byte");
                hasIndex = (b & 0x80) != 0;
                hasCrc = (b & 0x40) != 0;
                hasCacheBits = (b & 0x20) != 0;
                if ((b & 0x18) != 0)
                {
                    throw new BocFormatException("reserved BoC flags are not zero", 4);
                }

                size = b & 7;
                break;
            }

            case MagicIndexed:
            case MagicIndexedCrc32C:
                legacy = true;
                hasIndex = true;
                hasCrc = magic == MagicIndexedCrc32C;
                hasCacheBits = false;
                size = (int)r.ReadUInt(1, "size");
                break;
            default:
                throw new BocFormatException($"unknown BoC magic {magic:x8}", 0);
        }

        if (size is < 1 or > 4)
        {
            throw new BocFormatException($"cell index size {size} is not 1..4", r.Position - 1);
        }

        if (hasCacheBits && !hasIndex)
        {
            throw new BocFormatException("cache bits without an index", 4);
        }

        var offBytes = (int)r.ReadUInt(1, "offset size");
        if (offBytes is < 1 or > 8)
        {
            throw new BocFormatException($"offset size {offBytes} is not 1..8", r.Position - 1);
        }

        var cellsAt = r.Position;
        var cellCount = r.ReadUInt(size, "cell count");
        var rootCount = r.ReadUInt(size, "root count");
        var absent = r.ReadUInt(size, "absent count");
        var totalAt = r.Position;
        var totalSize = r.ReadUInt(offBytes, "total cell size");
        if (cellCount == 0)
        {
            throw new BocFormatException("BoC has no cells", cellsAt);
        }

        if (rootCount == 0 || rootCount > cellCount)
        {
            throw new BocFormatException($"root count {rootCount} is not 1..{cellCount}", cellsAt + size);
        }

        if (legacy && rootCount != 1)
        {
            throw new BocFormatException("legacy BoC must have exactly one root", cellsAt + size);
        }

        if (absent > cellCount)
        {
            throw new BocFormatException($"absent count {absent} exceeds cell count {cellCount}", cellsAt + (2 * size));
        }

        // Each cell takes at least 2 bytes (d1, d2): this bounds every allocation below by the input size.
        if (totalSize > (ulong)boc.Length || cellCount > totalSize / 2)
        {
            throw new BocFormatException($"header claims {cellCount} cells in {totalSize} bytes, input has {boc.Length}", totalAt);
        }

        var expectedLength = (ulong)r.Position + (legacy ? 0 : rootCount * (ulong)size) + (hasIndex ? cellCount * (ulong)offBytes : 0) + totalSize + (hasCrc ? 4UL : 0);
        if (expectedLength > (ulong)boc.Length)
        {
            throw new BocFormatException($"BoC is truncated: header needs {expectedLength} bytes, input has {boc.Length}", boc.Length);
        }

        if (expectedLength < (ulong)boc.Length)
        {
            throw new BocFormatException($"{(ulong)boc.Length - expectedLength} unexpected bytes after the BoC", (long)expectedLength);
        }

        if (hasCrc)
        {
            var stored = BinaryPrimitives.ReadUInt32LittleEndian(boc[^4..]);
            var actual = Crc.Crc32C(boc[..^4]);
            if (stored != actual)
            {
                throw new BocFormatException($"CRC32C mismatch: stored {stored:x8}, computed {actual:x8}", boc.Length - 4);
            }
        }

        var n = (int)cellCount;
        var roots = new int[(int)rootCount];
        for (var i = 0; i < roots.Length; i++)
        {
            if (legacy)
            {
                break;
            }

            var at = r.Position;
            var idx = r.ReadUInt(size, "root index");
            if (idx >= cellCount)
            {
                throw new BocFormatException($"root index {idx} out of range (cells: {cellCount})", at);
            }

            roots[i] = (int)idx;
        }

        var indexAt = r.Position;
        if (hasIndex)
        {
            r.Skip(n * offBytes);
        }

        var dataStart = r.Position;
        var starts = new int[n];
        var bitLengths = new int[n];
        var dataOffsets = new int[n];
        var refIdx = new int[n * 4];
        var refCounts = new byte[n];
        var d1s = new byte[n];
        for (var i = 0; i < n; i++)
        {
            var at = r.Position;
            starts[i] = at;
            var d1 = (int)r.ReadUInt(1, "cell descriptor d1");
            var d2 = (int)r.ReadUInt(1, "cell descriptor d2");
            var refs = d1 & 7;
            if (refs > Cell.MaxRefs)
            {
                throw new BocFormatException($"cell {i} has {refs} references, more than {Cell.MaxRefs}", at);
            }

            var levelMask = d1 >> 5;
            if ((d1 & 16) != 0)
            {
                // with_hashes: stored hashes and depths precede the data; skip them (ton-core readCell).
                r.Skip((BitOperations.PopCount((uint)levelMask) + 1) * (32 + 2));
            }

            var dataBytes = (d2 + 1) >> 1;
            var padded = (d2 & 1) != 0;
            dataOffsets[i] = r.Position;
            var data = r.Peek(dataBytes, "cell data");
            var bits = dataBytes * 8;
            if (padded)
            {
                var last = data[^1];
                if (last == 0)
                {
                    throw new BocFormatException($"cell {i} is marked padded but its last byte is zero", r.Position + dataBytes - 1);
                }

                bits -= BitOperations.TrailingZeroCount(last) + 1;
            }

            if (bits > Cell.MaxBits)
            {
                throw new BocFormatException($"cell {i} has {bits} bits, more than {Cell.MaxBits}", at);
            }

            r.Skip(dataBytes);
            for (var k = 0; k < refs; k++)
            {
                var refAt = r.Position;
                var target = r.ReadUInt(size, "reference index");
                if (target >= cellCount)
                {
                    throw new BocFormatException($"cell {i} references cell {target}, out of range (cells: {cellCount})", refAt);
                }

                // Children come after parents (boc.tlb; ton-core deserializeBoc): this also rules out cycles.
                if (target <= (ulong)i)
                {
                    throw new BocFormatException($"cell {i} references cell {target}, which does not come after it (cycle or bad order)", refAt);
                }

                refIdx[(i * 4) + k] = (int)target;
            }

            refCounts[i] = (byte)refs;
            d1s[i] = (byte)d1;
            bitLengths[i] = bits;
            if (r.Position - dataStart > (long)totalSize)
            {
                throw new BocFormatException($"cell {i} runs past the declared total cell size {totalSize}", at);
            }
        }

        if ((ulong)(r.Position - dataStart) != totalSize)
        {
            throw new BocFormatException($"cells take {r.Position - dataStart} bytes but the header declares {totalSize}", r.Position);
        }

        if (hasIndex)
        {
            var ir = new Reader(boc) { Position = indexAt };
            for (var i = 0; i < n; i++)
            {
                var at = ir.Position;
                var end = ir.ReadUInt(offBytes, "index entry");
                if (hasCacheBits)
                {
                    end >>= 1;
                }

                var actualEnd = (ulong)((i + 1 < n ? starts[i + 1] : r.Position) - dataStart);
                if (end != actualEnd)
                {
                    throw new BocFormatException($"index entry {i} is {end}, cell ends at {actualEnd}", at);
                }
            }
        }

        var cells = new Cell[n];
        for (var i = n - 1; i >= 0; i--)
        {
            var refs = refCounts[i] == 0 ? [] : new Cell[refCounts[i]];
            for (var k = 0; k < refs.Length; k++)
            {
                refs[k] = cells[refIdx[(i * 4) + k]];
            }

            var bits = bitLengths[i];
            var data = boc.Slice(dataOffsets[i], (bits + 7) / 8).ToArray();
            if (bits % 8 != 0)
            {
                data[^1] &= (byte)(0xFF << (8 - (bits % 8)));
            }

            Cell cell;
            try
            {
                cell = new Cell(data, bits, refs, (d1s[i] & 8) != 0);
            }
            catch (ArgumentException e)
            {
                throw new BocFormatException($"cell {i} is invalid: {e.Message}", starts[i], e);
            }

            if (cell.LevelMask != d1s[i] >> 5)
            {
                throw new BocFormatException($"cell {i} declares level mask {d1s[i] >> 5} but has {cell.LevelMask}", starts[i]);
            }

            cells[i] = cell;
        }

        var result = new Cell[roots.Length];
        for (var i = 0; i < roots.Length; i++)
        {
            result[i] = cells[roots[i]];
        }

        return result;
    }

    /// <summary>Serializes one root the way <c>@ton/core</c> does (<see cref="BocOptions.Default"/>: no index, CRC32C).</summary>
    public static byte[] Serialize(Cell root) => Serialize([root], BocOptions.Default);

    /// <summary>Serializes one root with the given options.</summary>
    public static byte[] Serialize(Cell root, BocOptions options) => Serialize([root], options);

    /// <summary>
    /// Serializes canonically: cells deduplicated by representation hash and ordered parents before children, the
    /// first root at index 0, in the same order <c>@ton/core</c>'s topologicalSort gives (a depth-first post-order
    /// that visits references last to first, reversed).
    /// </summary>
    public static byte[] Serialize(IReadOnlyList<Cell> roots, BocOptions options)
    {
        ArgumentNullException.ThrowIfNull(roots);
        if (roots.Count == 0)
        {
            throw new ArgumentException("a BoC needs at least one root", nameof(roots));
        }

        var order = TopologicalOrder(roots, out var indexOf);
        var cellCount = order.Count;
        var size = Math.Max(1, (BitLength((ulong)cellCount) + 7) / 8);
        long total = 0;
        var ends = new long[cellCount];
        for (var i = 0; i < cellCount; i++)
        {
            var c = order[i];
            total += 2 + ((c.BitLength + 7) / 8) + (c.RefsArray.Length * size);
            ends[i] = total;
        }

        var offBytes = Math.Max(1, (BitLength((ulong)total) + 7) / 8);
        var length = 4 + 1 + 1 + (3 * size) + offBytes + (roots.Count * size) + (options.WithIndex ? cellCount * offBytes : 0) + total + (options.WithCrc32C ? 4 : 0);
        var output = new byte[length];
        var w = 0;
        BinaryPrimitives.WriteUInt32BigEndian(output, Magic);
        w += 4;
        output[w++] = (byte)((options.WithIndex ? 0x80 : 0) | (options.WithCrc32C ? 0x40 : 0) | size);
        output[w++] = (byte)offBytes;
        WriteUInt(output, ref w, (ulong)cellCount, size);
        WriteUInt(output, ref w, (ulong)roots.Count, size);
        WriteUInt(output, ref w, 0, size);
        WriteUInt(output, ref w, (ulong)total, offBytes);
        foreach (var root in roots)
        {
            WriteUInt(output, ref w, (ulong)indexOf[root], size);
        }

        if (options.WithIndex)
        {
            foreach (var e in ends)
            {
                WriteUInt(output, ref w, (ulong)e, offBytes);
            }
        }

        foreach (var c in order)
        {
            output[w++] = (byte)(c.RefsArray.Length + (c.IsExotic ? 8 : 0) + (c.LevelMask * 32));
            output[w++] = (byte)(((c.BitLength + 7) / 8) + (c.BitLength / 8));
            var dataBytes = (c.BitLength + 7) / 8;
            c.DataArray.AsSpan(0, dataBytes).CopyTo(output.AsSpan(w));
            if (c.BitLength % 8 != 0)
            {
                output[w + dataBytes - 1] |= (byte)(0x80 >> (c.BitLength % 8));
            }

            w += dataBytes;
            foreach (var child in c.RefsArray)
            {
                WriteUInt(output, ref w, (ulong)indexOf[child], size);
            }
        }

        if (options.WithCrc32C)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(output.AsSpan(w), Crc.Crc32C(output.AsSpan(0, w)));
        }

        return output;
    }

    /// <summary>Counts the distinct cells (by representation hash) reachable from <paramref name="root"/>.</summary>
    public static int CountCells(Cell root) => TopologicalOrder([root], out _).Count;

    private static List<Cell> TopologicalOrder(IReadOnlyList<Cell> roots, out Dictionary<Cell, int> indexOf)
    {
        // Post-order DFS visiting references from last to first, then reversed: ton-core topologicalSort.ts.
        // Cell equality is representation-hash equality, so equal subtrees are written once.
        var done = new HashSet<Cell>();
        var postOrder = new List<Cell>();
        var stack = new Stack<(Cell Cell, int Next)>();
        for (var ri = roots.Count - 1; ri >= 0; ri--)
        {
            var root = roots[ri];
            if (!done.Add(root))
            {
                continue;
            }

            stack.Push((root, root.RefsArray.Length - 1));
            while (stack.Count > 0)
            {
                var (cell, next) = stack.Pop();
                if (next >= 0)
                {
                    stack.Push((cell, next - 1));
                    var child = cell.RefsArray[next];
                    if (done.Add(child))
                    {
                        stack.Push((child, child.RefsArray.Length - 1));
                    }
                }
                else
                {
                    postOrder.Add(cell);
                }
            }
        }

        postOrder.Reverse();
        indexOf = new Dictionary<Cell, int>(postOrder.Count);
        for (var i = 0; i < postOrder.Count; i++)
        {
            indexOf[postOrder[i]] = i;
        }

        return postOrder;
    }

    private static int BitLength(ulong v) => 64 - BitOperations.LeadingZeroCount(v);

    private static void WriteUInt(byte[] output, ref int w, ulong value, int bytes)
    {
        for (var i = bytes - 1; i >= 0; i--)
        {
            output[w++] = (byte)(value >> (8 * i));
        }
    }

    private ref struct Reader
    {
        private readonly ReadOnlySpan<byte> _data;

        public Reader(ReadOnlySpan<byte> data)
        {
            _data = data;
            Position = 0;
        }

        public int Position { get; set; }

        public ulong ReadUInt(int bytes, string what)
        {
            var span = Peek(bytes, what);
            ulong v = 0;
            foreach (var b in span)
            {
                v = (v << 8) | b;
            }

            Position += bytes;
            return v;
        }

        public readonly ReadOnlySpan<byte> Peek(int bytes, string what)
        {
            if (bytes < 0 || Position + (long)bytes > _data.Length)
            {
                throw new BocFormatException($"truncated: {what} needs {bytes} bytes, {Math.Max(0, _data.Length - Position)} left", Position);
            }

            return _data.Slice(Position, bytes);
        }

        public void Skip(int bytes)
        {
            Peek(bytes, "skipped bytes");
            Position += bytes;
        }
    }
}
