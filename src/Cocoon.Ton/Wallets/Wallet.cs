using Cocoon.Ton.Addresses;
using Cocoon.Ton.Boc;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Crypto;

namespace Cocoon.Ton.Wallets;

/// <summary>What a client needs after signing a transfer: the message to send and the hashes to find it by.</summary>
/// <param name="Body">The signed wallet body.</param>
/// <param name="Message">The external message envelope (with StateInit on the first send).</param>
public sealed record SignedTransfer(Cell Body, Cell Message)
{
    /// <summary>The BoC to hand to <c>sendBoc</c> (as @ton/core writes it: no index, CRC32C).</summary>
    public byte[] ToBoc() => BagOfCells.Serialize(Message);

    /// <summary>The representation hash of the external message as sent.</summary>
    public byte[] MessageHash => Message.HashBytes();

    /// <summary>The TEP-467 normalized message hash that indexers match transactions by.</summary>
    public byte[] NormalizedMessageHash => ExternalMessage.NormalizedHash(Message);
}

/// <summary>A wallet contract the Cocoon node can sign transfers for.</summary>
public interface IWalletContract
{
    /// <summary>The owner's Ed25519 public key.</summary>
    ReadOnlyMemory<byte> PublicKey { get; }

    /// <summary>The workchain the wallet lives in.</summary>
    int Workchain { get; }

    /// <summary>Code and initial data; its hash is the wallet's account id.</summary>
    StateInit StateInit { get; }

    /// <summary>The wallet address.</summary>
    TonAddress Address { get; }

    /// <summary>Builds and signs the body of a transfer.</summary>
    Cell CreateTransferBody(Ed25519KeyPair key, uint seqno, uint validUntil, IReadOnlyList<WalletMessage> messages);

    /// <summary>Builds, signs and wraps a transfer; includes the StateInit when <paramref name="seqno"/> is 0.</summary>
    SignedTransfer CreateTransfer(Ed25519KeyPair key, uint seqno, uint validUntil, IReadOnlyList<WalletMessage> messages);
}
