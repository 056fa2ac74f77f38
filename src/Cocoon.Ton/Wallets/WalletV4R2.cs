using Cocoon.Ton.Addresses;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Crypto;

namespace Cocoon.Ton.Wallets;

/// <summary>
/// Wallet v4r2 (ton-and-tdx.md section 3; ton-org/ton src/wallets/v4). Data: <c>seqno:32 wallet_id:32 pubkey:256
/// plugins:(HashmapE) = 0</c>. Body: <c>signature:512 wallet_id:32 valid_until:32 seqno:32 op:8 (mode:8 ^msg)*</c>,
/// the signature over the hash of the cell of everything after it.
/// </summary>
public sealed class WalletV4R2 : IWalletContract
{
    /// <summary>The default wallet id is this plus the workchain.</summary>
    public const uint DefaultWalletIdBase = 698983191;

    private readonly byte[] _publicKey;

    /// <summary>Creates the wallet of a public key.</summary>
    public WalletV4R2(ReadOnlySpan<byte> publicKey, int workchain = 0, uint? walletId = null)
    {
        if (publicKey.Length != 32)
        {
            throw new ArgumentException("public key must be 32 bytes", nameof(publicKey));
        }

        _publicKey = publicKey.ToArray();
        Workchain = workchain;
        WalletId = walletId ?? unchecked(DefaultWalletIdBase + (uint)workchain);
        var data = new CellBuilder().StoreUInt(0, 32).StoreUInt(WalletId, 32).StoreBytes(_publicKey).StoreBit(false).EndCell();
        StateInit = new StateInit(WalletCode.V4R2, data);
        Address = TonAddress.FromStateInit(workchain, StateInit);
    }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> PublicKey => _publicKey;

    /// <inheritdoc />
    public int Workchain { get; }

    /// <summary>The subwallet id.</summary>
    public uint WalletId { get; }

    /// <inheritdoc />
    public StateInit StateInit { get; }

    /// <inheritdoc />
    public TonAddress Address { get; }

    /// <inheritdoc />
    public Cell CreateTransferBody(Ed25519KeyPair key, uint seqno, uint validUntil, IReadOnlyList<WalletMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count > 4)
        {
            throw new ArgumentException("wallet v4 sends at most 4 messages at once", nameof(messages));
        }

        var signing = new CellBuilder().StoreUInt(WalletId, 32).StoreUInt(validUntil, 32).StoreUInt(seqno, 32).StoreUInt(0, 8);
        foreach (var m in messages)
        {
            signing.StoreUInt((ulong)(byte)m.Mode, 8).StoreRef(m.Message.ToCell());
        }

        var unsigned = signing.EndCell();
        var signature = key.Sign(unsigned.Hash());
        return new CellBuilder().StoreBytes(signature).StoreCellContents(unsigned).EndCell();
    }

    /// <inheritdoc />
    public SignedTransfer CreateTransfer(Ed25519KeyPair key, uint seqno, uint validUntil, IReadOnlyList<WalletMessage> messages)
    {
        var body = CreateTransferBody(key, seqno, validUntil, messages);
        return new SignedTransfer(body, ExternalMessage.Create(Address, body, seqno == 0 ? StateInit : null));
    }
}
