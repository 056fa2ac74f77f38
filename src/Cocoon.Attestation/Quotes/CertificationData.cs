using System.Text;

namespace Cocoon.Attestation.Quotes;

/// <summary>Certification data types (Intel SGX ECDSA QuoteLibReference, "Certification Data").</summary>
public enum CertificationDataType : ushort
{
    PpidCleartext = 1,
    PpidRsa2048Oaep = 2,
    PpidRsa3072Oaep = 3,
    PckCleartextCertificate = 4,

    /// <summary>PCK certificate chain as concatenated PEM: leaf, Platform/Processor CA, root.</summary>
    PckCertificateChain = 5,

    /// <summary>QE report certification data: QE report, its signature, QE auth data and nested certification data.</summary>
    QeReportCertificationData = 6,

    PlatformManifest = 7,
}

/// <summary>A certification data element: <c>type:u16 size:u32 data[size]</c>.</summary>
/// <param name="Type">The element type; unknown values are kept as read.</param>
/// <param name="Data">The <c>size</c> bytes that follow.</param>
public sealed record CertificationData(CertificationDataType Type, ReadOnlyMemory<byte> Data)
{
    /// <summary>The PEM text of a type 5 element (ASCII; a trailing NUL some QEs append is dropped).</summary>
    public string? PckCertificateChainPem =>
        Type == CertificationDataType.PckCertificateChain ? Encoding.ASCII.GetString(Data.Span.TrimEnd((byte)0)) : null;

    internal static CertificationData Parse(ref QuoteReader reader, ReadOnlyMemory<byte> quote, string name)
    {
        var type = reader.ReadUInt16(name + ".cert_data_type");
        var size = reader.ReadLength32(name + ".cert_data_size");
        var at = reader.QuoteOffset;
        reader.ReadBytes(size, name + ".cert_data");
        return new CertificationData((CertificationDataType)type, quote.Slice(at, size));
    }
}

/// <summary>
/// Certification data type 6 (Intel TDX DCAP Quoting Library API, Appendix 3 "QE Report Certification Data"):
/// the QE report, the PCK signature over it, the QE authentication data and the nested certification data
/// (normally type 5, the PCK chain).
/// </summary>
public sealed record QeReportCertificationData(
    EnclaveReport QeReport,
    ReadOnlyMemory<byte> QeReportSignature,
    ReadOnlyMemory<byte> QeAuthData,
    CertificationData CertificationData);
