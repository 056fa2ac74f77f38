using System.Numerics;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Settlement;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;

namespace Cocoon.Ton.Contracts;

/// <summary>State of a worker contract.</summary>
public enum WorkerContractState
{
    /// <summary>Running: top-ups and payouts accepted.</summary>
    Running = 0,

    /// <summary>Closed by a last payout; the unused prefund went back to the proxy.</summary>
    Closed = 2,
}

/// <summary>What a worker contract is deployed with.</summary>
/// <param name="Owner">The worker owner's wallet: payouts go here.</param>
/// <param name="Proxy">The proxy's wallet: the unused prefund goes back here at the last payout.</param>
/// <param name="ProxyPublicKey">The 32-byte Ed25519 key whose signatures the contract accepts.</param>
/// <param name="WorkerFeePerToken">nanoTON paid per token.</param>
public sealed record WorkerContractConfig(TonAddress Owner, TonAddress Proxy, ReadOnlyMemory<byte> ProxyPublicKey, BigInteger WorkerFeePerToken);

/// <summary>A worker contract's stored data, or what its get-methods return.</summary>
/// <param name="State">Running or closed.</param>
/// <param name="TokensPaid">Cumulative tokens paid for.</param>
/// <param name="Balance">The prefund available for payouts, nanoTON.</param>
/// <param name="WorkerFeePerToken">nanoTON per token.</param>
public sealed record WorkerContractInfo(WorkerContractState State, ulong TokensPaid, BigInteger Balance, BigInteger WorkerFeePerToken);

/// <summary>
/// The worker contract of src/Cocoon.Contracts (<c>worker.tolk</c>), one per (worker, proxy): StateInit and address,
/// operation bodies, get-methods.
/// </summary>
public sealed class WorkerContract
{
    /// <summary><c>worker_top_up</c> (Cocoon's; crc32 of the name): <c>query_id:uint64</c>; anyone; running only.</summary>
    public const uint OpTopUp = 0xb5238a1f;

    /// <summary><c>ext_worker_payout_request_signed</c>.</summary>
    public const uint OpPayoutSigned = (uint)SettlementOp.WorkerPayout;

    /// <summary><c>ext_worker_last_payout_request_signed</c>.</summary>
    public const uint OpLastPayoutSigned = (uint)SettlementOp.WorkerLastPayout;

    /// <summary><c>owner_worker_withdraw</c> (Cocoon's): <c>query_id:uint64 amount:Coins</c>; owner; only TON beyond the prefund and a 0.05 TON reserve.</summary>
    public const uint OpOwnerWithdraw = 0x201185ff;

    /// <summary>Part of every top-up the contract keeps for gas (0.01 TON).</summary>
    public static readonly BigInteger TopUpFee = 10_000_000;

    /// <summary>Describes the worker contract of <paramref name="config"/>.</summary>
    public WorkerContract(WorkerContractConfig config, int workchain = 0)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.ProxyPublicKey.Length != 32)
        {
            throw new ArgumentException("the proxy public key must be 32 bytes", nameof(config));
        }

        if (config.WorkerFeePerToken.Sign < 0)
        {
            throw new ArgumentException("the fee is non-negative nanoTON", nameof(config));
        }

        Config = config;
        StateInit = new StateInit(ContractCode.Worker, InitialData(config));
        Address = TonAddress.FromStateInit(workchain, StateInit);
    }

    /// <summary>What the contract is deployed with.</summary>
    public WorkerContractConfig Config { get; }

    /// <summary>Code and initial data.</summary>
    public StateInit StateInit { get; }

    /// <summary>The contract's address.</summary>
    public TonAddress Address { get; }

    /// <summary>
    /// The initial data: <c>owner proxy proxy_public_key:uint256 state:uint2=0 tokens_paid:uint64=0 balance:Coins=0
    /// ^[worker_fee_per_token:Coins]</c>.
    /// </summary>
    public static Cell InitialData(WorkerContractConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var prices = new CellBuilder().StoreCoins(config.WorkerFeePerToken).EndCell();
        return new CellBuilder().StoreAddress(config.Owner).StoreAddress(config.Proxy).StoreBytes(config.ProxyPublicKey.Span)
            .StoreUInt(0, 2).StoreUInt(0, 64).StoreCoins(0).StoreRef(prices).EndCell();
    }

    /// <summary>Reads a worker contract's data cell.</summary>
    /// <exception cref="FormatException">Not a worker contract's data.</exception>
    public static (WorkerContractInfo Info, WorkerContractConfig Config) ParseData(Cell data)
    {
        ArgumentNullException.ThrowIfNull(data);
        try
        {
            var s = data.BeginParse();
            var owner = s.LoadAddress();
            var proxy = s.LoadAddress();
            var key = s.LoadBytes(32);
            var state = (WorkerContractState)s.LoadUInt(2);
            var tokens = s.LoadUInt(64);
            var balance = s.LoadCoins();
            var prices = s.LoadRef().BeginParse();
            s.EndParse();
            var fee = prices.LoadCoins();
            prices.EndParse();
            return (new WorkerContractInfo(state, tokens, balance, fee), new WorkerContractConfig(owner, proxy, key, fee));
        }
        catch (InvalidOperationException e)
        {
            throw new FormatException($"not a worker contract's data: {e.Message}", e);
        }
    }

    /// <summary><c>worker_top_up query_id</c>.</summary>
    public static Cell TopUpBody(ulong queryId) => new CellBuilder().StoreUInt(OpTopUp, 32).StoreUInt(queryId, 64).EndCell();

    /// <summary><c>owner_worker_withdraw query_id amount</c>.</summary>
    public static Cell OwnerWithdrawBody(ulong queryId, BigInteger amount)
    {
        if (amount.Sign < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(amount), "nanoTON, not negative");
        }

        return new CellBuilder().StoreUInt(OpOwnerWithdraw, 32).StoreUInt(queryId, 64).StoreCoins(amount).EndCell();
    }

    /// <summary>The payload the proxy signs to pay the worker up to <paramref name="tokens"/> (cumulative).</summary>
    public SettlementPayload PayoutPayload(ulong queryId, ulong tokens) => new(SettlementOp.WorkerPayout, queryId, tokens, Address);

    /// <summary>The payload the proxy signs for the last payout (pays, closes, returns the unused prefund to the proxy).</summary>
    public SettlementPayload LastPayoutPayload(ulong queryId, ulong tokens) => new(SettlementOp.WorkerLastPayout, queryId, tokens, Address);

    /// <summary>The body of a signed payout or last payout, refusing other ops.</summary>
    public static Cell SignedBody(SignedSettlement settlement)
    {
        ArgumentNullException.ThrowIfNull(settlement);
        if (settlement.Payload.Op is not (SettlementOp.WorkerPayout or SettlementOp.WorkerLastPayout))
        {
            throw new ArgumentException($"a worker contract takes payout settlements, not {settlement.Payload.Op}", nameof(settlement));
        }

        return settlement.ToCell();
    }

    /// <summary>The wallet message that deploys the contract with a first prefund of <paramref name="value"/> (less <see cref="TopUpFee"/>).</summary>
    public WalletMessage DeployMessage(BigInteger value, ulong queryId = 0) => ContractGetMethods.ToContract(Address, value, TopUpBody(queryId), StateInit);

    /// <summary>The wallet message that adds <paramref name="value"/> to the prefund.</summary>
    public WalletMessage TopUpMessage(BigInteger value, ulong queryId = 0) => ContractGetMethods.ToContract(Address, value, TopUpBody(queryId));

    /// <summary>A wallet message carrying <paramref name="body"/> with <paramref name="value"/> for gas.</summary>
    public WalletMessage Message(Cell body, BigInteger value) => ContractGetMethods.ToContract(Address, value, body);

    /// <summary>Runs the four get-methods.</summary>
    public static async Task<WorkerContractInfo> GetInfoAsync(ToncenterClient client, TonAddress address, CancellationToken cancellationToken = default)
    {
        var state = await ContractGetMethods.RunIntAsync(client, address, "get_state", cancellationToken: cancellationToken).ConfigureAwait(false);
        var tokens = await GetTokensPaidAsync(client, address, cancellationToken).ConfigureAwait(false);
        var balance = await GetBalanceAsync(client, address, cancellationToken).ConfigureAwait(false);
        var fee = await ContractGetMethods.RunIntAsync(client, address, "get_worker_fee_per_token", cancellationToken: cancellationToken).ConfigureAwait(false);
        return new WorkerContractInfo((WorkerContractState)(int)state, tokens, balance, fee);
    }

    /// <summary><c>get_tokens_paid</c>.</summary>
    public static async Task<ulong> GetTokensPaidAsync(ToncenterClient client, TonAddress address, CancellationToken cancellationToken = default) =>
        (ulong)await ContractGetMethods.RunIntAsync(client, address, "get_tokens_paid", cancellationToken: cancellationToken).ConfigureAwait(false);

    /// <summary><c>get_balance</c>: the prefund available for payouts.</summary>
    public static Task<BigInteger> GetBalanceAsync(ToncenterClient client, TonAddress address, CancellationToken cancellationToken = default) =>
        ContractGetMethods.RunIntAsync(client, address, "get_balance", cancellationToken: cancellationToken);
}
