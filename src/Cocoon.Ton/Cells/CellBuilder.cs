using System.Numerics;
using Cocoon.Ton.Addresses;

namespace Cocoon.Ton.Cells;

/// <summary>
/// Writes bits and references into a new <see cref="Cell"/>. Integers are big-endian two's complement of the
/// stated width (TL-B uint/int, tblkch.pdf 3.1); a builder holds at most 1023 bits and 4 references.
/// </summary>
public sealed class CellBuilder
{
    private readonly byte[] _buffer = new byte[128];
    private readonly List<Cell> _refs = new(4);

    /// <summary>Bits written so far.</summary>
    public int BitLength { get; private set; }

    /// <summary>References written so far.</summary>
    public int RefCount => _refs.Count;

    /// <summary>Bits still free.</summary>
    public int AvailableBits => Cell.MaxBits - BitLength;

    /// <summary>References still free.</summary>
    public int AvailableRefs => Cell.MaxRefs - _refs.Count;

    private void Reserve(int bits)
    {
        if (bits < 0 || BitLength + bits > Cell.MaxBits)
        {
            throw new InvalidOperationException($"cell overflow: {BitLength} + {bits} bits exceeds {Cell.MaxBits}");
        }
    }

    private void PutBit(bool bit)
    {
        if (bit)
        {
            _buffer[BitLength >> 3] |= (byte)(0x80 >> (BitLength & 7));
        }

        BitLength++;
    }

    // Writes the low `bits` bits of value (bits <= 64), most significant first, a byte-sized chunk at a time.
    private void PutBits(ulong value, int bits)
    {
        while (bits > 0)
        {
            var bitOff = BitLength & 7;
            var take = Math.Min(8 - bitOff, bits);
            var chunk = (int)((value >> (bits - take)) & ((1UL << take) - 1));
            _buffer[BitLength >> 3] |= (byte)(chunk << (8 - bitOff - take));
            BitLength += take;
            bits -= take;
        }
    }

    /// <summary>Writes one bit.</summary>
    public CellBuilder StoreBit(bool bit)
    {
        Reserve(1);
        PutBit(bit);
        return this;
    }

    /// <summary>Writes <paramref name="bits"/> bits taken from the start of <paramref name="source"/>.</summary>
    public CellBuilder StoreBits(ReadOnlySpan<byte> source, int bits)
    {
        if (bits > source.Length * 8)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), "source is shorter than the bit count");
        }

        Reserve(bits);
        if ((BitLength & 7) == 0)
        {
            var whole = bits >> 3;
            source[..whole].CopyTo(_buffer.AsSpan(BitLength >> 3));
            BitLength += whole * 8;
            for (var i = whole * 8; i < bits; i++)
            {
                PutBit(((source[i >> 3] >> (7 - (i & 7))) & 1) != 0);
            }

            return this;
        }

        var full = bits >> 3;
        for (var i = 0; i < full; i++)
        {
            PutBits(source[i], 8);
        }

        if ((bits & 7) != 0)
        {
            PutBits((ulong)(source[full] >> (8 - (bits & 7))), bits & 7);
        }

        return this;
    }

    /// <summary>Writes whole bytes.</summary>
    public CellBuilder StoreBytes(ReadOnlySpan<byte> bytes) => StoreBits(bytes, bytes.Length * 8);

    /// <summary>Writes an unsigned integer of <paramref name="bits"/> bits (0..64).</summary>
    public CellBuilder StoreUInt(ulong value, int bits)
    {
        if (bits is < 0 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), "use the BigInteger overload above 64 bits");
        }

        if (bits < 64 && value >> bits != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(value), $"{value} does not fit in {bits} bits");
        }

        Reserve(bits);
        PutBits(value, bits);
        return this;
    }

    /// <summary>Writes a signed integer of <paramref name="bits"/> bits (1..64).</summary>
    public CellBuilder StoreInt(long value, int bits)
    {
        if (bits is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), "use the BigInteger overload above 64 bits");
        }

        if (bits < 64)
        {
            var min = -(1L << (bits - 1));
            var max = (1L << (bits - 1)) - 1;
            if (value < min || value > max)
            {
                throw new ArgumentOutOfRangeException(nameof(value), $"{value} does not fit in int{bits}");
            }
        }

        Reserve(bits);
        PutBits((ulong)value, bits);
        return this;
    }

    /// <summary>Writes an unsigned integer of up to 256 bits (TL-B uintN).</summary>
    public CellBuilder StoreUInt(BigInteger value, int bits)
    {
        if (bits is < 0 or > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), "unsigned integers are at most 256 bits");
        }

        if (value.Sign < 0 || (bits < 256 ? value >> bits != 0 : value.GetBitLength() > 256))
        {
            throw new ArgumentOutOfRangeException(nameof(value), $"{value} does not fit in uint{bits}");
        }

        return StoreTwosComplement(value, bits);
    }

    /// <summary>Writes a signed integer of up to 257 bits (TL-B intN).</summary>
    public CellBuilder StoreInt(BigInteger value, int bits)
    {
        if (bits is < 1 or > 257)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), "signed integers are 1 to 257 bits");
        }

        var limit = BigInteger.One << (bits - 1);
        if (value < -limit || value >= limit)
        {
            throw new ArgumentOutOfRangeException(nameof(value), $"{value} does not fit in int{bits}");
        }

        return StoreTwosComplement(value, bits);
    }

    private CellBuilder StoreTwosComplement(BigInteger value, int bits)
    {
        Reserve(bits);
        if (bits == 0)
        {
            return this;
        }

        // Two's complement, little-endian bytes, sign-extended to cover every bit we write.
        var width = (bits + 8) / 8 + 1;
        Span<byte> le = stackalloc byte[40];
        le = le[..width];
        le.Fill(value.Sign < 0 ? (byte)0xFF : (byte)0);
        value.TryWriteBytes(le, out _, isUnsigned: false, isBigEndian: false);
        // Most significant (partial) byte first, then whole bytes.
        var top = bits & 7;
        var i = (bits - 1) >> 3;
        if (top != 0)
        {
            PutBits(le[i], top);
            i--;
        }

        for (; i >= 0; i--)
        {
            PutBits(le[i], 8);
        }

        return this;
    }

    /// <summary>Writes TL-B <c>VarUInteger n</c>: a length in bytes of ceil(log2 n) bits, then the value (tblkch.pdf 3.1.7).</summary>
    public CellBuilder StoreVarUInt(BigInteger value, int n)
    {
        if (value.Sign < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(value), "VarUInteger cannot be negative");
        }

        var lenBits = BitOperations.Log2((uint)(n - 1)) + 1;
        var bytes = value.IsZero ? 0 : (int)((value.GetBitLength() + 7) / 8);
        if (bytes >= n)
        {
            throw new ArgumentOutOfRangeException(nameof(value), $"{value} does not fit in VarUInteger {n}");
        }

        StoreUInt((ulong)bytes, lenBits);
        return StoreUInt(value, bytes * 8);
    }

    /// <summary>Writes TL-B <c>VarInteger n</c>.</summary>
    public CellBuilder StoreVarInt(BigInteger value, int n)
    {
        var lenBits = BitOperations.Log2((uint)(n - 1)) + 1;
        // Byte count from |value| plus a sign bit, as ton-core BitBuilder.writeVarInt sizes it; for -2^(8k-1)
        // that is one byte more than the minimum, and matching it keeps cells byte-identical to @ton/core.
        var bytes = value.IsZero ? 0 : (int)((BigInteger.Abs(value).GetBitLength() + 1 + 7) / 8);
        if (bytes >= n)
        {
            throw new ArgumentOutOfRangeException(nameof(value), $"{value} does not fit in VarInteger {n}");
        }

        StoreUInt((ulong)bytes, lenBits);
        return bytes == 0 ? this : StoreInt(value, bytes * 8);
    }

    /// <summary>Writes <c>Coins</c> = <c>VarUInteger 16</c>, an amount in nanotons (tblkch.pdf 3.1.7).</summary>
    public CellBuilder StoreCoins(BigInteger nanotons) => StoreVarUInt(nanotons, 16);

    /// <summary>Writes a reference.</summary>
    public CellBuilder StoreRef(Cell cell)
    {
        ArgumentNullException.ThrowIfNull(cell);
        if (_refs.Count >= Cell.MaxRefs)
        {
            throw new InvalidOperationException($"cell overflow: more than {Cell.MaxRefs} references");
        }

        _refs.Add(cell);
        return this;
    }

    /// <summary>Writes a reference to the cell <paramref name="builder"/> ends.</summary>
    public CellBuilder StoreRef(CellBuilder builder) => StoreRef(builder.EndCell());

    /// <summary>Writes TL-B <c>Maybe ^X</c>: bit 0, or bit 1 and a reference.</summary>
    public CellBuilder StoreMaybeRef(Cell? cell) => cell is null ? StoreBit(false) : StoreBit(true).StoreRef(cell);

    /// <summary>Writes TL-B <c>Maybe X</c> for an inline value: bit 0, or bit 1 and the value.</summary>
    public CellBuilder StoreMaybe<T>(T? value, Action<T, CellBuilder> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (value is null)
        {
            return StoreBit(false);
        }

        StoreBit(true);
        write(value, this);
        return this;
    }

    /// <summary>
    /// Writes TL-B <c>Either X ^X</c>: bit 0 and the cell's contents inline, or bit 1 and a reference to it. With
    /// <paramref name="inRef"/> null the value goes inline when its bits and references fit, as ton-core does for bodies.
    /// </summary>
    public CellBuilder StoreEither(Cell value, bool? inRef = null)
    {
        ArgumentNullException.ThrowIfNull(value);
        var asRef = inRef ?? (AvailableBits - 1 < value.BitLength || RefCount + value.RefsArray.Length > Cell.MaxRefs || value.IsExotic);
        return asRef ? StoreBit(true).StoreRef(value) : StoreBit(false).StoreCellContents(value);
    }

    /// <summary>Writes a <c>MsgAddress</c>: <c>addr_none$00</c> for null, else <c>addr_std$10</c> (tblkch.pdf 3.1.2).</summary>
    public CellBuilder StoreAddress(TonAddress? address)
    {
        if (address is null)
        {
            return StoreUInt(0, 2);
        }

        // addr_std$10 anycast:(Maybe Anycast) workchain_id:int8 address:bits256
        return StoreUInt(0b100, 3).StoreInt(address.Workchain, 8).StoreBytes(address.Hash);
    }

    /// <summary>Writes <c>addr_none$00</c>.</summary>
    public CellBuilder StoreAddressNone() => StoreUInt(0, 2);

    /// <summary>Writes an <c>addr_extern$01 len:(## 9) external_address:(bits len)</c>.</summary>
    public CellBuilder StoreExternalAddress(ExternalAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return StoreUInt(0b01, 2).StoreUInt((ulong)address.BitLength, 9).StoreBits(address.Bits, address.BitLength);
    }

    /// <summary>Writes what is left of <paramref name="slice"/>: its bits and references.</summary>
    public CellBuilder StoreSlice(CellSlice slice)
    {
        ArgumentNullException.ThrowIfNull(slice);
        var copy = slice.Clone();
        var bits = copy.RemainingBits;
        Reserve(bits);
        while (copy.RemainingBits > 0)
        {
            PutBit(copy.LoadBit());
        }

        while (copy.RemainingRefs > 0)
        {
            StoreRef(copy.LoadRef());
        }

        return this;
    }

    /// <summary>Writes the bits and references of <paramref name="cell"/> inline.</summary>
    public CellBuilder StoreCellContents(Cell cell) => StoreSlice(cell.BeginParse());

    /// <summary>Writes TL-B <c>HashmapE</c>: bit 0 for an empty dictionary, else bit 1 and a reference to its root.</summary>
    public CellBuilder StoreDictionary(Cell? root) => StoreMaybeRef(root);

    /// <summary>Finishes an ordinary cell.</summary>
    public Cell EndCell() => EndCell(exotic: false);

    /// <summary>Finishes a cell; with <paramref name="exotic"/> the first byte is the exotic type and is checked.</summary>
    public Cell EndCell(bool exotic)
    {
        var data = _buffer.AsSpan(0, (BitLength + 7) / 8).ToArray();
        return new Cell(data, BitLength, _refs.Count == 0 ? [] : [.. _refs], exotic);
    }
}
