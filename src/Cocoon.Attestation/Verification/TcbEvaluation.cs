using System.Globalization;
using Cocoon.Attestation.Collateral;
using Cocoon.Attestation.Quotes;

namespace Cocoon.Attestation.Verification;

/// <summary>TCB level matching for TDX (shared/reference/ton-and-tdx.md section 5 step 7; Intel QVL TcbLevelCheck).</summary>
internal static class TcbEvaluation
{
    /// <summary>
    /// The first TCB level (levels are ordered best first) whose SGX components and PCESVN are at most the PCK
    /// certificate's and whose TDX components are at most TEE_TCB_SVN. When TEE_TCB_SVN[1] (TDX module major
    /// version) is non-zero, bytes 0 and 1 are the module's and are checked against the module identity instead.
    /// </summary>
    public static TcbLevel? MatchPlatformLevel(TcbInfo info, PckCertificateExtensions pck, ReadOnlySpan<byte> teeTcbSvn)
    {
        var first = teeTcbSvn[1] > 0 ? 2 : 0;
        foreach (var level in info.Levels)
        {
            if (!AtLeast(pck.SgxTcbComponents, level.SgxComponents, 0) || pck.PceSvn < level.PceSvn)
            {
                continue;
            }

            if (AtLeast(teeTcbSvn, level.TdxComponents, first))
            {
                return level;
            }
        }

        return null;
    }

    /// <summary>
    /// The TDX module check: for module major version v = TEE_TCB_SVN[1] &gt; 0, identity <c>TDX_%02X</c> of v, its
    /// MRSIGNER and masked attributes against MRSIGNERSEAM and SEAMATTRIBUTES, and the first level whose isvsvn
    /// ≤ TEE_TCB_SVN[0]; for v = 0 the <c>tdxModule</c> MRSIGNER and attributes only (status UpToDate).
    /// </summary>
    public static TcbStatus? MatchTdxModule(TcbInfo info, TdReport body, out IReadOnlyList<string> advisories, out string? error)
    {
        advisories = [];
        error = null;
        var svn = body.TeeTcbSvn.Span;
        if (svn[1] == 0)
        {
            if (!body.MrSignerSeam.Span.SequenceEqual(info.TdxModuleMrSigner) || !Masked(body.SeamAttributes.Span, info.TdxModuleAttributes, info.TdxModuleAttributesMask))
            {
                error = "MRSIGNERSEAM or SEAMATTRIBUTES do not match the TCB info's tdxModule";
                return null;
            }

            return TcbStatus.UpToDate;
        }

        var id = "TDX_" + svn[1].ToString("X2", CultureInfo.InvariantCulture);
        var identity = info.TdxModuleIdentities.FirstOrDefault(m => string.Equals(m.Id, id, StringComparison.OrdinalIgnoreCase));
        if (identity is null)
        {
            error = "TCB info has no TDX module identity " + id;
            return null;
        }

        if (!body.MrSignerSeam.Span.SequenceEqual(identity.MrSigner) || !Masked(body.SeamAttributes.Span, identity.Attributes, identity.AttributesMask))
        {
            error = "MRSIGNERSEAM or SEAMATTRIBUTES do not match TDX module identity " + id;
            return null;
        }

        foreach (var (isvSvn, status, ids) in identity.Levels)
        {
            if (svn[0] >= isvSvn)
            {
                advisories = ids;
                return status;
            }
        }

        error = $"TDX module SVN {svn[0]} is below every level of {id}";
        return null;
    }

    private static bool AtLeast(ReadOnlySpan<byte> actual, ReadOnlySpan<byte> required, int from)
    {
        for (var i = from; i < required.Length; i++)
        {
            if (actual[i] < required[i])
            {
                return false;
            }
        }

        return true;
    }

    private static bool Masked(ReadOnlySpan<byte> actual, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> mask)
    {
        if (expected.Length != actual.Length || mask.Length != actual.Length)
        {
            return false;
        }

        for (var i = 0; i < mask.Length; i++)
        {
            if ((actual[i] & mask[i]) != (expected[i] & mask[i]))
            {
                return false;
            }
        }

        return true;
    }
}
