using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Cocoon.Attestation.Quotes;

/// <summary>
/// Writes a quote v4 (TD report 1.0) in the DCAP layout the parser reads, signing it the way Intel's QE does
/// (attestation key over header ‖ body; PCK key over the QE report; QE report data binding the attestation key).
/// Used by the simulated provider; never by anything that claims to be real TDX.
/// </summary>
internal static class QuoteBuilder
{
    public static byte[] Build(
        ushort attestationKeyType,
        ReadOnlySpan<byte> qeVendorId,
        TdReportFields td,
        ECDsa attestationKey,
        ECDsa pckKey,
        ReadOnlySpan<byte> qeReportTemplate,
        ReadOnlySpan<byte> qeAuthData,
        string pckChainPem)
    {
        var chain = Encoding.ASCII.GetBytes(pckChainPem);
        var headerAndBody = new byte[QuoteHeader.Size + TdReport.Td10Size];
        var w = headerAndBody.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(w, 4);
        BinaryPrimitives.WriteUInt16LittleEndian(w[2..], attestationKeyType);
        BinaryPrimitives.WriteUInt32LittleEndian(w[4..], TdxQuote.TdxTeeType);
        qeVendorId.CopyTo(w[12..28]);

        var body = w[QuoteHeader.Size..];
        var o = 0;
        void Put(Span<byte> b, ReadOnlySpan<byte> value, int size)
        {
            value[..Math.Min(size, value.Length)].CopyTo(b.Slice(o, size));
            o += size;
        }

        Put(body, td.TeeTcbSvn, 16);
        Put(body, td.MrSeam, 48);
        Put(body, td.MrSignerSeam, 48);
        Put(body, td.SeamAttributes, 8);
        Put(body, td.TdAttributes, 8);
        Put(body, td.Xfam, 8);
        Put(body, td.MrTd, 48);
        Put(body, td.MrConfigId, 48);
        Put(body, td.MrOwner, 48);
        Put(body, td.MrOwnerConfig, 48);
        Put(body, td.Rtmr0, 48);
        Put(body, td.Rtmr1, 48);
        Put(body, td.Rtmr2, 48);
        Put(body, td.Rtmr3, 48);
        Put(body, td.ReportData, 64);

        var parameters = attestationKey.ExportParameters(false);
        var publicKey = new byte[64];
        parameters.Q.X!.CopyTo(publicKey, 0);
        parameters.Q.Y!.CopyTo(publicKey, 32);

        var qeReport = qeReportTemplate.ToArray();
        var binding = SHA256.HashData([.. publicKey, .. qeAuthData]);
        qeReport.AsSpan(320, 64).Clear();
        binding.CopyTo(qeReport, 320);

        var quoteSignature = attestationKey.SignData(headerAndBody, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var qeSignature = pckKey.SignData(qeReport, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

        var innerLength = EnclaveReport.Size + 64 + 2 + qeAuthData.Length + 6 + chain.Length;
        var signatureDataLength = 64 + 64 + 6 + innerLength;
        var quote = new byte[headerAndBody.Length + 4 + signatureDataLength];
        headerAndBody.CopyTo(quote, 0);
        var p = headerAndBody.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(quote.AsSpan(p), (uint)signatureDataLength);
        p += 4;
        quoteSignature.CopyTo(quote, p);
        p += 64;
        publicKey.CopyTo(quote, p);
        p += 64;
        BinaryPrimitives.WriteUInt16LittleEndian(quote.AsSpan(p), (ushort)CertificationDataType.QeReportCertificationData);
        BinaryPrimitives.WriteUInt32LittleEndian(quote.AsSpan(p + 2), (uint)innerLength);
        p += 6;
        qeReport.CopyTo(quote, p);
        p += EnclaveReport.Size;
        qeSignature.CopyTo(quote, p);
        p += 64;
        BinaryPrimitives.WriteUInt16LittleEndian(quote.AsSpan(p), (ushort)qeAuthData.Length);
        p += 2;
        qeAuthData.CopyTo(quote.AsSpan(p));
        p += qeAuthData.Length;
        BinaryPrimitives.WriteUInt16LittleEndian(quote.AsSpan(p), (ushort)CertificationDataType.PckCertificateChain);
        BinaryPrimitives.WriteUInt32LittleEndian(quote.AsSpan(p + 2), (uint)chain.Length);
        p += 6;
        chain.CopyTo(quote, p);
        return quote;
    }
}

/// <summary>The TD report fields a builder writes; shorter values are zero-padded.</summary>
internal sealed record TdReportFields
{
    public byte[] TeeTcbSvn { get; init; } = new byte[16];
    public byte[] MrSeam { get; init; } = new byte[48];
    public byte[] MrSignerSeam { get; init; } = new byte[48];
    public byte[] SeamAttributes { get; init; } = new byte[8];
    public byte[] TdAttributes { get; init; } = new byte[8];
    public byte[] Xfam { get; init; } = new byte[8];
    public byte[] MrTd { get; init; } = new byte[48];
    public byte[] MrConfigId { get; init; } = new byte[48];
    public byte[] MrOwner { get; init; } = new byte[48];
    public byte[] MrOwnerConfig { get; init; } = new byte[48];
    public byte[] Rtmr0 { get; init; } = new byte[48];
    public byte[] Rtmr1 { get; init; } = new byte[48];
    public byte[] Rtmr2 { get; init; } = new byte[48];
    public byte[] Rtmr3 { get; init; } = new byte[48];
    public byte[] ReportData { get; init; } = new byte[64];
}
