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

    private static bool Allowed(IReadOnlyCollection<string> allowed, string value) =>
        allowed.Count == 0 || allowed.Any(a => string.Equals(a, value, StringComparison.OrdinalIgnoreCase));
}
