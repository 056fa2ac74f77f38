using Cocoon.Abstractions;
using Cocoon.Abstractions.Pricing;
using Cocoon.Abstractions.Settlement;
using Cocoon.Grains.Placement;
using Microsoft.Extensions.Logging;

namespace Cocoon.Grains.Ledger;

/// <summary>Persisted earnings of one worker; signed like escrow rows.</summary>
[GenerateSerializer, Alias("cocoon.settlement.WorkerEarningsState")]
public sealed class WorkerEarningsState : ISignedState
{
    /// <summary>Adjusted tokens credited by escrow accounts.</summary>
    [Id(0)] public long EarnedTokens { get; set; }

    /// <summary>Adjusted tokens the worker contract has confirmed paying.</summary>
    [Id(1)] public long PaidTokens { get; set; }

    /// <summary>The last credit number applied, per escrow account.</summary>
    [Id(2)] public Dictionary<string, long> LastCreditSeq { get; set; } = [];

    /// <inheritdoc />
    [Id(3)] public long Seq { get; set; }

    /// <inheritdoc />
    [Id(4)] public byte[]? Signature { get; set; }

    /// <inheritdoc />
    public void WriteCanonical(CanonicalWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteInt64(EarnedTokens).WriteInt64(PaidTokens).WriteInt64(LastCreditSeq.Count);
        foreach (var (account, seq) in LastCreditSeq.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            writer.WriteString(account).WriteInt64(seq);
        }
    }
}

/// <summary>See <see cref="IWorkerEarningsGrain"/>. Frozen, like an escrow account, when its row does not verify.</summary>
[ProxyRole]
public sealed partial class WorkerEarningsGrain(
    [PersistentState("earnings", CocoonNames.StorageName)] IPersistentState<WorkerEarningsState> state,
    StateSigner signer,
    PriceList prices,
    ILogger<WorkerEarningsGrain> logger) : Grain, IWorkerEarningsGrain
{
    /// <summary>The kind signed with earnings rows.</summary>
    public const string StateKind = "earnings";

    private bool _frozen;

    private WorkerEarningsState S => state.State;

    private string WorkerId => this.GetPrimaryKeyString();

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!signer.IsAuthentic(StateKind, WorkerId, S, state.RecordExists))
        {
            _frozen = true;
            LogFrozen(WorkerId, S.Seq);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<WorkerEarnings> CreditAsync(string accountId, long creditSeq, long tokens)
    {
        Guard();
        ArgumentException.ThrowIfNullOrWhiteSpace(accountId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(creditSeq);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        if (S.LastCreditSeq.TryGetValue(accountId, out var last) && creditSeq <= last)
        {
            return Earnings();
        }

        S.LastCreditSeq[accountId] = creditSeq;
        S.EarnedTokens = checked(S.EarnedTokens + tokens);
        await SaveAsync();
        return Earnings();
    }

    /// <inheritdoc />
    public Task<WorkerEarnings> GetAsync()
    {
        Guard();
        return Task.FromResult(Earnings());
    }

    /// <inheritdoc />
    public async Task<WorkerEarnings> ConfirmPaidOnChainAsync(long tokens)
    {
        Guard();
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        if (tokens > S.EarnedTokens)
        {
            _frozen = true;
            LogRolledBack(WorkerId, tokens, S.EarnedTokens);
            Guard();
        }

        if (tokens > S.PaidTokens)
        {
            S.PaidTokens = tokens;
            await SaveAsync();
        }

        return Earnings();
    }

    private WorkerEarnings Earnings() => new(WorkerId, S.EarnedTokens, S.PaidTokens, prices.WorkerFeePerToken, S.Seq);

    private void Guard()
    {
        if (_frozen)
        {
            throw SignedStates.Frozen($"Worker earnings of '{WorkerId}'");
        }
    }

    private Task SaveAsync()
    {
        signer.Seal(StateKind, WorkerId, S);
        return state.WriteStateAsync();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Worker earnings of '{WorkerId}' are FROZEN: the stored state (seq {Seq}) does not carry a valid proxy signature; it was changed outside the proxy.")]
    private partial void LogFrozen(string workerId, long seq);

    [LoggerMessage(Level = LogLevel.Error, Message = "Worker earnings of '{WorkerId}' are FROZEN: the worker contract has paid {OnChain} tokens but this ledger only earned {Earned}; the database was rolled back.")]
    private partial void LogRolledBack(string workerId, long onChain, long earned);
}
