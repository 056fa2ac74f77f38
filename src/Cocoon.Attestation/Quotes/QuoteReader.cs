using System.Buffers.Binary;

namespace Cocoon.Attestation.Quotes;

/// <summary>
/// Bounds-checked little-endian reader over a quote. Every read names the field it reads so a failure says what
/// and where; <see cref="Base"/> is the offset of <see cref="_data"/> inside the whole quote.
/// </summary>
internal ref struct QuoteReader
{
    private readonly ReadOnlySpan<byte> _data;

    public QuoteReader(ReadOnlySpan<byte> data, int baseOffset)
    {
        _data = data;
        Base = baseOffset;
        Position = 0;
    }

    public int Base { get; }

    public int Position { get; private set; }

    public readonly int Remaining => _data.Length - Position;

    /// <summary>Offset in the whole quote of the next byte to read.</summary>
    public readonly int QuoteOffset => Base + Position;

    public ReadOnlySpan<byte> ReadBytes(int length, string field)
    {
        if (length < 0 || length > Remaining)
        {
            throw new QuoteFormatException(
                $"needs {length} bytes but only {Remaining} remain in its enclosing structure", field, QuoteOffset);
        }

        var span = _data.Slice(Position, length);
        Position += length;
        return span;
    }

    public ushort ReadUInt16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2, field));

    public uint ReadUInt32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4, field));

    /// <summary>Reads a u32 length and checks it fits in what remains (a length field is never trusted).</summary>
    public int ReadLength32(string field)
    {
        var at = QuoteOffset;
        var value = ReadUInt32(field);
        if (value > (uint)Remaining)
        {
            throw new QuoteFormatException(
                $"length {value} exceeds the {Remaining} bytes that remain in its enclosing structure", field, at);
        }

        return (int)value;
    }

    public int ReadLength16(string field)
    {
        var at = QuoteOffset;
        var value = ReadUInt16(field);
        if (value > Remaining)
        {
            throw new QuoteFormatException(
                $"length {value} exceeds the {Remaining} bytes that remain in its enclosing structure", field, at);
        }

        return value;
    }

    public readonly void ExpectEnd(string structure)
    {
        if (Remaining != 0)
        {
            throw new QuoteFormatException(
                $"{Remaining} unexpected bytes after the last field", structure, QuoteOffset);
        }
    }
}
