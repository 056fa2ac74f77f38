using System.Numerics;
using Cocoon.Ton.Addresses;

namespace Cocoon.Ton.Cells;

/// <summary>
/// Reads a <see cref="Cell"/> from the front: bits, integers, references and the TL-B forms built on them.
/// Reading past the end throws <see cref="CellUnderflowException"/>.
/// </summary>
public sealed class CellSlice
{
    private readonly Cell _cell;
    private int _bitPos;
    private int _refPos;

    internal CellSlice(Cell cell)
    {
        _cell = cell;
    }

    private CellSlice(Cell cell, int bitPos, int refPos)
    {
        _cell = cell;
        _bitPos = bitPos;
        _refPos = refPos;
    }

    /// <summary>The cell being read.</summary>
    public Cell Cell => _cell;

    /// <summary>Bits not read yet.</summary>
    public int RemainingBits => _cell.BitLength - _bitPos;

    /// <summary>References not read yet.</summary>
    public int RemainingRefs => _cell.RefsArray.Length - _refPos;

    /// <summary>A copy positioned where this one is.</summary>
    public CellSlice Clone() => new(_cell, _bitPos, _refPos);

    private void Need(int bits)
    {
        if (bits < 0 || bits > RemainingBits)
        {
            throw new CellUnderflowException($"need {bits} bits, {RemainingBits} left");
        }
    }

    private bool GetBit(int pos) => ((_cell.DataArray[pos >> 3] >> (7 - (pos & 7))) & 1) != 0;

    /// <summary>Reads one bit.</summary>
    public bool LoadBit()
    {
        Need(1);
        return GetBit(_bitPos++);
    }

    /// <summary>Reads one bit without consuming it.</summary>
    public bool PreloadBit()
    {
        Need(1);
        return GetBit(_bitPos);
    }

    /// <summary>Reads an unsigned integer of 0..64 bits.</summary>
    public ulong LoadUInt(int bits)
    {
        var v = PreloadUInt(bits);
        _bitPos += bits;
        return v;
    }

    /// <summary>Reads an unsigned integer of 0..64 bits without consuming it.</summary>
    public ulong PreloadUInt(int bits)
    {
        if (bits > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), "use LoadBigUInt above 64 bits");
        }

        Need(bits);
        return ReadBits(_bitPos, bits);
    }

    // Reads `bits` (<= 64) bits at `pos`, a byte-sized chunk at a time; the caller has checked the bounds.
    private ulong ReadBits(int pos, int bits)
    {
        var data = _cell.DataArray;
        ulong v = 0;
        while (bits > 0)
        {
            var bitOff = pos & 7;
            var take = Math.Min(8 - bitOff, bits);
            var chunk = (data[pos >> 3] >> (8 - bitOff - take)) & ((1 << take) - 1);
            v = (v << take) | (uint)chunk;
            pos += take;
            bits -= take;
        }

        return v;
    }

    /// <summary>Reads a signed integer of 1..64 bits.</summary>
    public long LoadInt(int bits)
    {
        if (bits is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), "use LoadBigInt above 64 bits");
        }

        var u = LoadUInt(bits);
        return bits == 64 ? (long)u : (long)(u << (64 - bits)) >> (64 - bits);
    }

    /// <summary>Reads an unsigned integer of up to 256 bits.</summary>
    public BigInteger LoadBigUInt(int bits)
    {
        if (bits is < 0 or > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), "unsigned integers are at most 256 bits");
        }

        return FromLeftAligned(LoadBits(bits), bits);
    }

    // The big-endian, left-aligned bits of LoadBits as an unsigned number.
    private static BigInteger FromLeftAligned(byte[] bytes, int bits) =>
        bits == 0 ? BigInteger.Zero : new BigInteger(bytes, isUnsigned: true, isBigEndian: true) >> ((bytes.Length * 8) - bits);

    /// <summary>Reads a signed integer of 1..257 bits.</summary>
    public BigInteger LoadBigInt(int bits)
    {
        if (bits is < 1 or > 257)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), "signed integers are 1 to 257 bits");
        }

        Need(bits);
        var negative = GetBit(_bitPos);
        var v = FromLeftAligned(LoadBits(bits), bits);
        return negative ? v - (BigInteger.One << bits) : v;
    }

    /// <summary>Reads <paramref name="bits"/> bits into a new array, left-aligned, unused tail bits zero.</summary>
    public byte[] LoadBits(int bits)
    {
        Need(bits);
        var result = new byte[(bits + 7) / 8];
        if ((_bitPos & 7) == 0)
        {
            _cell.DataArray.AsSpan(_bitPos >> 3, bits >> 3).CopyTo(result);
        }
        else
        {
            for (var i = 0; i < bits >> 3; i++)
            {
                result[i] = (byte)ReadBits(_bitPos + (i * 8), 8);
            }
        }

        if ((bits & 7) != 0)
        {
            var tail = bits & 7;
            result[^1] = (byte)(ReadBits(_bitPos + (bits & ~7), tail) << (8 - tail));
        }

        _bitPos += bits;
        return result;
    }

    /// <summary>Reads whole bytes.</summary>
    public byte[] LoadBytes(int count) => LoadBits(count * 8);

    /// <summary>Skips bits.</summary>
    public CellSlice Skip(int bits)
    {
        Need(bits);
        _bitPos += bits;
        return this;
    }

    /// <summary>Reads TL-B <c>VarUInteger n</c>.</summary>
    public BigInteger LoadVarUInt(int n)
    {
        var lenBits = BitOperations.Log2((uint)(n - 1)) + 1;
        var bytes = (int)LoadUInt(lenBits);
        return LoadBigUInt(bytes * 8);
    }

    /// <summary>Reads TL-B <c>VarInteger n</c>.</summary>
    public BigInteger LoadVarInt(int n)
    {
        var lenBits = BitOperations.Log2((uint)(n - 1)) + 1;
        var bytes = (int)LoadUInt(lenBits);
        return bytes == 0 ? BigInteger.Zero : LoadBigInt(bytes * 8);
    }

    /// <summary>Reads <c>Coins</c> (nanotons).</summary>
    public BigInteger LoadCoins() => LoadVarUInt(16);

    /// <summary>Reads the next reference.</summary>
    public Cell LoadRef()
    {
        if (RemainingRefs <= 0)
        {
            throw new CellUnderflowException("no references left");
        }

        return _cell.RefsArray[_refPos++];
    }

    /// <summary>Reads TL-B <c>Maybe ^X</c>.</summary>
    public Cell? LoadMaybeRef() => LoadBit() ? LoadRef() : null;

    /// <summary>Reads TL-B <c>Maybe X</c> for an inline value.</summary>
    public T? LoadMaybe<T>(Func<CellSlice, T> read)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(read);
        return LoadBit() ? read(this) : null;
    }

    /// <summary>Reads TL-B <c>HashmapE</c>: null when empty, else the root cell of the dictionary.</summary>
    public Cell? LoadDictionary() => LoadMaybeRef();

    /// <summary>
    /// Reads TL-B <c>Either X ^X</c>: bit 0 means the value follows inline, bit 1 means it is in the next reference.
    /// Returns a slice over wherever the value is; for the inline case that is this slice itself.
    /// </summary>
    public CellSlice LoadEither() => LoadBit() ? LoadRef().BeginParse() : this;

    /// <summary>Reads a <c>MsgAddressInt</c> (<c>addr_std</c>) or <c>addr_none</c> (null).</summary>
    public TonAddress? LoadMaybeAddress()
    {
        var tag = (int)LoadUInt(2);
        switch (tag)
        {
            case 0b00:
                return null;
            case 0b10:
                if (LoadBit())
                {
                    throw new FormatException("anycast addresses are not supported");
                }

                var wc = (int)LoadInt(8);
                return new TonAddress(wc, LoadBytes(32));
            case 0b01:
                throw new FormatException("expected an internal address, found addr_extern");
            default:
                throw new FormatException("addr_var is not supported");
        }
    }

    /// <summary>Reads a <c>MsgAddressInt</c>; <c>addr_none</c> is an error.</summary>
    public TonAddress LoadAddress() => LoadMaybeAddress() ?? throw new FormatException("expected an internal address, found addr_none");

    /// <summary>Reads an <c>addr_extern</c> or <c>addr_none</c> (null).</summary>
    public ExternalAddress? LoadMaybeExternalAddress()
    {
        var tag = (int)LoadUInt(2);
        if (tag == 0)
        {
            return null;
        }

        if (tag != 0b01)
        {
            throw new FormatException("expected an external address");
        }

        var len = (int)LoadUInt(9);
        return new ExternalAddress(LoadBits(len), len);
    }

    /// <summary>Throws unless every bit and reference has been read.</summary>
    public void EndParse()
    {
        if (RemainingBits != 0 || RemainingRefs != 0)
        {
            throw new FormatException($"slice not fully read: {RemainingBits} bits and {RemainingRefs} references left");
        }
    }

    /// <summary>A new cell holding what is left of this slice.</summary>
    public Cell ToCell() => new CellBuilder().StoreSlice(this).EndCell();
}

/// <summary>Thrown when a slice is read past its end.</summary>
public sealed class CellUnderflowException : InvalidOperationException
{
    public CellUnderflowException()
    {
    }

    public CellUnderflowException(string message)
        : base(message)
    {
    }

    public CellUnderflowException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
