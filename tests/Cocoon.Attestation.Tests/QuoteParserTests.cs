using System.Buffers.Binary;
using Cocoon.Attestation.Quotes;

namespace Cocoon.Attestation.Tests;

public sealed class QuoteParserTests
{
    private static string Hex(ReadOnlyMemory<byte> bytes) => Convert.ToHexStringLower(bytes.Span);

    [Theory]
    [MemberData(nameof(Vectors.Names), MemberType = typeof(Vectors))]
    public void Parses_every_field_of_the_vector(string name)
    {
        var v = Vectors.ByName(name);
        var bytes = Vectors.Read(v.File);
        var quote = TdxQuote.Parse(bytes);

        Assert.Equal(v.Version, quote.Header.Version);
        Assert.Equal(v.AttestationKeyType, quote.Header.AttestationKeyType);
        Assert.Equal((uint)v.TeeType, quote.Header.TeeType);
        Assert.Equal(v.QeSvn, quote.Header.QeSvn);
        Assert.Equal(v.PceSvn, quote.Header.PceSvn);
        Assert.Equal(v.QeVendorId, Hex(quote.Header.QeVendorId));
        Assert.Equal(v.UserData, Hex(quote.Header.UserData));

        var td = quote.Body;
        Assert.Equal(v.TeeTcbSvn, Hex(td.TeeTcbSvn));
        Assert.Equal(v.MrSeam, Hex(td.MrSeam));
        Assert.Equal(v.MrSignerSeam, Hex(td.MrSignerSeam));
        Assert.Equal(v.SeamAttributes, Hex(td.SeamAttributes));
        Assert.Equal(v.TdAttributes, Hex(td.TdAttributes));
        Assert.Equal(v.Xfam, Hex(td.Xfam));
        Assert.Equal(v.Mrtd, Hex(td.MrTd));
        Assert.Equal(v.MrConfigId, Hex(td.MrConfigId));
        Assert.Equal(v.MrOwner, Hex(td.MrOwner));
        Assert.Equal(v.MrOwnerConfig, Hex(td.MrOwnerConfig));
        Assert.Equal(v.Rtmr0, Hex(td.Rtmr0));
        Assert.Equal(v.Rtmr1, Hex(td.Rtmr1));
        Assert.Equal(v.Rtmr2, Hex(td.Rtmr2));
        Assert.Equal(v.Rtmr3, Hex(td.Rtmr3));
        Assert.Equal(v.ReportData, Hex(td.ReportData));
        Assert.Equal(v.TeeTcbSvn2, Hex(td.TeeTcbSvn2));
        Assert.Equal(v.MrServiceTd, Hex(td.MrServiceTd));
        Assert.Equal(v.Version == 5 ? TdReportVersion.Td15 : TdReportVersion.Td10, td.Version);
        Assert.False(td.IsDebug);

        Assert.Equal(v.SignedLength, quote.SignedLength);
        var sig = quote.SignatureData;
        Assert.Equal(v.QuoteSignature, Hex(sig.Signature));
        Assert.Equal(v.AttestationKey, Hex(sig.AttestationKey));
        Assert.Equal(CertificationDataType.QeReportCertificationData, sig.CertificationData.Type);
        var qe = sig.QeReportCertificationData;
        Assert.Equal(v.QeReport, Hex(qe.QeReport.Raw));
        Assert.Equal(v.QeReportSignature, Hex(qe.QeReportSignature));
        Assert.Equal(v.QeAuthData, Hex(qe.QeAuthData));
        Assert.Equal(v.CertDataType, (int)qe.CertificationData.Type);
        Assert.Equal(v.CertDataLength, qe.CertificationData.Data.Length);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", qe.CertificationData.PckCertificateChainPem, StringComparison.Ordinal);

        // The QE report's own fields, at their SGX report body offsets.
        var report = Convert.FromHexString(v.QeReport);
        Assert.Equal(Hex(report.AsMemory(0, 16)), Hex(qe.QeReport.CpuSvn));
        Assert.Equal(BinaryPrimitives.ReadUInt32LittleEndian(report.AsSpan(16)), qe.QeReport.MiscSelect);
        Assert.Equal(Hex(report.AsMemory(48, 16)), Hex(qe.QeReport.Attributes));
        Assert.Equal(Hex(report.AsMemory(64, 32)), Hex(qe.QeReport.MrEnclave));
        Assert.Equal("dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5", Hex(qe.QeReport.MrSigner));
        Assert.Equal(2, qe.QeReport.IsvProdId);
        Assert.Equal(Hex(report.AsMemory(320, 64)), Hex(qe.QeReport.ReportData));

        // Parsing stops at the end of the signature data; the rest of the file is padding.
        Assert.Equal(v.Length, quote.Bytes.Length);
        Assert.Equal(bytes.Length - v.Length, quote.TrailingLength);
        Assert.Equal(v.Length, quote.SignedLength + 4 + quote.SignatureDataLength);
    }

    [Fact]
    public void Qe_isvsvn_of_the_spr_vector_is_4()
    {
        // shared/reference/ton-and-tdx.md section 5 sample table: "QE isvsvn 4".
        var quote = TdxQuote.Parse(Vectors.Read(Vectors.V4.File));
        Assert.Equal(4, quote.SignatureData.QeReportCertificationData.QeReport.IsvSvn);
    }

    [Theory]
    [MemberData(nameof(Vectors.Names), MemberType = typeof(Vectors))]
    public void Every_truncation_throws_the_documented_exception(string name)
    {
        var v = Vectors.ByName(name);
        var bytes = Vectors.Read(v.File);
        for (var length = 0; length < v.Length; length++)
        {
            var e = Assert.Throws<QuoteFormatException>(() => TdxQuote.Parse(bytes.AsSpan(0, length)));
            Assert.InRange(e.Offset, 0, length);
        }

        Assert.Equal(v.Length, TdxQuote.Parse(bytes.AsSpan(0, v.Length)).Bytes.Length);
    }

    [Fact]
    public void Unsupported_version_is_named_with_its_offset()
    {
        var bytes = Vectors.Read(Vectors.Phala.File);
        bytes[0] = 3;
        var e = Assert.Throws<QuoteFormatException>(() => TdxQuote.Parse(bytes));
        Assert.Equal("version", e.Field);
        Assert.Equal(0, e.Offset);
        Assert.Contains("version 3", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sgx_tee_type_is_refused()
    {
        var bytes = Vectors.Read(Vectors.Phala.File);
        bytes[4] = 0;
        var e = Assert.Throws<QuoteFormatException>(() => TdxQuote.Parse(bytes));
        Assert.Equal("tee_type", e.Field);
        Assert.Equal(4, e.Offset);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void V5_body_type_other_than_td_report_is_refused(ushort bodyType)
    {
        var bytes = Vectors.Read(Vectors.V5.File);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0x30), bodyType);
        var e = Assert.Throws<QuoteFormatException>(() => TdxQuote.Parse(bytes));
        Assert.Equal("body_type", e.Field);
        Assert.Equal(0x30, e.Offset);
    }

    [Fact]
    public void V5_body_size_must_match_its_type()
    {
        var bytes = Vectors.Read(Vectors.V5.File);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(0x32), 584);
        var e = Assert.Throws<QuoteFormatException>(() => TdxQuote.Parse(bytes));
        Assert.Equal("body_size", e.Field);
        Assert.Equal(0x32, e.Offset);
    }

    [Fact]
    public void V5_with_td10_body_parses_as_td10()
    {
        // Build a v5 quote with body type 2 from the v4 vector: header, type 2, size 584, body, signature data.
        var v4 = Vectors.Read(Vectors.Phala.File).AsSpan(0, Vectors.Phala.Length);
        var v5 = new byte[v4.Length + 6];
        v4[..48].CopyTo(v5);
        v5[0] = 5;
        BinaryPrimitives.WriteUInt16LittleEndian(v5.AsSpan(48), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(v5.AsSpan(50), 584);
        v4[48..].CopyTo(v5.AsSpan(54));
        var quote = TdxQuote.Parse(v5);
        Assert.Equal(TdReportVersion.Td10, quote.Body.Version);
        Assert.Equal(Vectors.Phala.Mrtd, Hex(quote.Body.MrTd));
        Assert.Equal(0x36 + 584, quote.SignedLength);
        Assert.True(quote.Body.TeeTcbSvn2.IsEmpty);
    }

    [Fact]
    public void Signature_data_length_beyond_the_buffer_is_refused()
    {
        var bytes = Vectors.Read(Vectors.Phala.File);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(0x278), 0x7fff_ffff);
        var e = Assert.Throws<QuoteFormatException>(() => TdxQuote.Parse(bytes));
        Assert.Equal("signature_data_len", e.Field);
        Assert.Equal(0x278, e.Offset);
    }

    [Fact]
    public void Outer_certification_data_size_beyond_signature_data_is_refused()
    {
        var bytes = Vectors.Read(Vectors.Phala.File);
        // 0x27C + 128: cert_data_type (2) then cert_data_size (4).
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(0x2FE), 4167);
        var e = Assert.Throws<QuoteFormatException>(() => TdxQuote.Parse(bytes));
        Assert.Equal("certification_data.cert_data_size", e.Field);
        Assert.Equal(0x2FE, e.Offset);
    }

    [Fact]
    public void Qe_auth_data_size_beyond_its_parent_is_refused()
    {
        var bytes = Vectors.Read(Vectors.Phala.File);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(0x4C2), 0xffff);
        var e = Assert.Throws<QuoteFormatException>(() => TdxQuote.Parse(bytes));
        Assert.Equal("qe_auth_data.size", e.Field);
        Assert.Equal(0x4C2, e.Offset);
    }

    [Fact]
    public void Outer_certification_data_type_must_be_6()
    {
        var bytes = Vectors.Read(Vectors.Phala.File);
        bytes[0x2FC] = 5;
        var e = Assert.Throws<QuoteFormatException>(() => TdxQuote.Parse(bytes));
        Assert.Equal("certification_data.cert_data_type", e.Field);
        Assert.Equal(0x2FC, e.Offset);
    }

    [Fact]
    public void Parsed_quote_does_not_alias_the_input()
    {
        var bytes = Vectors.Read(Vectors.Phala.File);
        var quote = TdxQuote.Parse(bytes);
        Array.Clear(bytes);
        Assert.Equal(Vectors.Phala.Mrtd, Hex(quote.Body.MrTd));
    }

    [Fact]
    public void Rtmr_by_index_matches_named_properties()
    {
        var quote = TdxQuote.Parse(Vectors.Read(Vectors.V4.File));
        Assert.Equal(Vectors.V4.Rtmr2, Hex(quote.Body.GetRtmr(2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => quote.Body.GetRtmr(4));
    }
}
