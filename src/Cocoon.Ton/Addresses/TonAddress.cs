using System.Buffers.Binary;
using System.Globalization;

namespace Cocoon.Ton.Addresses;

/// <summary>
/// An internal TON address (<c>addr_std</c>): a workchain and a 256-bit account id. Prints and parses the raw
/// form <c>wc:hex</c> and the 48-character user-friendly form <c>tag ‖ wc ‖ hash ‖ crc16</c>
/// (ton-and-tdx.md section 2; ton-core src/address/Address.ts).
/// </summary>
public sealed class TonAddress : IEquatable<TonAddress>
{
    /// <summary>User-friendly tag for a bounceable address.</summary>
    public const byte BounceableTag = 0x11;

    /// <summary>User-friendly tag for a non-bounceable address.</summary>
    public const byte NonBounceableTag = 0x51;

    /// <summary>Flag ORed into the tag for testnet-only addresses.</summary>
    public const byte TestOnlyFlag = 0x80;

    private readonly byte[] _hash;

    /// <summary>Creates an address from a workchain (-128..127) and a 32-byte account id.</summary>
    public TonAddress(int workchain, ReadOnlySpan<byte> hash)
    {
        if (workchain is < sbyte.MinValue or > sbyte.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(workchain), "workchain must fit in int8");
        }

        if (hash.Length != 32)
        {
            throw new ArgumentException("an account id is 32 bytes", nameof(hash));
        }

        Workchain = workchain;
        _hash = hash.ToArray();
    }

    /// <summary>The workchain id (0 for basechain, -1 for masterchain).</summary>
    public int Workchain { get; }

    /// <summary>The 256-bit account id.</summary>
    public ReadOnlySpan<byte> Hash => _hash;

    /// <summary>The address of a contract: <c>wc : hash(StateInit cell)</c> (ton-core contractAddress.ts).</summary>
    public static TonAddress FromStateInit(int workchain, StateInit init) => new(workchain, init.ToCell().Hash());

    /// <summary>Parses either form.</summary>
    public static TonAddress Parse(string text) => TryParse(text, out var a, out var error) ? a : throw new FormatException(error);

    /// <summary>Parses either form, without throwing.</summary>
    public static bool TryParse(string? text, out TonAddress address, out string error)
    {
        address = null!;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "address is empty";
            return false;
        }

        text = text.Trim();
        if (text.Contains(':', StringComparison.Ordinal))
        {
            return TryParseRaw(text, out address, out error);
        }

        if (TryParseFriendly(text, out var friendly, out error))
        {
            address = friendly.Address;
            return true;
        }

        return false;
    }

    /// <summary>Parses <c>wc:hex64</c>.</summary>
    public static bool TryParseRaw(string text, out TonAddress address, out string error)
    {
        address = null!;
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || !int.TryParse(text.AsSpan(0, colon), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var wc)
            || wc is < sbyte.MinValue or > sbyte.MaxValue)
        {
            error = $"raw address '{text}' has no valid workchain";
            return false;
        }

        var hex = text.AsSpan(colon + 1);
        if (hex.Length != 64)
        {
            error = $"raw address '{text}' must have 64 hex digits after the colon";
            return false;
        }

        Span<byte> hash = stackalloc byte[32];
        if (Convert.FromHexString(hex, hash, out _, out var written) != System.Buffers.OperationStatus.Done || written != 32)
        {
            error = $"raw address '{text}' is not hex";
            return false;
        }

        address = new TonAddress(wc, hash);
        error = string.Empty;
        return true;
    }

    /// <summary>Parses the user-friendly form, base64 or base64url, checking its CRC16.</summary>
    public static bool TryParseFriendly(string text, out FriendlyAddress result, out string error)
    {
        result = default;
        if (text.Length != 48)
        {
            error = $"user-friendly address must be 48 characters, got {text.Length}";
            return false;
        }

        Span<byte> raw = stackalloc byte[36];
        var urlSafe = text.AsSpan().IndexOfAny('-', '_') >= 0;
        var standard = text.AsSpan().IndexOfAny('+', '/') >= 0;
        if (urlSafe && standard)
        {
            error = "address mixes base64 and base64url characters";
            return false;
        }

        var normalized = text.Replace('-', '+').Replace('_', '/');
        if (!Convert.TryFromBase64String(normalized, raw, out var written) || written != 36)
        {
            error = "address is not valid base64";
            return false;
        }

        var crc = Crc.Crc16Xmodem(raw[..34]);
        if (crc != BinaryPrimitives.ReadUInt16BigEndian(raw[34..]))
        {
            error = "address checksum (CRC16) does not match";
            return false;
        }

        var tag = raw[0];
        var testOnly = (tag & TestOnlyFlag) != 0;
        var kind = (byte)(tag & ~TestOnlyFlag);
        if (kind is not (BounceableTag or NonBounceableTag))
        {
            error = $"unknown address tag 0x{tag:x2}";
            return false;
        }

        result = new FriendlyAddress(new TonAddress((sbyte)raw[1], raw.Slice(2, 32)), kind == BounceableTag, testOnly, urlSafe || !standard);
        error = string.Empty;
        return true;
    }

    /// <summary>The raw form <c>wc:hex</c> in lower case.</summary>
    public string ToRawString() => $"{Workchain.ToString(CultureInfo.InvariantCulture)}:{Convert.ToHexStringLower(_hash)}";

    /// <summary>The user-friendly form.</summary>
    public string ToFriendlyString(bool bounceable = true, bool testOnly = false, bool urlSafe = true)
    {
        Span<byte> raw = stackalloc byte[36];
        raw[0] = (byte)((bounceable ? BounceableTag : NonBounceableTag) | (testOnly ? TestOnlyFlag : 0));
        raw[1] = (byte)(sbyte)Workchain;
        _hash.CopyTo(raw[2..]);
        BinaryPrimitives.WriteUInt16BigEndian(raw[34..], Crc.Crc16Xmodem(raw[..34]));
        var s = Convert.ToBase64String(raw);
        return urlSafe ? s.Replace('+', '-').Replace('/', '_') : s;
    }

    /// <inheritdoc />
    public bool Equals(TonAddress? other) => other is not null && other.Workchain == Workchain && other._hash.AsSpan().SequenceEqual(_hash);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is TonAddress a && Equals(a);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Workchain, BinaryPrimitives.ReadInt32LittleEndian(_hash));

    /// <summary>The raw form.</summary>
    public override string ToString() => ToRawString();
}

/// <summary>A parsed user-friendly address with its flags.</summary>
public readonly record struct FriendlyAddress(TonAddress Address, bool IsBounceable, bool IsTestOnly, bool IsUrlSafe);

/// <summary>An external address (<c>addr_extern</c>): up to 511 free-form bits.</summary>
public sealed class ExternalAddress
{
    private readonly byte[] _bits;

    /// <summary>Creates an external address of <paramref name="bitLength"/> bits.</summary>
    public ExternalAddress(ReadOnlySpan<byte> bits, int bitLength)
    {
        if (bitLength is < 0 or > 511 || bits.Length * 8 < bitLength)
        {
            throw new ArgumentOutOfRangeException(nameof(bitLength), "an external address has 0..511 bits");
        }

        BitLength = bitLength;
        _bits = bits[..((bitLength + 7) / 8)].ToArray();
    }

    /// <summary>Number of bits.</summary>
    public int BitLength { get; }

    /// <summary>The bits, left-aligned.</summary>
    public ReadOnlySpan<byte> Bits => _bits;
}
