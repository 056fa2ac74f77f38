using System.Numerics;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Settlement;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;

namespace Cocoon.Ton.Contracts;

/// <summary>State of a client escrow (client.tolk's 2-bit state, as cocoon's).</summary>
public enum ClientEscrowState
{
    /// <summary>Running: top-ups, charges and withdrawals accepted.</summary>
    Running = 0,

    /// <summary>Closing: the owner asked for a refund; the proxy may still charge until <c>unlock_ts</c>.</summary>
    Closing = 1,

    /// <summary>Closed: the balance went back to the owner.</summary>
    Closed = 2,
}

/// <summary>What a client escrow is deployed with: its identity and prices (client.tolk's two referenced cells).</summary>
/// <param name="Owner">The client's wallet: withdrawals, refunds and the final balance go here.</param>
/// <param name="Proxy">The proxy's wallet: charges are paid here.</param>
/// <param name="ProxyPublicKey">The 32-byte Ed25519 key whose signatures the escrow accepts.</param>
/// <param name="PricePerToken">nanoTON per token charged.</param>
/// <param name="ClientDelayBeforeClose">Seconds between a refund request and the close.</param>
/// <param name="Stake">The stake the escrow starts with (the root's <c>min_client_stake</c>); the owner cannot withdraw below it.</param>
public sealed record ClientContractConfig(TonAddress Owner, TonAddress Proxy, ReadOnlyMemory<byte> ProxyPublicKey, BigInteger PricePerToken, uint ClientDelayBeforeClose, BigInteger Stake);

/// <summary>A client escrow's stored data, or what its get-methods return.</summary>
/// <param name="State">Running, closing or closed.</param>
/// <param name="Balance">nanoTON available for charges (the contract's own TON minus what it keeps for gas).</param>
/// <param name="Stake">Part of the balance the owner cannot withdraw.</param>
/// <param name="TokensCharged">Cumulative tokens charged so far.</param>
/// <param name="UnlockTs">Unix time after which a closing escrow may close (0 while running).</param>
public sealed record ClientEscrowInfo(ClientEscrowState State, BigInteger Balance, BigInteger Stake, ulong TokensCharged, uint UnlockTs);

/// <summary>
/// The client escrow contract of src/Cocoon.Contracts (<c>client.tolk</c>), one per (client, proxy): its StateInit and
/// address, the bodies of every operation, and its get-methods. Layouts and opcodes as the contract's README lists them.
/// </summary>
public sealed class ClientContract
{
    /// <summary><c>ext_client_top_up</c>: <c>query_id:uint64</c>; anyone; running only.</summary>
    public const uint OpTopUp = 0xf172e6c2;

    /// <summary><c>ext_client_charge_signed</c>: a proxy-signed charge up to a cumulative token count.</summary>
    public const uint OpChargeSigned = (uint)SettlementOp.ClientCharge;

    /// <summary><c>ext_client_grant_refund_signed</c>: a proxy-signed final charge, then close to the owner.</summary>
    public const uint OpGrantRefundSigned = (uint)SettlementOp.ClientGrantRefund;

    /// <summary><c>owner_client_withdraw</c>: <c>query_id:uint64 amount:Coins</c>; owner; running only.</summary>
    public const uint OpWithdraw = 0xda068e78;

    /// <summary><c>owner_client_request_refund</c>: <c>query_id:uint64</c>; owner; starts closing, or closes after the delay.</summary>
    public const uint OpRequestRefund = 0xfafa6cc1;

    /// <summary>Part of every top-up the contract keeps for its own gas and storage (0.01 TON), not credited to the balance.</summary>
    public static readonly BigInteger TopUpFee = 10_000_000;

    /// <summary>Describes the escrow of <paramref name="config"/>.</summary>
    public ClientContract(ClientContractConfig config, int workchain = 0)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.ProxyPublicKey.Length != 32)
        {
            throw new ArgumentException("the proxy public key must be 32 bytes", nameof(config));
        }

        if (config.PricePerToken.Sign < 0 || config.Stake.Sign < 0)
        {
            throw new ArgumentException("price and stake are non-negative nanoTON", nameof(config));
        }

        Config = config;
        StateInit = new StateInit(ContractCode.Client, InitialData(config));
        Address = TonAddress.FromStateInit(workchain, StateInit);
    }

    /// <summary>What the escrow is deployed with.</summary>
    public ClientContractConfig Config { get; }

    /// <summary>Code and initial data.</summary>
    public StateInit StateInit { get; }

    /// <summary>The escrow's address (hash of <see cref="StateInit"/>).</summary>
    public TonAddress Address { get; }

    /// <summary>
    /// The initial data: <c>state:uint2=0 balance:Coins=0 stake:Coins tokens_charged:uint64=0 unlock_ts:uint32=0
    /// ^[owner proxy proxy_public_key:uint256] ^[price_per_token:Coins client_delay_before_close:uint32]</c>.
    /// </summary>
    public static Cell InitialData(ClientContractConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var identity = new CellBuilder().StoreAddress(config.Owner).StoreAddress(config.Proxy).StoreBytes(config.ProxyPublicKey.Span).EndCell();
        var prices = new CellBuilder().StoreCoins(config.PricePerToken).StoreUInt(config.ClientDelayBeforeClose, 32).EndCell();
        return new CellBuilder().StoreUInt(0, 2).StoreCoins(0).StoreCoins(config.Stake).StoreUInt(0, 64).StoreUInt(0, 32)
            .StoreRef(identity).StoreRef(prices).EndCell();
    }

    /// <summary>Reads an escrow's data cell (e.g. from <c>getAddressInformation</c>): its state and its configuration.</summary>
    /// <exception cref="FormatException">Not a client escrow's data.</exception>
    public static (ClientEscrowInfo Info, ClientContractConfig Config) ParseData(Cell data)
    {
        ArgumentNullException.ThrowIfNull(data);
        try
        {
            var s = data.BeginParse();
            var state = (ClientEscrowState)s.LoadUInt(2);
            var balance = s.LoadCoins();
            var stake = s.LoadCoins();
            var tokens = s.LoadUInt(64);
            var unlock = (uint)s.LoadUInt(32);
            var identity = s.LoadRef().BeginParse();
            var prices = s.LoadRef().BeginParse();
            s.EndParse();
            var owner = identity.LoadAddress();
            var proxy = identity.LoadAddress();
            var key = identity.LoadBytes(32);
            identity.EndParse();
            var price = prices.LoadCoins();
            var delay = (uint)prices.LoadUInt(32);
            prices.EndParse();
            return (new ClientEscrowInfo(state, balance, stake, tokens, unlock), new ClientContractConfig(owner, proxy, key, price, delay, stake));
        }
        catch (InvalidOperationException e)
        {
            throw new FormatException($"not a client escrow's data: {e.Message}", e);
        }
    }

    /// <summary><c>ext_client_top_up query_id</c>.</summary>
    public static Cell TopUpBody(ulong queryId) => new CellBuilder().StoreUInt(OpTopUp, 32).StoreUInt(queryId, 64).EndCell();

    /// <summary><c>owner_client_withdraw query_id amount</c>.</summary>
    public static Cell WithdrawBody(ulong queryId, BigInteger amount)
    {
        if (amount.Sign < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(amount), "nanoTON, not negative");
        }

        return new CellBuilder().StoreUInt(OpWithdraw, 32).StoreUInt(queryId, 64).StoreCoins(amount).EndCell();
    }

    /// <summary><c>owner_client_request_refund query_id</c>.</summary>
    public static Cell RequestRefundBody(ulong queryId) => new CellBuilder().StoreUInt(OpRequestRefund, 32).StoreUInt(queryId, 64).EndCell();

    /// <summary>The payload the proxy signs to charge this escrow up to <paramref name="tokens"/> (cumulative).</summary>
    public SettlementPayload ChargePayload(ulong queryId, ulong tokens) => new(SettlementOp.ClientCharge, queryId, tokens, Address);

    /// <summary>The payload the proxy signs to charge up to <paramref name="tokens"/> and then close the escrow to its owner.</summary>
    public SettlementPayload GrantRefundPayload(ulong queryId, ulong tokens) => new(SettlementOp.ClientGrantRefund, queryId, tokens, Address);

    /// <summary>The body of a signed charge or grant-refund (the signed wrapper), refusing other ops.</summary>
    public static Cell SignedBody(SignedSettlement settlement)
    {
        ArgumentNullException.ThrowIfNull(settlement);
        if (settlement.Payload.Op is not (SettlementOp.ClientCharge or SettlementOp.ClientGrantRefund))
        {
            throw new ArgumentException($"a client escrow takes charge or grant-refund settlements, not {settlement.Payload.Op}", nameof(settlement));
        }

        return settlement.ToCell();
    }

    /// <summary>The wallet message that deploys the escrow with a first top-up of <paramref name="value"/> (of which <see cref="TopUpFee"/> stays for gas).</summary>
    public WalletMessage DeployMessage(BigInteger value, ulong queryId = 0) => ContractGetMethods.ToContract(Address, value, TopUpBody(queryId), StateInit);

    /// <summary>The wallet message that tops the escrow up with <paramref name="value"/>.</summary>
    public WalletMessage TopUpMessage(BigInteger value, ulong queryId = 0) => ContractGetMethods.ToContract(Address, value, TopUpBody(queryId));

    /// <summary>A wallet message carrying <paramref name="body"/> to the escrow with <paramref name="value"/> for gas.</summary>
    public WalletMessage Message(Cell body, BigInteger value) => ContractGetMethods.ToContract(Address, value, body);

    /// <summary>Runs the five get-methods (<c>get_state</c>, <c>get_balance</c>, <c>get_stake</c>, <c>get_tokens_charged</c>, <c>get_unlock_ts</c>).</summary>
    public static async Task<ClientEscrowInfo> GetInfoAsync(ToncenterClient client, TonAddress address, CancellationToken cancellationToken = default)
    {
        var state = await ContractGetMethods.RunIntAsync(client, address, "get_state", cancellationToken: cancellationToken).ConfigureAwait(false);
        var balance = await GetBalanceAsync(client, address, cancellationToken).ConfigureAwait(false);
        var stake = await GetStakeAsync(client, address, cancellationToken).ConfigureAwait(false);
        var tokens = await GetTokensChargedAsync(client, address, cancellationToken).ConfigureAwait(false);
        var unlock = await ContractGetMethods.RunIntAsync(client, address, "get_unlock_ts", cancellationToken: cancellationToken).ConfigureAwait(false);
        return new ClientEscrowInfo((ClientEscrowState)(int)state, balance, stake, (ulong)tokens, (uint)unlock);
    }

    /// <summary><c>get_balance</c>: nanoTON available for charges.</summary>
    public static Task<BigInteger> GetBalanceAsync(ToncenterClient client, TonAddress address, CancellationToken cancellationToken = default) =>
        ContractGetMethods.RunIntAsync(client, address, "get_balance", cancellationToken: cancellationToken);

    /// <summary><c>get_stake</c>.</summary>
    public static Task<BigInteger> GetStakeAsync(ToncenterClient client, TonAddress address, CancellationToken cancellationToken = default) =>
        ContractGetMethods.RunIntAsync(client, address, "get_stake", cancellationToken: cancellationToken);

    /// <summary><c>get_tokens_charged</c>: the cumulative tokens charged.</summary>
    public static async Task<ulong> GetTokensChargedAsync(ToncenterClient client, TonAddress address, CancellationToken cancellationToken = default) =>
        (ulong)await ContractGetMethods.RunIntAsync(client, address, "get_tokens_charged", cancellationToken: cancellationToken).ConfigureAwait(false);

    /// <summary><c>get_state</c>.</summary>
    public static async Task<ClientEscrowState> GetStateAsync(ToncenterClient client, TonAddress address, CancellationToken cancellationToken = default) =>
        (ClientEscrowState)(int)await ContractGetMethods.RunIntAsync(client, address, "get_state", cancellationToken: cancellationToken).ConfigureAwait(false);
}
