namespace Cocoon.Attestation.Quotes;

/// <summary>
/// The 48-byte DCAP quote header (Intel TDX DCAP Quoting Library API, Appendix 3 "Quote Header"; identical in v4 and v5).
/// </summary>
/// <param name="Version">Quote format version: 4 or 5.</param>
/// <param name="AttestationKeyType">2 = ECDSA-256-with-P-256; <see cref="TdxQuote.SimulatedAttestationKeyType"/> marks a devnet quote.</param>
/// <param name="TeeType">0x81 = TDX.</param>
/// <param name="QeSvn">Bytes 8..10: QE SVN (reserved in the v4 spec, filled by Intel's QE).</param>
/// <param name="PceSvn">Bytes 10..12: PCE SVN (reserved in the v4 spec, filled by Intel's QE).</param>
/// <param name="QeVendorId">16 bytes; Intel's QE is <c>939a7233f79c4ca9940a0db3957f0607</c>.</param>
/// <param name="UserData">20 bytes of QE-defined data (the first 16 are the QE identity of Intel's QE).</param>
public sealed record QuoteHeader(
    ushort Version,
    ushort AttestationKeyType,
    uint TeeType,
    ushort QeSvn,
    ushort PceSvn,
    ReadOnlyMemory<byte> QeVendorId,
    ReadOnlyMemory<byte> UserData)
{
    /// <summary>Size of the header in bytes.</summary>
    public const int Size = 48;
}
