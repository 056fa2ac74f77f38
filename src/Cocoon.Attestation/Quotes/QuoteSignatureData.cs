namespace Cocoon.Attestation.Quotes;

/// <summary>
/// ECDSA 256-bit quote signature data (Intel TDX DCAP Quoting Library API, Appendix 3): the quote signature and
/// the attestation public key (both raw big-endian, 64 bytes), then certification data of type 6.
/// </summary>
/// <param name="Signature">r ‖ s over SHA-256(header ‖ body).</param>
/// <param name="AttestationKey">X ‖ Y of the P-256 attestation key.</param>
/// <param name="CertificationData">The outer certification data element (type 6) as read.</param>
/// <param name="QeReportCertificationData">Its parsed content.</param>
public sealed record QuoteSignatureData(
    ReadOnlyMemory<byte> Signature,
    ReadOnlyMemory<byte> AttestationKey,
    CertificationData CertificationData,
    QeReportCertificationData QeReportCertificationData)
{
    internal static QuoteSignatureData Parse(ref QuoteReader reader, ReadOnlyMemory<byte> quote)
    {
        var sigAt = reader.QuoteOffset;
        reader.ReadBytes(64, "quote_signature");
        var keyAt = reader.QuoteOffset;
        reader.ReadBytes(64, "ecdsa_attestation_key");

        var typeAt = reader.QuoteOffset;
        var outer = CertificationData.Parse(ref reader, quote, "certification_data");
        if (outer.Type != CertificationDataType.QeReportCertificationData)
        {
            throw new QuoteFormatException(
                $"type {(ushort)outer.Type} is not supported; TDX quotes carry type 6 (QE report certification data)",
                "certification_data.cert_data_type",
                typeAt);
        }

        // Parse the nested structure inside exactly the bytes the outer size field claims.
        var inner = new QuoteReader(outer.Data.Span, typeAt + 6);
        var qeReport = EnclaveReport.Parse(ref inner, quote);
        var qeSigAt = inner.QuoteOffset;
        inner.ReadBytes(64, "qe_report_signature");
        var authSize = inner.ReadLength16("qe_auth_data.size");
        var authAt = inner.QuoteOffset;
        inner.ReadBytes(authSize, "qe_auth_data");
        var nested = CertificationData.Parse(ref inner, quote, "qe_certification_data");
        inner.ExpectEnd("qe_report_certification_data");

        return new QuoteSignatureData(
            quote.Slice(sigAt, 64),
            quote.Slice(keyAt, 64),
            outer,
            new QeReportCertificationData(qeReport, quote.Slice(qeSigAt, 64), quote.Slice(authAt, authSize), nested));
    }
}
