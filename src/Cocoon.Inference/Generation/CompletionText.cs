using System.Text;

namespace Cocoon.Inference.Generation;

/// <summary>
/// Turns a completion's token bytes into text to stream: bytes are decoded as UTF-8 only once a character is complete,
/// and text that could be the start of a stop sequence is held back until it is known not to be, so a stop sequence
/// never reaches the client, not even in part. A stop sequence found cuts the text before it.
/// </summary>
internal sealed class CompletionText
{
    private readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private readonly IReadOnlyList<string> _stops;
    private readonly StringBuilder _pending = new();
    private char[] _chars = new char[64];

    public CompletionText(IReadOnlyList<string> stops) => _stops = stops;

    /// <summary>True once a stop sequence was found; nothing more is produced.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds a token's bytes and returns the text that may be sent now (may be empty).</summary>
    public string Append(ReadOnlySpan<byte> bytes, bool final = false)
    {
        if (Stopped)
        {
            return "";
        }

        var needed = _decoder.GetCharCount(bytes, flush: final);
        if (_chars.Length < needed)
        {
            _chars = new char[Math.Max(needed, _chars.Length * 2)];
        }

        var written = _decoder.GetChars(bytes, _chars, flush: final);
        _pending.Append(_chars, 0, written);
        return Take(final);
    }

    /// <summary>The completion ends: everything held back that is not a stop sequence.</summary>
    public string Finish() => Append([], final: true);

    private string Take(bool final)
    {
        if (_pending.Length == 0)
        {
            return "";
        }

        var text = _pending.ToString();
        var cut = -1;
        foreach (var stop in _stops)
        {
            var at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut))
            {
                cut = at;
            }
        }

        if (cut >= 0)
        {
            Stopped = true;
            _pending.Clear();
            return text[..cut];
        }

        var hold = final ? 0 : HeldBack(text);
        _pending.Clear();
        _pending.Append(text, text.Length - hold, hold);
        return text[..(text.Length - hold)];
    }

    /// <summary>The longest end of <paramref name="text"/> that a stop sequence starts with.</summary>
    private int HeldBack(string text)
    {
        var hold = 0;
        foreach (var stop in _stops)
        {
            for (var k = Math.Min(stop.Length - 1, text.Length); k > hold; k--)
            {
                if (text.AsSpan(text.Length - k).SequenceEqual(stop.AsSpan(0, k)))
                {
                    hold = k;
                    break;
                }
            }
        }

        return hold;
    }
}
