using Cocoon.Attestation.Collateral;
using Cocoon.Attestation.Verification;

namespace Cocoon.Attestation.Policy;

/// <summary>
/// What a verified quote must also satisfy before its TD is trusted (DESIGN.md sections 2 and 7): an allowed image
/// hash, allowed MRTD and RTMR values, no debug TD, and a good enough TCB status. Empty allow-lists allow anything;
/// hex values are compared case-insensitively. Immutable.
/// </summary>
public sealed record AttestationPolicy
{
    /// <summary>Allowed image hashes (hex of <see cref="ImageHash"/>); empty: any.</summary>
    public IReadOnlyCollection<string> AllowedImageHashes { get; init; } = [];

    /// <summary>Allowed MRTD values (hex); empty: any.</summary>
    public IReadOnlyCollection<string> AllowedMrTds { get; init; } = [];

    /// <summary>Allowed values per RTMR index 0..3 (hex); an index that is absent or empty allows any value.</summary>
    public IReadOnlyDictionary<int, IReadOnlyCollection<string>> AllowedRtmrs { get; init; } = new Dictionary<int, IReadOnlyCollection<string>>();

    /// <summary>Accept TDs with TDATTRIBUTES.DEBUG set. False by default: the host can read a debug TD's memory.</summary>
    public bool AllowDebug { get; init; }

    /// <summary>
    /// The least trustworthy TCB status accepted (statuses are ordered best to worst, so a worse one is refused). When
    /// set, a result without a TCB status (no collateral, or a simulated quote) is refused. Null: not checked.
    /// </summary>
    public TcbStatus? MinimumTcbStatus { get; init; }

    /// <summary>
    /// TDATTRIBUTES bits (as the little-endian 64-bit value, <see cref="TdAttributeBits"/>) that must be set. Zero: none.
    /// <see cref="Production"/> requires <see cref="TdAttributeBits.SeptVeDisable"/>.
    /// </summary>
    public ulong RequiredTdAttributes { get; init; }

    /// <summary>
    /// TDATTRIBUTES bits that must be clear (DEBUG is governed by <see cref="AllowDebug"/> on its own). Zero: none.
    /// <see cref="Production"/> forbids <see cref="TdAttributeBits.Pks"/>, <see cref="TdAttributeBits.KeyLocker"/> and
    /// <see cref="TdAttributeBits.Perfmon"/>.
    /// </summary>
    public ulong ForbiddenTdAttributes { get; init; }

    /// <summary>XFAM bits (the little-endian 64-bit value, XCR0/IA32_XSS layout) that must be set. Zero: none.</summary>
    public ulong RequiredXfam { get; init; }

    /// <summary>XFAM bits that must be clear (e.g. <see cref="XfamBits.Lbr"/>, <see cref="XfamBits.Pt"/>). Zero: none.</summary>
    public ulong ForbiddenXfam { get; init; }

    /// <summary>
    /// The TD attribute checks a production policy makes (combine with allow-lists via <c>with</c>): debug refused,
    /// SEPT_VE_DISABLE required (without it the untrusted VMM can make the guest take #VE on EPT violations), and PKS,
    /// KL and PERFMON forbidden (features the image does not use, which widen what the host can observe or inject).
    /// </summary>
    public static AttestationPolicy Production { get; } = new()
    {
        RequiredTdAttributes = TdAttributeBits.SeptVeDisable,
        ForbiddenTdAttributes = TdAttributeBits.Pks | TdAttributeBits.KeyLocker | TdAttributeBits.Perfmon,
    };

    /// <summary>Refuse a verdict whose collateral CRLs were past nextUpdate.</summary>
    public bool RequireFreshCollateral { get; init; }

    /// <summary>
    /// Applies the policy to a verification result: a failed result is returned unchanged, a passing one either
    /// unchanged or failed at <see cref="VerificationStep.Policy"/> with the reason.
    /// </summary>
    public QuoteVerificationResult Apply(QuoteVerificationResult result)
    {
        if (!result.IsValid || result.Quote is null)
        {
            return result;
        }

        var body = result.Quote.Body;
        string? refusal = null;
        var imageHash = Convert.ToHexStringLower(ImageHash.Compute(body));
        if (!AllowDebug && body.IsDebug)
        {
            refusal = "debug TD refused (TDATTRIBUTES.DEBUG set)";
        }
        else if (BitsRefusal("TDATTRIBUTES", body.TdAttributes.Span, RequiredTdAttributes, ForbiddenTdAttributes, TdAttributeBits.Name) is { } attributes)
        {
            refusal = attributes;
        }
        else if (BitsRefusal("XFAM", body.Xfam.Span, RequiredXfam, ForbiddenXfam, XfamBits.Name) is { } xfam)
        {
            refusal = xfam;
        }
        else if (!Allowed(AllowedImageHashes, imageHash))
        {
            refusal = "image hash " + imageHash + " is not allowed";
        }
        else if (!Allowed(AllowedMrTds, Convert.ToHexStringLower(body.MrTd.Span)))
        {
            refusal = "MRTD " + Convert.ToHexStringLower(body.MrTd.Span) + " is not allowed";
        }
        else
        {
            for (var i = 0; i < 4 && refusal is null; i++)
            {
                var rtmr = Convert.ToHexStringLower(body.GetRtmr(i).Span);
                if (AllowedRtmrs.TryGetValue(i, out var allowed) && !Allowed(allowed, rtmr))
                {
                    refusal = $"RTMR{i} {rtmr} is not allowed";
                }
            }
        }

        if (refusal is null && MinimumTcbStatus is { } minimum)
        {
            if (result.TcbStatus is not { } status)
            {
                refusal = "the policy requires a TCB status, and this verdict has none (no collateral or simulated quote)";
            }
            else if (status > minimum)
            {
                refusal = $"TCB status {status} is worse than the minimum {minimum}";
            }
        }

        if (refusal is null && RequireFreshCollateral && result.CollateralExpired)
        {
            refusal = "collateral CRLs are past their nextUpdate";
        }

        return refusal is null
            ? result
            : result with { FailedStep = VerificationStep.Policy, Message = "Policy: " + refusal };
    }

    private static string? BitsRefusal(string field, ReadOnlySpan<byte> raw, ulong required, ulong forbidden, Func<int, string> name)
    {
        var value = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(raw);
        var missing = required & ~value;
        var present = forbidden & value;
        if (missing == 0 && present == 0)
        {
            return null;
        }

        static IEnumerable<int> Bits(ulong v) => Enumerable.Range(0, 64).Where(i => ((v >> i) & 1) != 0);
        var parts = new List<string>();
        if (missing != 0)
        {
            parts.Add("required bits clear: " + string.Join(", ", Bits(missing).Select(name)));
        }

        if (present != 0)
        {
            parts.Add("forbidden bits set: " + string.Join(", ", Bits(present).Select(name)));
        }

        return $"{field} 0x{value:x16} refused ({string.Join("; ", parts)})";
    }

    private static bool Allowed(IReadOnlyCollection<string> allowed, string value) =>
        allowed.Count == 0 || allowed.Any(a => string.Equals(a, value, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// TDATTRIBUTES bits of the TD report, as the little-endian 64-bit value (Intel TDX Module ABI specification,
/// TDX_ATTRIBUTES; the same names as Intel Trust Authority's tdx_td_attributes_* claims).
/// </summary>
public static class TdAttributeBits
{
    /// <summary>Bit 0, TUD.DEBUG: the host can read and write the TD's memory and registers.</summary>
    public const ulong Debug = 1UL << 0;

    /// <summary>Bit 28, SEC.SEPT_VE_DISABLE: EPT violations on pending pages are not turned into #VE in the guest.</summary>
    public const ulong SeptVeDisable = 1UL << 28;

    /// <summary>Bit 30, SEC.PKS: supervisor protection keys.</summary>
    public const ulong Pks = 1UL << 30;

    /// <summary>Bit 31, SEC.KL: Key Locker.</summary>
    public const ulong KeyLocker = 1UL << 31;

    /// <summary>Bit 63, OTHER.PERFMON: the TD may use the performance monitoring unit (a side channel the host shares).</summary>
    public const ulong Perfmon = 1UL << 63;

    /// <summary>A bit's name for messages.</summary>
    public static string Name(int bit) => bit switch
    {
        0 => "DEBUG",
        28 => "SEPT_VE_DISABLE",
        30 => "PKS",
        31 => "KL",
        63 => "PERFMON",
        _ => "bit " + bit,
    };
}

/// <summary>XFAM bits (the extended features a TD may use; XCR0 and IA32_XSS layout), as the little-endian 64-bit value.</summary>
public static class XfamBits
{
    /// <summary>Bit 8, PT: processor trace.</summary>
    public const ulong Pt = 1UL << 8;

    /// <summary>Bit 9, PK: user protection keys (PKRU).</summary>
    public const ulong Pk = 1UL << 9;

    /// <summary>Bit 15, LBR: architectural last branch records.</summary>
    public const ulong Lbr = 1UL << 15;

    /// <summary>A bit's name for messages.</summary>
    public static string Name(int bit) => bit switch
    {
        0 => "X87",
        1 => "SSE",
        2 => "AVX",
        5 or 6 or 7 => "AVX512 (bit " + bit + ")",
        8 => "PT",
        9 => "PK",
        11 => "CET_U",
        12 => "CET_S",
        14 => "ULI",
        15 => "LBR",
        17 or 18 => "AMX (bit " + bit + ")",
        _ => "bit " + bit,
    };
}
