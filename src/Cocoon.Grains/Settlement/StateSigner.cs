using System.Buffers.Binary;
using System.Text;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Settlement;

namespace Cocoon.Grains.Ledger;

/// <summary>
/// The proxy key as the grains use it for persisted money state (DESIGN section 2): PostgreSQL sits outside the TEE, so
/// every escrow, worker-earnings and settlement row carries a sequence number and an Ed25519 signature by the proxy
/// key over a canonical encoding of the row. A row edited in the database no longer verifies and its grain freezes.
/// The same key signs the on-chain charges and payouts (its public key is the contracts' <c>proxy_public_key</c>).
/// </summary>
public sealed class StateSigner : IDisposable
{
    // Domain tag: a state signature can never be mistaken for a settlement signature (those sign a 32-byte cell hash).
    private static readonly byte[] Domain = "cocoon.state.v1\0"u8.ToArray();
    private readonly Ed25519KeyPair _key;

    /// <summary>Wraps a key pair; the signer owns and disposes it.</summary>
    public StateSigner(Ed25519KeyPair key)
    {
        ArgumentNullException.ThrowIfNull(key);
        _key = key;
        Settlements = new Ed25519SettlementSigner(key);
    }

    /// <summary>The same key as Cocoon.Ton's settlement signer (charges and payouts, DESIGN section 6).</summary>
    public Ed25519SettlementSigner Settlements { get; }

    /// <summary>The proxy key (for settlement signatures and the proxy wallet).</summary>
    public Ed25519KeyPair Key => _key;

    /// <summary>The 32-byte public key.</summary>
    public ReadOnlyMemory<byte> PublicKey => _key.PublicKey;

    /// <summary>Signs one row: its kind (<c>escrow</c>), its grain key, its sequence number and its canonical bytes.</summary>
    public byte[] Sign(string kind, string key, long seq, ReadOnlySpan<byte> canonical) => _key.Sign(Message(kind, key, seq, canonical));

    /// <summary>Whether <paramref name="signature"/> is this key's signature of the row.</summary>
    public bool Verify(string kind, string key, long seq, ReadOnlySpan<byte> canonical, ReadOnlySpan<byte> signature) =>
        signature.Length == 64 && Ed25519KeyPair.Verify(_key.PublicKey, Message(kind, key, seq, canonical), signature);

    private static byte[] Message(string kind, string key, long seq, ReadOnlySpan<byte> canonical)
    {
        var w = new CanonicalWriter();
        w.WriteBytes(Domain);
        w.WriteString(kind);
        w.WriteString(key);
        w.WriteInt64(seq);
        w.WriteBytes(canonical);
        return w.ToArray();
    }

    /// <inheritdoc />
    public void Dispose() => Settlements.Dispose();
}

/// <summary>
/// A deterministic byte encoding for signing state: big-endian integers, length-prefixed UTF-8 strings and byte
/// strings, collections written by the caller in ordinal key order. Two equal states always give equal bytes.
/// </summary>
public sealed class CanonicalWriter
{
    private readonly System.Buffers.ArrayBufferWriter<byte> _bytes = new(256);

    /// <summary>Writes a 64-bit integer.</summary>
    public CanonicalWriter WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(_bytes.GetSpan(8), value);
        _bytes.Advance(8);
        return this;
    }

    /// <summary>Writes a length-prefixed UTF-8 string.</summary>
    public CanonicalWriter WriteString(string? value) => WriteBytes(value is null ? [] : Encoding.UTF8.GetBytes(value), value is null);

    /// <summary>Writes a length-prefixed byte string.</summary>
    public CanonicalWriter WriteBytes(ReadOnlySpan<byte> value) => WriteBytes(value, isNull: false);

    /// <summary>Writes a timestamp as UTC ticks.</summary>
    public CanonicalWriter WriteTime(DateTimeOffset value) => WriteInt64(value.UtcTicks);

    /// <summary>The bytes written.</summary>
    public byte[] ToArray() => _bytes.WrittenSpan.ToArray();

    private CanonicalWriter WriteBytes(ReadOnlySpan<byte> value, bool isNull)
    {
        WriteInt64(isNull ? -1 : value.Length);
        value.CopyTo(_bytes.GetSpan(value.Length));
        _bytes.Advance(value.Length);
        return this;
    }
}
