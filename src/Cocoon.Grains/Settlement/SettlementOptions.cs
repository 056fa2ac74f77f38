using Cocoon.Ton.Addresses;

namespace Cocoon.Grains.Ledger;

/// <summary>How the settlement grain settles (node configuration <c>Cocoon:Chain</c>).</summary>
public sealed record SettlementOptions
{
    /// <summary>Charge a client once its uncharged amount reaches this many nanoTON (COCOON: 1 TON).</summary>
    public long ChargeThresholdNanoTon { get; init; } = 1_000_000_000;

    /// <summary>Pay a worker once its unpaid earnings reach this many nanoTON (COCOON: 10 TON).</summary>
    public long PayoutThresholdNanoTon { get; init; } = 10_000_000_000;

    /// <summary>How often thresholds, deposits and pending transfers are checked.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the proxy state is committed to the root contract.</summary>
    public TimeSpan CommitInterval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Network global id for the v5r1 wallet id.</summary>
    public int NetworkGlobalId { get; init; } = -239;

    /// <summary>The root contract, if any.</summary>
    public TonAddress? RootAddress { get; init; }
}
