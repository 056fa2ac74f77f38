using Cocoon.Attestation.Collateral;
using Cocoon.Attestation.Quotes;

namespace Cocoon.Attestation.Verification;

/// <summary>
/// The outcome of verifying a quote: either every step passed (with the TCB status when collateral was given),
/// or the first step that failed and why.
/// </summary>
public sealed record QuoteVerificationResult
{
    /// <summary>True when every step ran and passed.</summary>
    public bool IsValid => FailedStep is null;

    /// <summary>The first failing step, or null on success.</summary>
    public VerificationStep? FailedStep { get; init; }

    /// <summary>What failed and why, or a one-line summary on success.</summary>
    public required string Message { get; init; }

    /// <summary>The parsed quote (null when parsing failed).</summary>
    public TdxQuote? Quote { get; init; }

    /// <summary>The converged TCB status; null without collateral or for simulated quotes.</summary>
    public TcbStatus? TcbStatus { get; init; }

    /// <summary>Intel security advisories of the matched TCB levels.</summary>
    public IReadOnlyList<string> AdvisoryIds { get; init; } = [];

    /// <summary>FMSPC from the PCK leaf (null if the chain could not be read).</summary>
    public byte[]? Fmspc { get; init; }

    /// <summary>True for a simulated (devnet) quote.</summary>
    public bool IsSimulated { get; init; }

    /// <summary>
    /// True when a CRL of the collateral was past its nextUpdate at <see cref="VerifiedAt"/> (Intel QVL's
    /// collateral expiration status). Not a failure by itself; <c>AttestationPolicy.RequireFreshCollateral</c> refuses it.
    /// </summary>
    public bool CollateralExpired { get; init; }

    /// <summary>The clock value the verification ran at.</summary>
    public DateTimeOffset VerifiedAt { get; init; }

    /// <summary>
    /// The verdict holds until this instant: the earliest NotAfter of the certificates and nextUpdate of the
    /// collateral checked. A cache must not reuse it later.
    /// </summary>
    public DateTimeOffset ValidUntil { get; init; }

    internal static QuoteVerificationResult Fail(VerificationStep step, string message, TdxQuote? quote, DateTimeOffset at, byte[]? fmspc = null) =>
        new()
        {
            FailedStep = step,
            Message = step + ": " + message,
            Quote = quote,
            VerifiedAt = at,
            ValidUntil = at,
            Fmspc = fmspc,
            IsSimulated = quote?.IsSimulated ?? false,
        };
}
