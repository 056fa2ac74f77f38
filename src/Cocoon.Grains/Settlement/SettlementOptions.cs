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

    /// <summary>
    /// The stake of the client contracts this proxy deploys, in nanoTON (part of their address; COCOON's fake-TON
    /// <c>min_client_stake</c>: 1 TON). It bounds a client's credit not yet charged on chain.
    /// </summary>
    public long ClientStakeNanoTon { get; init; } = ProxyChain.ClientStake;

    /// <summary>The client contracts' <c>client_delay_before_close</c> (part of their address; COCOON's fake TON: 300 s).</summary>
    public TimeSpan ClientDelayBeforeClose { get; init; } = TimeSpan.FromSeconds(ProxyChain.ClientDelayBeforeClose);

    /// <summary>
    /// The charge threshold in effect: the configured one, but at most half the stake (as COCOON's client charges past
    /// charged + stake/2), so normal traffic never reaches the stake bound while the chain is up.
    /// </summary>
    public long EffectiveChargeThresholdNanoTon => ClientStakeNanoTon > 0 ? Math.Min(ChargeThresholdNanoTon, ClientStakeNanoTon / 2) : ChargeThresholdNanoTon;

    /// <summary>The root contract, if any.</summary>
    public TonAddress? RootAddress { get; init; }
}
