using System.Security.Cryptography;

namespace Cocoon.Attestation.Quotes;

/// <summary>
/// An Intel TDX DCAP quote, version 4 (TD report 1.0) or 5 (TD report 1.0 or 1.5), parsed into immutable fields.
/// Layout: Intel TDX DCAP Quoting Library API, Appendix 3; sgx_quote_4.h / sgx_quote_5.h; go-tdx-guest abi/abi.go
/// (summarised in shared/reference/ton-and-tdx.md section 5). Integers are little-endian.
/// </summary>
/// <remarks>
/// The parser reads by the length fields, never by the buffer size: bytes after the signature data are padding
/// (<see cref="TrailingLength"/>). Every read is bounds-checked; malformed input throws
/// <see cref="QuoteFormatException"/> and nothing else.
/// </remarks>
public sealed class TdxQuote
{
    /// <summary>Attestation key type 2: ECDSA-256-with-P-256 curve.</summary>
    public const ushort EcdsaP256AttestationKeyType = 2;

    /// <summary>
    /// Attestation key type Cocoon uses for quotes from <c>SimulatedQuoteProvider</c>. Not an Intel value: Intel
    /// defines 2 (ECDSA P-256) and 3 (ECDSA P-384). A verifier in production mode refuses it.
    /// </summary>
    public const ushort SimulatedAttestationKeyType = 0xC0C0;

    /// <summary>TEE type of TDX.</summary>
    public const uint TdxTeeType = 0x81;

    /// <summary>Offset of the v4 TD report (right after the header).</summary>
    public const int V4BodyOffset = QuoteHeader.Size;

    /// <summary>Offset of the v5 body (after the header, body_type:u16 and body_size:u32).</summary>
    public const int V5BodyOffset = QuoteHeader.Size + 6;

    private readonly ReadOnlyMemory<byte> _bytes;

    private TdxQuote(ReadOnlyMemory<byte> bytes, QuoteHeader header, TdReport body, int signedLength, int signatureDataLength, QuoteSignatureData signatureData, int trailing)
    {
        _bytes = bytes;
        Header = header;
        Body = body;
        SignedLength = signedLength;
        SignatureDataLength = signatureDataLength;
        SignatureData = signatureData;
        TrailingLength = trailing;
    }

    public QuoteHeader Header { get; }

    /// <summary>The TD report (quote body).</summary>
    public TdReport Body { get; }

    /// <summary>The v5 body type (2 or 3), or 2 for v4 whose body is always a TD report 1.0.</summary>
    public TdReportVersion BodyType => Body.Version;

    /// <summary>Number of bytes the attestation key signs: header ‖ body (0x278 for v4, 0x36 + body_size for v5).</summary>
    public int SignedLength { get; }

    /// <summary>The <c>signature_data_len</c> field.</summary>
    public int SignatureDataLength { get; }

    public QuoteSignatureData SignatureData { get; }

    /// <summary>Bytes of the input after the signature data (ignored padding).</summary>
    public int TrailingLength { get; }

    /// <summary>The quote as parsed, without trailing padding.</summary>
    public ReadOnlyMemory<byte> Bytes => _bytes;

    /// <summary>Header ‖ body: what the quote signature covers.</summary>
    public ReadOnlyMemory<byte> SignedBytes => _bytes[..SignedLength];

    /// <summary>QE vendor id of Cocoon's simulated quotes: ASCII "COCOON-SIMULATED".</summary>
    public static ReadOnlySpan<byte> SimulatedQeVendorId => "COCOON-SIMULATED"u8;

    /// <summary>
    /// True when the quote carries either devnet marker: the simulated attestation key type or the simulated QE
    /// vendor id. Either one alone is enough for a production verifier to refuse it.
    /// </summary>
    public bool IsSimulated =>
        Header.AttestationKeyType == SimulatedAttestationKeyType || Header.QeVendorId.Span.SequenceEqual(SimulatedQeVendorId);

    /// <summary>SHA-256 of <see cref="Bytes"/>, the key of the verification cache.</summary>
    public byte[] ComputeHash() => SHA256.HashData(_bytes.Span);

    /// <summary>Parses a quote. Throws <see cref="QuoteFormatException"/> for any malformed input.</summary>
    public static TdxQuote Parse(ReadOnlySpan<byte> data)
    {
        // Measure first, then copy exactly the quote bytes so the parsed object owns immutable storage.
        var length = MeasureAndValidate(data);
        var copy = data[..length].ToArray();
        return ParseOwned(copy, data.Length - length);
    }

    /// <summary>Parses without throwing; <paramref name="error"/> holds the parser's exception on failure.</summary>
    public static bool TryParse(ReadOnlySpan<byte> data, out TdxQuote? quote, out QuoteFormatException? error)
    {
        try
        {
            quote = Parse(data);
            error = null;
            return true;
        }
        catch (QuoteFormatException e)
        {
            quote = null;
            error = e;
            return false;
        }
    }

    private static int MeasureAndValidate(ReadOnlySpan<byte> data)
    {
        var reader = new QuoteReader(data, 0);
        var (_, bodyLength) = ReadHeaderAndBodyFraming(ref reader);
        reader.ReadBytes(bodyLength, "td_report");
        var sigLen = reader.ReadLength32("signature_data_len");
        reader.ReadBytes(sigLen, "signature_data");
        return reader.Position;
    }

    private static (TdReportVersion Version, int BodyLength) ReadHeaderAndBodyFraming(ref QuoteReader reader)
    {
        var version = reader.ReadUInt16("version");
        if (version is not (4 or 5))
        {
            throw new QuoteFormatException($"version {version} is not supported (4 or 5)", "version", 0);
        }

        reader.ReadUInt16("att_key_type");
        var teeType = reader.ReadUInt32("tee_type");
        if (teeType != TdxTeeType)
        {
            throw new QuoteFormatException($"tee_type 0x{teeType:x} is not TDX (0x81)", "tee_type", 4);
        }

        reader.ReadBytes(QuoteHeader.Size - 8, "header");
        if (version == 4)
        {
            return (TdReportVersion.Td10, TdReport.Td10Size);
        }

        var typeAt = reader.QuoteOffset;
        var bodyType = reader.ReadUInt16("body_type");
        var sizeAt = reader.QuoteOffset;
        var bodySize = reader.ReadUInt32("body_size");
        var (expected, kind) = bodyType switch
        {
            2 => (TdReport.Td10Size, TdReportVersion.Td10),
            3 => (TdReport.Td15Size, TdReportVersion.Td15),
            _ => throw new QuoteFormatException(
                $"body type {bodyType} is not a TD report (2 = TD 1.0, 3 = TD 1.5)", "body_type", typeAt),
        };
        if (bodySize != (uint)expected)
        {
            throw new QuoteFormatException(
                $"body size {bodySize} does not match body type {bodyType} ({expected} bytes)", "body_size", sizeAt);
        }

        return (kind, expected);
    }

    private static TdxQuote ParseOwned(byte[] owned, int trailing)
    {
        ReadOnlyMemory<byte> quote = owned;
        var reader = new QuoteReader(owned, 0);
        var header = new QuoteHeader(
            reader.ReadUInt16("version"),
            reader.ReadUInt16("att_key_type"),
            reader.ReadUInt32("tee_type"),
            reader.ReadUInt16("qe_svn"),
            reader.ReadUInt16("pce_svn"),
            quote.Slice(12, 16),
            quote.Slice(28, 20));
        reader.ReadBytes(36, "header");

        TdReportVersion kind;
        if (header.Version == 4)
        {
            kind = TdReportVersion.Td10;
        }
        else
        {
            kind = (TdReportVersion)reader.ReadUInt16("body_type");
            reader.ReadUInt32("body_size");
        }

        var body = TdReport.Parse(ref reader, quote, kind);
        var signedLength = reader.Position;
        var sigLen = reader.ReadLength32("signature_data_len");
        var sigReader = new QuoteReader(owned.AsSpan(reader.Position, sigLen), reader.Position);
        var signatureData = QuoteSignatureData.Parse(ref sigReader, quote);
        sigReader.ExpectEnd("signature_data");
        return new TdxQuote(quote, header, body, signedLength, sigLen, signatureData, trailing);
    }
}
