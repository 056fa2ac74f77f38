using Cocoon.Ton.Addresses;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Crypto;

namespace Cocoon.Ton.Wallets;

/// <summary>
/// Wallet v5r1 (ton-and-tdx.md section 3; ton-org/ton src/wallets/v5r1, ton-blockchain/wallet-contract-v5).
/// Data: <c>is_signature_allowed:1 seqno:32 wallet_id:32 pubkey:256 extensions:(HashmapE) = 0</c>. External body:
/// <c>"sign":32 wallet_id valid_until:32 seqno:32 (Maybe ^OutList) has_extended:1 signature:512</c>, the signature
/// at the tail over the hash of the cell built without it.
/// </summary>
public sealed class WalletV5R1 : IWalletContract
{
    /// <summary>Opcode of a signed external request ("sign").</summary>
    public const uint OpSignedExternal = 0x7369676e;

    /// <summary>Opcode of a signed internal request ("sint").</summary>
    public const uint OpSignedInternal = 0x73696e74;

    /// <summary><c>action_send_msg#0ec3c86d</c> (tblkch.pdf 4.4; block.tlb).</summary>
    public const uint ActionSendMsg = 0x0ec3c86d;

    /// <summary>Mainnet global id.</summary>
    public const int MainnetGlobalId = -239;

    /// <summary>Testnet global id.</summary>
    public const int TestnetGlobalId = -3;

    private readonly byte[] _publicKey;

    /// <summary>Creates the wallet of a public key.</summary>
    public WalletV5R1(ReadOnlySpan<byte> publicKey, int workchain = 0, int networkGlobalId = MainnetGlobalId, int subwallet = 0)
    {
        if (publicKey.Length != 32)
        {
            throw new ArgumentException("public key must be 32 bytes", nameof(publicKey));
        }

        if (subwallet is < 0 or > 0x7FFF)
        {
            throw new ArgumentOutOfRangeException(nameof(subwallet), "subwallet number is 15 bits");
        }

        _publicKey = publicKey.ToArray();
        Workchain = workchain;

        // context = 1:1 workchain:int8 version:8 (v5r1 = 0) subwallet:15, read as int32; id = global_id XOR context
        // (ton-org/ton WalletV5R1WalletId.ts).
        var context = unchecked((int)(0x80000000u | ((uint)(byte)(sbyte)workchain << 23) | (uint)subwallet));
        WalletId = networkGlobalId ^ context;
        var data = new CellBuilder().StoreBit(true).StoreUInt(0, 32).StoreInt(WalletId, 32).StoreBytes(_publicKey).StoreBit(false).EndCell();
        StateInit = new StateInit(WalletCode.V5R1, data);
        Address = TonAddress.FromStateInit(workchain, StateInit);
    }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> PublicKey => _publicKey;

    /// <inheritdoc />
    public int Workchain { get; }

    /// <summary>The wallet id (2147483409 for mainnet, workchain 0, subwallet 0).</summary>
    public int WalletId { get; }

    /// <inheritdoc />
    public StateInit StateInit { get; }

    /// <inheritdoc />
    public TonAddress Address { get; }

    /// <inheritdoc />
    public Cell CreateTransferBody(Ed25519KeyPair key, uint seqno, uint validUntil, IReadOnlyList<WalletMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count > 255)
        {
            throw new ArgumentException("wallet v5 sends at most 255 messages at once", nameof(messages));
        }

        // out_list_empty$_ = OutList 0; out_list$_ prev:^(OutList n) action:OutAction = OutList (n + 1).
        Cell? outList = null;
        if (messages.Count > 0)
        {
            var list = Cell.Empty;
            foreach (var m in messages)
            {
                // External requests always carry +2 (IGNORE_ERRORS), as @ton/ton toSafeV5R1SendMode does.
                var mode = (byte)(m.Mode | SendMode.IgnoreErrors);
                list = new CellBuilder().StoreRef(list).StoreUInt(ActionSendMsg, 32).StoreUInt(mode, 8).StoreRef(m.Message.ToCell()).EndCell();
            }

            outList = list;
        }

        var unsigned = new CellBuilder().StoreUInt(OpSignedExternal, 32).StoreInt(WalletId, 32).StoreUInt(validUntil, 32).StoreUInt(seqno, 32)
            .StoreMaybeRef(outList).StoreBit(false).EndCell();
        var signature = key.Sign(unsigned.Hash());
        return new CellBuilder().StoreCellContents(unsigned).StoreBytes(signature).EndCell();
    }

    /// <inheritdoc />
    public SignedTransfer CreateTransfer(Ed25519KeyPair key, uint seqno, uint validUntil, IReadOnlyList<WalletMessage> messages)
    {
        var body = CreateTransferBody(key, seqno, validUntil, messages);
        return new SignedTransfer(body, ExternalMessage.Create(Address, body, seqno == 0 ? StateInit : null));
    }
}
