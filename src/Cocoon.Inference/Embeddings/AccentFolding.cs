using System.Globalization;
using System.Text;

namespace Cocoon.Inference.Embeddings;

/// <summary>
/// Lower-casing and accent stripping as Hugging Face's uncased BERT tokenizer does it (lower(), then NFD, then drop
/// non-spacing marks), without relying on <see cref="string.Normalize()"/>: in .NET's invariant globalization mode,
/// which this repository builds with, that is a no-op and "Café" would become [UNK] instead of "cafe". The
/// decompositions come from a table generated from the Unicode database (tools/generate_accent_table.py).
/// </summary>
internal static partial class AccentFolding
{
    private const int HangulFirst = 0xAC00;
    private const int HangulLast = 0xD7A3;

    /// <summary>Returns <paramref name="text"/> lower-cased with accents removed; the same instance when nothing changes.</summary>
    public static string LowerAndStrip(string text)
    {
        StringBuilder? folded = null;
        for (var i = 0; i < text.Length; i++)
        {
            var original = text[i];
            var lower = char.ToLowerInvariant(original);
            var replacement = Fold(lower);
            if (folded is null)
            {
                if (replacement is null && lower == original)
                {
                    continue;
                }

                folded = new StringBuilder(text.Length);
                folded.Append(text, 0, i);
            }

            if (replacement is null)
            {
                folded.Append(lower);
            }
            else
            {
                folded.Append(replacement);
            }
        }

        return folded?.ToString() ?? text;
    }

    /// <summary>What one lower-cased character becomes, or null when it stays.</summary>
    private static string? Fold(char c)
    {
        if (c < '\u00C0')
        {
            // Nothing below U+00C0 has a canonical decomposition or is a non-spacing mark.
            return null;
        }

        if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark)
        {
            return string.Empty;
        }

        if (c is >= (char)HangulFirst and <= (char)HangulLast)
        {
            return DecomposeHangul(c);
        }

        var index = Keys.BinarySearch(c);
        return index >= 0 ? Folded[index] : null;
    }

    /// <summary>The canonical decomposition of a precomposed Hangul syllable into conjoining jamo (Unicode 3.12).</summary>
    private static string DecomposeHangul(char syllable)
    {
        const int leadBase = 0x1100, vowelBase = 0x1161, trailBase = 0x11A7, vowels = 21, trails = 28;
        var s = syllable - HangulFirst;
        var lead = (char)(leadBase + (s / (vowels * trails)));
        var vowel = (char)(vowelBase + (s % (vowels * trails) / trails));
        var trail = s % trails;
        return trail == 0 ? string.Concat(lead, vowel) : string.Concat(lead, vowel, (char)(trailBase + trail));
    }
}
