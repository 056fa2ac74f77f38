using System.Security.Cryptography.X509Certificates;
using Cocoon.Attestation.Collateral;
using Cocoon.Attestation.Quotes;
using Cocoon.Attestation.Verification;

namespace Cocoon.Attestation.Tests;

/// <summary>
/// TCB level and TDX module matching on the Phala TCB info with edited inputs. Intel-signed collateral cannot be
/// re-signed, so the non-UpToDate statuses are exercised here on the matching logic itself (the signature and
/// window checks are covered in <see cref="VerificationTests"/>).
/// </summary>
public sealed class TcbEvaluationTests
{
    private static readonly TcbInfo PhalaTcbInfo = TcbInfo.Parse(VerificationTests.PhalaCollateral().TcbInfoJson);

    private static PckCertificateExtensions PhalaPck()
    {
        var quote = TdxQuote.Parse(Vectors.Read(Vectors.Phala.File));
        var certs = new X509Certificate2Collection();
        certs.ImportFromPem(quote.SignatureData.QeReportCertificationData.CertificationData.PckCertificateChainPem);
        return PckCertificateExtensions.Read(certs[0]);
    }

    private static TdReport PhalaBodyWith(params (int Index, byte Value)[] teeTcbSvn)
    {
        var bytes = Vectors.Read(Vectors.Phala.File);
        foreach (var (index, value) in teeTcbSvn)
        {
            bytes[0x30 + index] = value;
        }

        return TdxQuote.Parse(bytes).Body;
    }

    [Fact]
    public void Pck_extension_of_the_phala_leaf()
    {
        // Values cross-checked with @phala/dcap-qvl utils.getCpuSvn/getPceSvn/getFmspc.
        var pck = PhalaPck();
        Assert.Equal("03030202040100050000000000000000", Convert.ToHexStringLower(pck.SgxTcbComponents));
        Assert.Equal("03030202040100050000000000000000", Convert.ToHexStringLower(pck.CpuSvn));
        Assert.Equal(11, pck.PceSvn);
        Assert.Equal("b0c06f000000", Convert.ToHexStringLower(pck.Fmspc));
        Assert.Equal("0000", Convert.ToHexStringLower(pck.PceId));
        Assert.Equal(16, pck.Ppid.Length);
    }

    [Fact]
    public void Tcb_info_parses_levels_and_module_identities()
    {
        Assert.Equal("TDX", PhalaTcbInfo.Id);
        Assert.Equal(3, PhalaTcbInfo.Version);
        Assert.Equal(2, PhalaTcbInfo.Levels.Count);
        Assert.Equal(TcbStatus.UpToDate, PhalaTcbInfo.Levels[0].Status);
        Assert.Equal(TcbStatus.OutOfDate, PhalaTcbInfo.Levels[1].Status);
        Assert.Equal(14, PhalaTcbInfo.Levels[1].AdvisoryIds.Count);
        Assert.Equal(["TDX_03", "TDX_01"], PhalaTcbInfo.TdxModuleIdentities.Select(m => m.Id));
    }

    [Fact]
    public void Phala_platform_matches_the_first_level_and_module_tdx_01()
    {
        var body = PhalaBodyWith();
        var level = TcbEvaluation.MatchPlatformLevel(PhalaTcbInfo, PhalaPck(), body.TeeTcbSvn.Span);
        Assert.Equal(TcbStatus.UpToDate, level!.Status);
        Assert.Equal(TcbStatus.UpToDate, TcbEvaluation.MatchTdxModule(PhalaTcbInfo, body, out _, out var error));
        Assert.Null(error);
    }

    [Fact]
    public void Lower_pcesvn_falls_to_the_out_of_date_level_with_its_advisories()
    {
        var pck = PhalaPck() with { PceSvn = 6 };
        var level = TcbEvaluation.MatchPlatformLevel(PhalaTcbInfo, pck, PhalaBodyWith().TeeTcbSvn.Span);
        Assert.Equal(TcbStatus.OutOfDate, level!.Status);
        Assert.Contains("INTEL-SA-00837", level.AdvisoryIds);
    }

    [Fact]
    public void Pcesvn_below_every_level_matches_nothing()
    {
        var pck = PhalaPck() with { PceSvn = 4 };
        Assert.Null(TcbEvaluation.MatchPlatformLevel(PhalaTcbInfo, pck, PhalaBodyWith().TeeTcbSvn.Span));
    }

    [Fact]
    public void Sgx_component_below_every_level_matches_nothing()
    {
        var components = PhalaPck().SgxTcbComponents.ToArray();
        components[7] = 4; // SEAMLDR ACM: both levels need 5
        var pck = PhalaPck() with { SgxTcbComponents = components };
        Assert.Null(TcbEvaluation.MatchPlatformLevel(PhalaTcbInfo, pck, PhalaBodyWith().TeeTcbSvn.Span));
    }

    [Fact]
    public void Tdx_late_microcode_below_every_level_matches_nothing()
    {
        var body = PhalaBodyWith((2, 1)); // TEE_TCB_SVN[2]: both levels need 2
        Assert.Null(TcbEvaluation.MatchPlatformLevel(PhalaTcbInfo, PhalaPck(), body.TeeTcbSvn.Span));
    }

    [Fact]
    public void Module_svn_bytes_are_left_to_the_module_identity_when_the_major_version_is_set()
    {
        // TEE_TCB_SVN[0] = 3 is below tdxtcbcomponents[0] = 5, but with TEE_TCB_SVN[1] > 0 bytes 0-1 belong to
        // the module identity (reference step 7), which rates SVN 3 of TDX_01 as OutOfDate.
        var body = PhalaBodyWith((0, 3));
        Assert.Equal(TcbStatus.UpToDate, TcbEvaluation.MatchPlatformLevel(PhalaTcbInfo, PhalaPck(), body.TeeTcbSvn.Span)!.Status);
        Assert.Equal(TcbStatus.OutOfDate, TcbEvaluation.MatchTdxModule(PhalaTcbInfo, body, out _, out _));
    }

    [Fact]
    public void Module_svn_below_every_level_is_an_error()
    {
        Assert.Null(TcbEvaluation.MatchTdxModule(PhalaTcbInfo, PhalaBodyWith((0, 1)), out _, out var error));
        Assert.Contains("TDX_01", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_module_major_version_is_an_error()
    {
        Assert.Null(TcbEvaluation.MatchTdxModule(PhalaTcbInfo, PhalaBodyWith((1, 2)), out _, out var error));
        Assert.Contains("TDX_02", error, StringComparison.Ordinal);
        Assert.Equal(TcbStatus.UpToDate, TcbEvaluation.MatchTdxModule(PhalaTcbInfo, PhalaBodyWith((1, 3)), out _, out _));
    }

    [Fact]
    public void Major_version_zero_checks_the_tdx_module_signer_only()
    {
        var body = PhalaBodyWith((1, 0));
        Assert.Equal(TcbStatus.UpToDate, TcbEvaluation.MatchTdxModule(PhalaTcbInfo, body, out _, out _));
        // With byte 1 zero, bytes 0.. are compared with tdxtcbcomponents from index 0: SVN 6 >= 5 still matches.
        Assert.Equal(TcbStatus.UpToDate, TcbEvaluation.MatchPlatformLevel(PhalaTcbInfo, PhalaPck(), body.TeeTcbSvn.Span)!.Status);
        Assert.Null(TcbEvaluation.MatchPlatformLevel(PhalaTcbInfo, PhalaPck(), PhalaBodyWith((1, 0), (0, 4)).TeeTcbSvn.Span));
    }

    [Fact]
    public void Wrong_seam_signer_is_an_error()
    {
        var bytes = Vectors.Read(Vectors.Phala.File);
        bytes[0x70] = 1; // MRSIGNERSEAM
        Assert.Null(TcbEvaluation.MatchTdxModule(PhalaTcbInfo, TdxQuote.Parse(bytes).Body, out _, out var error));
        Assert.Contains("MRSIGNERSEAM", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Qe_identity_parses()
    {
        var identity = QeIdentity.Parse(VerificationTests.PhalaCollateral().QeIdentityJson);
        Assert.Equal("TD_QE", identity.Id);
        Assert.Equal(2, identity.IsvProdId);
        Assert.Equal("dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5", Convert.ToHexStringLower(identity.MrSigner));
        Assert.Equal(0xFFFFFFFFu, identity.MiscSelectMask);
        Assert.Single(identity.Levels);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("not json")]
    [InlineData("""{"id":"TDX","version":3}""")]
    public void Malformed_tcb_info_throws_format_exception(string json) =>
        Assert.Throws<FormatException>(() => TcbInfo.Parse(json));

    [Fact]
    public void Malformed_collateral_names_the_missing_key()
    {
        var e = Assert.Throws<FormatException>(() => QuoteCollateral.Parse("""{"tcb_info":"{}"}"""));
        Assert.Contains("tcb_info_signature", e.Message, StringComparison.Ordinal);
    }
}
