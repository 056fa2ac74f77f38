using System.Security.Cryptography;
using Cocoon.Attestation.Quotes;

namespace Cocoon.Attestation.Policy;

/// <summary>
/// The image hash of DESIGN.md section 7: SHA-256 over MRTD ‖ MRCONFIGID ‖ MROWNER ‖ MROWNERCONFIG ‖ RTMR0 ‖ RTMR1 ‖
/// RTMR2 ‖ RTMR3 (8 × 48 bytes, in that order, as the TD report holds them): the measurements that define a VM
/// image. The root contract's allow-list holds these values.
/// </summary>
public static class ImageHash
{
    /// <summary>Bytes hashed: eight 48-byte registers.</summary>
    public const int InputLength = 8 * 48;

    /// <summary>The image hash of a TD report.</summary>
    public static byte[] Compute(TdReport report) =>
        Compute(report.MrTd.Span, report.MrConfigId.Span, report.MrOwner.Span, report.MrOwnerConfig.Span, report.Rtmr0.Span, report.Rtmr1.Span, report.Rtmr2.Span, report.Rtmr3.Span);

    /// <summary>The image hash of explicit measurements; each must be 48 bytes.</summary>
    public static byte[] Compute(
        ReadOnlySpan<byte> mrTd,
        ReadOnlySpan<byte> mrConfigId,
        ReadOnlySpan<byte> mrOwner,
        ReadOnlySpan<byte> mrOwnerConfig,
        ReadOnlySpan<byte> rtmr0,
        ReadOnlySpan<byte> rtmr1,
        ReadOnlySpan<byte> rtmr2,
        ReadOnlySpan<byte> rtmr3)
    {
        Span<byte> input = stackalloc byte[InputLength];
        var offset = 0;
        Append(input, ref offset, mrTd, nameof(mrTd));
        Append(input, ref offset, mrConfigId, nameof(mrConfigId));
        Append(input, ref offset, mrOwner, nameof(mrOwner));
        Append(input, ref offset, mrOwnerConfig, nameof(mrOwnerConfig));
        Append(input, ref offset, rtmr0, nameof(rtmr0));
        Append(input, ref offset, rtmr1, nameof(rtmr1));
        Append(input, ref offset, rtmr2, nameof(rtmr2));
        Append(input, ref offset, rtmr3, nameof(rtmr3));
        return SHA256.HashData(input);
    }

    private static void Append(Span<byte> input, ref int offset, ReadOnlySpan<byte> register, string name)
    {
        if (register.Length != 48)
        {
            throw new ArgumentException($"{name} must be 48 bytes, not {register.Length}", name);
        }

        register.CopyTo(input[offset..]);
        offset += 48;
    }
}
