namespace Cocoon.Attestation.Quotes;

/// <summary>Which TD report layout a quote body carries (DCAP quote v5 <c>body_type</c>).</summary>
public enum TdReportVersion
{
    /// <summary>TD report 1.0, 584 bytes (quote v4, or v5 body type 2).</summary>
    Td10 = 2,

    /// <summary>TD report 1.5, 648 bytes: adds TEE_TCB_SVN_2 and MRSERVICETD (v5 body type 3).</summary>
    Td15 = 3,
}

/// <summary>
/// The TD report inside a quote (TDX DCAP Quoting Library API, Appendix 3 "TD Quote Body"; go-tdx-guest abi.go).
/// All measurement registers are 48-byte SHA-384 values as the TDX module reports them.
/// </summary>
public sealed record TdReport
{
    /// <summary>Size of a TD report 1.0 body.</summary>
    public const int Td10Size = 584;

    /// <summary>Size of a TD report 1.5 body.</summary>
    public const int Td15Size = 648;

    public required TdReportVersion Version { get; init; }

    /// <summary>The whole body as signed.</summary>
    public required ReadOnlyMemory<byte> Raw { get; init; }

    /// <summary>TEE_TCB_SVN (16): [0] TDX module SVN, [1] TDX module major version, then TDX TCB components.</summary>
    public required ReadOnlyMemory<byte> TeeTcbSvn { get; init; }

    public required ReadOnlyMemory<byte> MrSeam { get; init; }

    public required ReadOnlyMemory<byte> MrSignerSeam { get; init; }

    public required ReadOnlyMemory<byte> SeamAttributes { get; init; }

    /// <summary>TDATTRIBUTES (8); bit 0 of byte 0 is TUD.DEBUG.</summary>
    public required ReadOnlyMemory<byte> TdAttributes { get; init; }

    public required ReadOnlyMemory<byte> Xfam { get; init; }

    public required ReadOnlyMemory<byte> MrTd { get; init; }

    public required ReadOnlyMemory<byte> MrConfigId { get; init; }

    public required ReadOnlyMemory<byte> MrOwner { get; init; }

    public required ReadOnlyMemory<byte> MrOwnerConfig { get; init; }

    public required ReadOnlyMemory<byte> Rtmr0 { get; init; }

    public required ReadOnlyMemory<byte> Rtmr1 { get; init; }

    public required ReadOnlyMemory<byte> Rtmr2 { get; init; }

    public required ReadOnlyMemory<byte> Rtmr3 { get; init; }

    /// <summary>REPORTDATA (64): whatever the TD asked to bind (RA-TLS: SHA-512 of key and claims).</summary>
    public required ReadOnlyMemory<byte> ReportData { get; init; }

    /// <summary>TEE_TCB_SVN_2 (16) in TD report 1.5; empty for 1.0.</summary>
    public required ReadOnlyMemory<byte> TeeTcbSvn2 { get; init; }

    /// <summary>MRSERVICETD (48) in TD report 1.5; empty for 1.0.</summary>
    public required ReadOnlyMemory<byte> MrServiceTd { get; init; }

    /// <summary>RTMR0..3 by index.</summary>
    public ReadOnlyMemory<byte> GetRtmr(int index) => index switch
    {
        0 => Rtmr0,
        1 => Rtmr1,
        2 => Rtmr2,
        3 => Rtmr3,
        _ => throw new ArgumentOutOfRangeException(nameof(index), index, "RTMR index is 0..3"),
    };

    /// <summary>True when TDATTRIBUTES.TUD.DEBUG (bit 0) is set: the host can read the TD's memory.</summary>
    public bool IsDebug => (TdAttributes.Span[0] & 0x01) != 0;

    internal static TdReport Parse(ref QuoteReader reader, ReadOnlyMemory<byte> quote, TdReportVersion version)
    {
        var start = reader.QuoteOffset;
        ReadOnlyMemory<byte> Next(ref QuoteReader r, int length, string field)
        {
            var at = r.QuoteOffset;
            r.ReadBytes(length, field);
            return quote.Slice(at, length);
        }

        var teeTcbSvn = Next(ref reader, 16, "tee_tcb_svn");
        var mrSeam = Next(ref reader, 48, "mr_seam");
        var mrSignerSeam = Next(ref reader, 48, "mr_signer_seam");
        var seamAttributes = Next(ref reader, 8, "seam_attributes");
        var tdAttributes = Next(ref reader, 8, "td_attributes");
        var xfam = Next(ref reader, 8, "xfam");
        var mrTd = Next(ref reader, 48, "mr_td");
        var mrConfigId = Next(ref reader, 48, "mr_config_id");
        var mrOwner = Next(ref reader, 48, "mr_owner");
        var mrOwnerConfig = Next(ref reader, 48, "mr_owner_config");
        var rtmr0 = Next(ref reader, 48, "rtmr0");
        var rtmr1 = Next(ref reader, 48, "rtmr1");
        var rtmr2 = Next(ref reader, 48, "rtmr2");
        var rtmr3 = Next(ref reader, 48, "rtmr3");
        var reportData = Next(ref reader, 64, "report_data");
        var teeTcbSvn2 = ReadOnlyMemory<byte>.Empty;
        var mrServiceTd = ReadOnlyMemory<byte>.Empty;
        if (version == TdReportVersion.Td15)
        {
            teeTcbSvn2 = Next(ref reader, 16, "tee_tcb_svn_2");
            mrServiceTd = Next(ref reader, 48, "mr_service_td");
        }

        return new TdReport
        {
            Version = version,
            Raw = quote[start..reader.QuoteOffset],
            TeeTcbSvn = teeTcbSvn,
            MrSeam = mrSeam,
            MrSignerSeam = mrSignerSeam,
            SeamAttributes = seamAttributes,
            TdAttributes = tdAttributes,
            Xfam = xfam,
            MrTd = mrTd,
            MrConfigId = mrConfigId,
            MrOwner = mrOwner,
            MrOwnerConfig = mrOwnerConfig,
            Rtmr0 = rtmr0,
            Rtmr1 = rtmr1,
            Rtmr2 = rtmr2,
            Rtmr3 = rtmr3,
            ReportData = reportData,
            TeeTcbSvn2 = teeTcbSvn2,
            MrServiceTd = mrServiceTd,
        };
    }
}
