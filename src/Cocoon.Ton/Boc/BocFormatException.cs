namespace Cocoon.Ton.Boc;

/// <summary>
/// The one exception type thrown for malformed bag-of-cells bytes: truncated input, bad magic or CRC,
/// out-of-range sizes or indices, reference cycles, cells that break the limits of tblkch.pdf 1.1.
/// The message says what is wrong and <see cref="Offset"/> says at which byte of the input.
/// </summary>
public sealed class BocFormatException : FormatException
{
    public BocFormatException()
    {
    }

    public BocFormatException(string message)
        : base(message)
    {
    }

    public BocFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public BocFormatException(string message, long offset)
        : base($"{message} (at byte offset {offset})")
    {
        Offset = offset;
    }

    public BocFormatException(string message, long offset, Exception innerException)
        : base($"{message} (at byte offset {offset})", innerException)
    {
        Offset = offset;
    }

    /// <summary>Byte offset in the input where the problem was found, or -1 when not tied to one place.</summary>
    public long Offset { get; } = -1;
}
