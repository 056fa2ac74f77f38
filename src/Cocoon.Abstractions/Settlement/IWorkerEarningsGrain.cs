namespace Cocoon.Abstractions.Settlement;

/// <summary>
/// What a worker has earned and what has been paid to it on chain (DESIGN sections 3 and 6), keyed by worker id, in
/// adjusted tokens (what the worker contract counts) and in nanoTON at the worker fee. Escrow accounts credit it as
/// requests settle; the settlement grain pays it out.
/// </summary>
[Alias("cocoon.settlement.IWorkerEarningsGrain")]
public interface IWorkerEarningsGrain : IGrainWithStringKey
{
    /// <summary>
    /// Credits <paramref name="tokens"/> adjusted tokens from an escrow account. Each account numbers its credits to a
    /// worker 1, 2, 3...; a credit whose number was already applied is ignored, so a redelivery never pays twice.
    /// </summary>
    [Alias("Credit")]
    Task<WorkerEarnings> CreditAsync(string accountId, long creditSeq, long tokens);

    /// <summary>The worker's earnings.</summary>
    [Alias("Get")]
    Task<WorkerEarnings> GetAsync();

    /// <summary>
    /// Records that the worker contract has paid <paramref name="tokens"/> adjusted tokens in total (never lowers it).
    /// More than ever earned means the database was rolled back: the grain freezes.
    /// </summary>
    [Alias("ConfirmPaidOnChain")]
    Task<WorkerEarnings> ConfirmPaidOnChainAsync(long tokens);
}

/// <summary>A worker's earnings.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.settlement.WorkerEarnings")]
public sealed record WorkerEarnings(
    [property: Id(0)] string WorkerId,
    [property: Id(1)] long EarnedTokens,
    [property: Id(2)] long PaidTokens,
    [property: Id(3)] long WorkerFeePerToken,
    [property: Id(4)] long Seq)
{
    /// <summary>Everything earned, in nanoTON.</summary>
    public long EarnedNanoTon => EarnedTokens * WorkerFeePerToken;

    /// <summary>Paid on chain, in nanoTON.</summary>
    public long PaidNanoTon => PaidTokens * WorkerFeePerToken;

    /// <summary>Earned and not yet paid, in tokens.</summary>
    public long UnpaidTokens => EarnedTokens - PaidTokens;
}
