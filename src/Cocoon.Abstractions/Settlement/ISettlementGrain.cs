namespace Cocoon.Abstractions.Settlement;

/// <summary>
/// On-chain settlement of one proxy (DESIGN sections 3 and 6), keyed by proxy id (<see cref="DefaultKey"/>): it knows
/// each client's escrow contract and each worker's contract, watches the client contracts for deposits (credited to
/// the escrow account once per transaction), signs cumulative charges and payouts with the proxy key when they pass
/// their thresholds, sends them through the proxy's v5r1 wallet and retries until the wallet seqno moves, and
/// commits its state seqno and ledger hash to the root contract.
/// </summary>
[Alias("cocoon.settlement.ISettlementGrain")]
public interface ISettlementGrain : IGrainWithStringKey
{
    /// <summary>The key of a cluster's settlement grain (one proxy per cluster).</summary>
    public const string DefaultKey = "proxy";

    /// <summary>
    /// Links an escrow account to its client contract for <paramref name="ownerAddress"/> (the client's wallet);
    /// returns the contract address, where the client sends top-ups. Idempotent; another owner for a linked account is
    /// refused.
    /// </summary>
    [Alias("RegisterClient")]
    Task<ClientChannel> RegisterClientAsync(string accountId, string ownerAddress);

    /// <summary>Links a worker to its worker contract, paying <paramref name="ownerAddress"/>. Idempotent.</summary>
    [Alias("RegisterWorker")]
    Task<WorkerChannel> RegisterWorkerAsync(string workerId, string ownerAddress);

    /// <summary>
    /// Settles now whatever is outstanding, ignoring the thresholds: reads deposits, sends every charge and payout,
    /// and waits (up to <paramref name="timeout"/>) until the chain has them. Fails with 503 <c>chain_unavailable</c>
    /// when the endpoint cannot be reached; nothing is lost, the next attempt catches up.
    /// </summary>
    [Alias("SettleNow")]
    [ResponseTimeout("00:02:00")]
    Task<SettlementStatus> SettleNowAsync(TimeSpan timeout);

    /// <summary>What is linked, confirmed and outstanding, from the grain's own state (no chain call).</summary>
    [Alias("GetStatus")]
    Task<SettlementStatus> GetStatusAsync();
}

/// <summary>A client's escrow contract as settlement tracks it.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.settlement.ClientChannel")]
public sealed record ClientChannel(
    [property: Id(0)] string AccountId,
    [property: Id(1)] string OwnerAddress,
    [property: Id(2)] string ContractAddress,
    [property: Id(3)] long ChargedOnChainTokens,
    [property: Id(4)] long DepositsCredited);

/// <summary>A worker's contract as settlement tracks it.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.settlement.WorkerChannel")]
public sealed record WorkerChannel(
    [property: Id(0)] string WorkerId,
    [property: Id(1)] string OwnerAddress,
    [property: Id(2)] string ContractAddress,
    [property: Id(3)] long PaidOnChainTokens);

/// <summary>The settlement grain's view.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.settlement.SettlementStatus")]
public sealed record SettlementStatus
{
    /// <summary>Whether a chain endpoint is configured.</summary>
    [Id(0)] public bool ChainEnabled { get; init; }

    /// <summary>The proxy wallet (where charges are paid, and payouts come from).</summary>
    [Id(1)] public string ProxyWallet { get; init; } = "";

    /// <summary>Linked clients.</summary>
    [Id(2)] public IReadOnlyList<ClientChannel> Clients { get; init; } = [];

    /// <summary>Linked workers.</summary>
    [Id(3)] public IReadOnlyList<WorkerChannel> Workers { get; init; } = [];

    /// <summary>Signed charges and payouts sent and not yet confirmed.</summary>
    [Id(4)] public int PendingMessages { get; init; }

    /// <summary>When the oldest pending one was signed.</summary>
    [Id(5)] public DateTimeOffset? PendingSince { get; init; }

    /// <summary>The last state seqno committed to the root contract (0: none yet).</summary>
    [Id(6)] public long CommittedSeqno { get; init; }

    /// <summary>The last chain error, if the last attempt failed.</summary>
    [Id(7)] public string? LastError { get; init; }

    /// <summary>Consecutive failed attempts.</summary>
    [Id(8)] public int ConsecutiveFailures { get; init; }

    /// <summary>The proxy's public key (hex), the contracts' <c>proxy_public_key</c>.</summary>
    [Id(9)] public string ProxyPublicKey { get; init; } = "";

    /// <summary>The price per token client contracts are deployed with (one on-chain token = one adjusted token).</summary>
    [Id(10)] public long PricePerToken { get; init; }
}
