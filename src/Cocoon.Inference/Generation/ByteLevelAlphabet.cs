namespace Cocoon.Inference.Generation;

/// <summary>
/// The byte-to-character table of byte-level BPE (GPT-2's <c>bytes_to_unicode</c>, used by Qwen's tokenizer too): the
/// printable bytes '!'..'~', '¡'..'¬' and '®'..'ÿ' stand for themselves, every other byte for U+0100 upwards in byte
/// order, so that any byte string is a string of visible characters (a space becomes 'Ġ').
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildTable();
    private static readonly Dictionary<char, byte> CharToByte = Inverse();

    /// <summary>The character that stands for <paramref name="value"/>.</summary>
    public static char ToChar(byte value) => ByteToChar[value];

    /// <summary>The bytes a byte-level token string stands for, or null when a character is not in the table.</summary>
    public static byte[]? ToBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            if (!CharToByte.TryGetValue(token[i], out var b))
            {
                return null;
            }

            bytes[i] = b;
        }

        return bytes;
    }

    /// <summary>The byte-level string of <paramref name="bytes"/>.</summary>
    public static string ToText(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            chars[i] = ByteToChar[bytes[i]];
        }

        return new string(chars);
    }

    private static char[] BuildTable()
    {
        var table = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }

        return table;
    }

    private static Dictionary<char, byte> Inverse()
    {
        var inverse = new Dictionary<char, byte>(256);
        for (var b = 0; b < 256; b++)
        {
            inverse[ByteToChar[b]] = (byte)b;
        }

        return inverse;
    }
}
