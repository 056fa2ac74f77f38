using Cocoon.Ton.Addresses;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;

namespace Cocoon.Cluster.Tests;

/// <summary>A v5r1 wallet on the localnet that signs with its key and checks its seqno moved.</summary>
internal sealed class Wallet(ToncenterClient ton, Ed25519KeyPair key)
{
    private readonly WalletV5R1 _wallet = new(key.PublicKey);

    public Ed25519KeyPair Key => key;

    public TonAddress Address => _wallet.Address;

    public async Task SendAsync(IReadOnlyList<WalletMessage> messages)
    {
        var seqno = (uint)((await ton.GetWalletInformationAsync(Address)).Seqno ?? 0);
        var now = (await ton.GetAddressInformationAsync(Address)).SyncUtime;
        await ton.SendBocAsync(_wallet.CreateTransfer(key, seqno, (uint)(now + 300), messages).ToBoc());
        var after = (await ton.GetWalletInformationAsync(Address)).Seqno;
        if (after != seqno + 1)
        {
            throw new InvalidOperationException($"wallet {Address.ToFriendlyString()}: seqno {after} after sending with {seqno}");
        }
    }
}
