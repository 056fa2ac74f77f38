using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace Cocoon.Ton.Cells;

/// <summary>
/// An immutable TON cell: up to 1023 data bits and up to 4 references (tblkch.pdf 1.1.1), ordinary or exotic,
/// with its level mask and the hash and depth at every level (tblkch.pdf 1.1.3-1.1.4; the algorithm of
/// ton crypto/vm/cells/DataCell.cpp as ton-core wonderCalculator.ts reproduces it).
/// </summary>
public sealed class Cell : IEquatable<Cell>
{
    /// <summary>The most data bits a cell may hold.</summary>
    public const int MaxBits = 1023;

    /// <summary>The most references a cell may hold.</summary>
    public const int MaxRefs = 4;

    /// <summary>The greatest depth ton crypto/vm/cells accepts (CellTraits::max_depth).</summary>
    public const int MaxDepth = 1024;

    /// <summary>The highest level a cell can have (level masks are 3 bits).</summary>
    public const int MaxLevel = 3;

    private static readonly Cell[] NoRefs = [];

    private readonly byte[] _data;
    private readonly Cell[] _refs;
    private readonly byte[][] _hashes; // index = level 0..3
    private readonly ushort[] _depths; // index = level 0..3
    private System.Collections.ObjectModel.ReadOnlyCollection<Cell>? _refsView;

    /// <summary>The empty ordinary cell.</summary>
    public static Cell Empty { get; } = new([], 0, NoRefs, false);

    internal Cell(byte[] data, int bitLength, Cell[] refs, bool exotic)
    {
        // data holds ceil(bitLength/8) bytes with unused trailing bits zero (callers guarantee this).
        _data = data;
        BitLength = bitLength;
        _refs = refs;
        var error = Compute(exotic, out var type, out var mask, out _hashes, out _depths);
        if (error is not null)
        {
            throw new ArgumentException(error);
        }

        Type = type;
        LevelMask = mask;
    }

    /// <summary>Number of data bits.</summary>
    public int BitLength { get; }

    /// <summary>The cell kind.</summary>
    public CellType Type { get; }

    /// <summary>True for pruned branch, library, Merkle proof and Merkle update cells.</summary>
    public bool IsExotic => Type != CellType.Ordinary;

    /// <summary>The level mask (3 bits).</summary>
    public int LevelMask { get; }

    /// <summary>The level: the index of the highest bit set in the level mask.</summary>
    public int Level => 32 - BitOperations.LeadingZeroCount((uint)LevelMask);

    /// <summary>The references, in order (a read-only view, so the cell stays immutable).</summary>
    public IReadOnlyList<Cell> Refs => _refsView ??= Array.AsReadOnly(_refs);

    internal Cell[] RefsArray => _refs;

    /// <summary>The data bytes, with unused bits of the last byte zero.</summary>
    public ReadOnlySpan<byte> Data => _data;

    internal byte[] DataArray => _data;

    /// <summary>The representation hash (the hash at level 3, equal to the plain hash for level-0 cells).</summary>
    public ReadOnlySpan<byte> Hash() => _hashes[MaxLevel];

    /// <summary>The hash at <paramref name="level"/> (0..3).</summary>
    public ReadOnlySpan<byte> Hash(int level) => _hashes[Math.Min(level, MaxLevel)];

    /// <summary>The representation hash as a new array.</summary>
    public byte[] HashBytes() => (byte[])_hashes[MaxLevel].Clone();

    /// <summary>The depth at level 3: 0 for a cell without references, else 1 + the deepest child.</summary>
    public int Depth() => _depths[MaxLevel];

    /// <summary>The depth at <paramref name="level"/> (0..3).</summary>
    public int Depth(int level) => _depths[Math.Min(level, MaxLevel)];

    /// <summary>Starts reading this cell.</summary>
    public CellSlice BeginParse() => new(this);

    /// <summary>Starts building an ordinary cell.</summary>
    public static CellBuilder Builder() => new();

    /// <summary>Two cells are equal when their representation hashes are.</summary>
    public bool Equals(Cell? other) => other is not null && (ReferenceEquals(this, other) || Hash().SequenceEqual(other.Hash()));

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Cell c && Equals(c);

    /// <inheritdoc />
    public override int GetHashCode() => BinaryPrimitives.ReadInt32LittleEndian(_hashes[MaxLevel]);

    /// <summary>A short description for debugging: data in hex, bit and reference counts, type.</summary>
    public override string ToString() => $"x{{{Convert.ToHexString(_data)}}} bits={BitLength} refs={_refs.Length} type={Type}";

    private string? Compute(bool exotic, out CellType type, out int mask, out byte[][] hashes, out ushort[] depths)
    {
        hashes = [];
        depths = [];
        type = CellType.Ordinary;
        mask = 0;
        if (BitLength > MaxBits)
        {
            return $"cell has {BitLength} bits, more than {MaxBits}";
        }

        if (_refs.Length > MaxRefs)
        {
            return $"cell has {_refs.Length} references, more than {MaxRefs}";
        }

        // Pruned-branch stored hashes, indexed by hash index (docs.ton.org exotic cells).
        var prunedCount = 0;
        if (!exotic)
        {
            foreach (var r in _refs)
            {
                mask |= r.LevelMask;
            }
        }
        else
        {
            if (BitLength < 8)
            {
                return "exotic cell has fewer than 8 bits";
            }

            switch (_data[0])
            {
                case 1:
                    type = CellType.PrunedBranch;
                    if (_refs.Length != 0)
                    {
                        return "pruned branch cell has references";
                    }

                    if (BitLength == 280)
                    {
                        // Legacy form without the mask byte: type, one hash, one depth (ton-core exoticPruned.ts).
                        mask = 1;
                        prunedCount = -1;
                    }
                    else
                    {
                        if (BitLength < 16)
                        {
                            return "pruned branch cell is too short";
                        }

                        mask = _data[1];
                        if (mask is < 1 or > 7)
                        {
                            return $"pruned branch level mask {mask} is not 1..7";
                        }

                        prunedCount = BitOperations.PopCount((uint)mask);
                        if (BitLength != 16 + (prunedCount * (256 + 16)))
                        {
                            return $"pruned branch with mask {mask} must have {16 + (prunedCount * 272)} bits, has {BitLength}";
                        }
                    }

                    break;
                case 2:
                    type = CellType.Library;
                    if (BitLength != 8 + 256)
                    {
                        return $"library cell must have 264 bits, has {BitLength}";
                    }

                    if (_refs.Length != 0)
                    {
                        return "library cell has references";
                    }

                    break;
                case 3:
                    type = CellType.MerkleProof;
                    if (BitLength != 8 + 256 + 16 || _refs.Length != 1)
                    {
                        return "Merkle proof cell must have 280 bits and 1 reference";
                    }

                    if (!_data.AsSpan(1, 32).SequenceEqual(_refs[0].Hash(0)) || ReadUInt16(_data, 33) != _refs[0].Depth(0))
                    {
                        return "Merkle proof hash or depth does not match its reference";
                    }

                    mask = _refs[0].LevelMask >> 1;
                    break;
                case 4:
                    type = CellType.MerkleUpdate;
                    if (BitLength != 8 + 256 + 256 + 16 + 16 || _refs.Length != 2)
                    {
                        return "Merkle update cell must have 552 bits and 2 references";
                    }

                    if (!_data.AsSpan(1, 32).SequenceEqual(_refs[0].Hash(0)) || !_data.AsSpan(33, 32).SequenceEqual(_refs[1].Hash(0))
                        || ReadUInt16(_data, 65) != _refs[0].Depth(0) || ReadUInt16(_data, 67) != _refs[1].Depth(0))
                    {
                        return "Merkle update hashes or depths do not match its references";
                    }

                    mask = (_refs[0].LevelMask | _refs[1].LevelMask) >> 1;
                    break;
                default:
                    return $"unknown exotic cell type {_data[0]}";
            }
        }

        var level = 32 - BitOperations.LeadingZeroCount((uint)mask);
        var totalHashCount = BitOperations.PopCount((uint)mask) + 1;
        var hashCount = type == CellType.PrunedBranch ? 1 : totalHashCount;
        var hashOffset = totalHashCount - hashCount;
        var computed = new byte[hashCount][];
        var computedDepths = new ushort[hashCount];
        var merkle = type is CellType.MerkleProof or CellType.MerkleUpdate;
        var dataBytes = (BitLength + 7) / 8;
        Span<byte> repr = stackalloc byte[2 + 128 + (MaxRefs * 34)];
        for (int levelI = 0, hashI = 0; levelI <= level; levelI++)
        {
            if (levelI != 0 && ((mask >> (levelI - 1)) & 1) == 0)
            {
                continue;
            }

            if (hashI < hashOffset)
            {
                hashI++;
                continue;
            }

            var childLevel = merkle ? levelI + 1 : levelI;
            var depth = 0;
            foreach (var r in _refs)
            {
                depth = Math.Max(depth, r.Depth(childLevel));
            }

            if (_refs.Length > 0)
            {
                depth++;
            }

            if (depth > MaxDepth)
            {
                return $"cell depth {depth} exceeds {MaxDepth}";
            }

            // Representation (tblkch.pdf 1.1.3; ton-core descriptor.ts getRepr): d1 with the level mask cut to
            // this level, d2 from the original bit length, then the data (or the previous level's hash), then
            // child depths, then child hashes.
            var p = 0;
            repr[p++] = (byte)(_refs.Length + (exotic ? 8 : 0) + ((mask & ((1 << levelI) - 1)) * 32));
            repr[p++] = (byte)(((BitLength + 7) / 8) + (BitLength / 8));
            if (hashI == hashOffset)
            {
                _data.AsSpan(0, dataBytes).CopyTo(repr[p..]);
                if (BitLength % 8 != 0)
                {
                    repr[p + dataBytes - 1] |= (byte)(0x80 >> (BitLength % 8));
                }

                p += dataBytes;
            }
            else
            {
                computed[hashI - hashOffset - 1].CopyTo(repr[p..]);
                p += 32;
            }

            foreach (var r in _refs)
            {
                BinaryPrimitives.WriteUInt16BigEndian(repr[p..], (ushort)r.Depth(childLevel));
                p += 2;
            }

            foreach (var r in _refs)
            {
                r.Hash(childLevel).CopyTo(repr[p..]);
                p += 32;
            }

            var h = new byte[32];
            SHA256.HashData(repr[..p], h);
            computed[hashI - hashOffset] = h;
            computedDepths[hashI - hashOffset] = (ushort)depth;
            hashI++;
        }

        hashes = new byte[MaxLevel + 1][];
        depths = new ushort[MaxLevel + 1];
        var ownIndex = BitOperations.PopCount((uint)mask);
        for (var i = 0; i <= MaxLevel; i++)
        {
            var hashIndex = BitOperations.PopCount((uint)(mask & ((1 << i) - 1)));
            if (type == CellType.PrunedBranch)
            {
                if (hashIndex != ownIndex)
                {
                    // Lower-level hashes of a pruned branch come from its own data: mask byte, hashes, depths.
                    var start = prunedCount < 0 ? 1 : 2;
                    var n = prunedCount < 0 ? 1 : prunedCount;
                    hashes[i] = _data.AsSpan(start + (32 * hashIndex), 32).ToArray();
                    depths[i] = ReadUInt16(_data, start + (32 * n) + (2 * hashIndex));
                }
                else
                {
                    hashes[i] = computed[0];
                    depths[i] = computedDepths[0];
                }
            }
            else
            {
                hashes[i] = computed[hashIndex];
                depths[i] = computedDepths[hashIndex];
            }
        }

        return null;
    }

    private static ushort ReadUInt16(byte[] data, int offset) => BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(offset, 2));
}
