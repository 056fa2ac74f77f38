using System.Buffers.Binary;

namespace Cocoon.Attestation.Quotes;

/// <summary>
/// A 384-byte SGX report body; in a TDX quote it is the Quoting Enclave's report (sgx_report_body_t in Intel's
/// sgx_report.h). Offsets: cpu_svn 0, misc_select 16, attributes 48, mr_enclave 64, mr_signer 128,
/// isv_prod_id 256, isv_svn 258, report_data 320.
/// </summary>
public sealed record EnclaveReport
{
    /// <summary>Size of an SGX report body.</summary>
    public const int Size = 384;

    /// <summary>The 384 bytes the PCK key signs.</summary>
    public required ReadOnlyMemory<byte> Raw { get; init; }

    public required ReadOnlyMemory<byte> CpuSvn { get; init; }

    public required uint MiscSelect { get; init; }

    public required ReadOnlyMemory<byte> Attributes { get; init; }

    public required ReadOnlyMemory<byte> MrEnclave { get; init; }

    public required ReadOnlyMemory<byte> MrSigner { get; init; }

    public required ushort IsvProdId { get; init; }

    public required ushort IsvSvn { get; init; }

    /// <summary>64 bytes: SHA-256(attestation key ‖ QE auth data) then 32 zero bytes.</summary>
    public required ReadOnlyMemory<byte> ReportData { get; init; }

    internal static EnclaveReport Parse(ref QuoteReader reader, ReadOnlyMemory<byte> quote)
    {
        var start = reader.QuoteOffset;
        reader.ReadBytes(Size, "qe_report");
        var raw = quote.Slice(start, Size);
        var span = raw.Span;
        return new EnclaveReport
        {
            Raw = raw,
            CpuSvn = raw.Slice(0, 16),
            MiscSelect = BinaryPrimitives.ReadUInt32LittleEndian(span[16..]),
            Attributes = raw.Slice(48, 16),
            MrEnclave = raw.Slice(64, 32),
            MrSigner = raw.Slice(128, 32),
            IsvProdId = BinaryPrimitives.ReadUInt16LittleEndian(span[256..]),
            IsvSvn = BinaryPrimitives.ReadUInt16LittleEndian(span[258..]),
            ReportData = raw.Slice(320, 64),
        };
    }
}
