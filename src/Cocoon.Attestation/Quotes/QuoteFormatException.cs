namespace Cocoon.Attestation.Quotes;

/// <summary>
/// The one exception type the quote parser throws for malformed input: a truncated buffer, a length field that
/// points outside its parent structure, an unsupported version, TEE type or body type. The message names the
/// field and the byte offset (from the start of the quote) at which the problem was found.
/// </summary>
public sealed class QuoteFormatException : FormatException
{
    public QuoteFormatException()
        : this("malformed quote", "quote", 0)
    {
    }

    public QuoteFormatException(string message)
        : this(message, "quote", 0)
    {
    }

    public QuoteFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        Field = "quote";
    }

    /// <summary>Creates an exception for <paramref name="field"/> at <paramref name="offset"/>.</summary>
    public QuoteFormatException(string message, string field, int offset)
        : base($"{field} at offset 0x{offset:x} ({offset}): {message}")
    {
        Field = field;
        Offset = offset;
    }

    /// <summary>The quote field being read when the problem was found (DCAP names, e.g. <c>signature_data_len</c>).</summary>
    public string Field { get; }

    /// <summary>Byte offset from the start of the quote where the offending field begins.</summary>
    public int Offset { get; }
}
