using System.Text.Json;

namespace Cocoon.Attestation.RaTls;

/// <summary>
/// Claims a TD makes about itself in its RA-TLS certificate (role, node id, model...): string keys and values.
/// The canonical bytes are compact JSON with keys in ordinal order, written by <see cref="Utf8JsonWriter"/> with its
/// default escaping; a certificate whose claims bytes are not canonical is refused, so one set of claims has one
/// encoding and one REPORTDATA.
/// </summary>
public sealed class RaTlsClaims
{
    private readonly SortedDictionary<string, string> _values;

    public RaTlsClaims(IEnumerable<KeyValuePair<string, string>> values)
    {
        _values = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in values)
        {
            _values.Add(key, value);
        }
    }

    /// <summary>The claims in key order.</summary>
    public IReadOnlyDictionary<string, string> Values => _values;

    /// <summary>The value of <paramref name="key"/>, or null.</summary>
    public string? this[string key] => _values.TryGetValue(key, out var value) ? value : null;

    /// <summary>Canonical UTF-8 JSON bytes: the exact bytes hashed into REPORTDATA and stored in the certificate.</summary>
    public byte[] ToCanonicalBytes()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in _values)
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>Parses canonical claims bytes; throws <see cref="FormatException"/> if malformed or not canonical.</summary>
    public static RaTlsClaims Parse(ReadOnlySpan<byte> bytes)
    {
        // Utf8JsonReader finds bad UTF-8 inside a string only when it is read (an InvalidOperationException there):
        // found by fuzzing (tests/Cocoon.Gateway.Fuzz, target 'claims'); a peer's certificate must never throw anything else.
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            throw new FormatException("claims are not valid UTF-8");
        }

        var values = new List<KeyValuePair<string, string>>();
        try
        {
            var reader = new Utf8JsonReader(bytes);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new FormatException("claims are not a JSON object");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var key = reader.GetString()!;
                if (!reader.Read() || reader.TokenType != JsonTokenType.String)
                {
                    throw new FormatException($"claim '{key}' is not a string");
                }

                values.Add(new(key, reader.GetString()!));
            }

            var claims = new RaTlsClaims(values);
            if (!claims.ToCanonicalBytes().AsSpan().SequenceEqual(bytes))
            {
                throw new FormatException("claims bytes are not in canonical form");
            }

            return claims;
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new FormatException("claims are not valid: " + e.Message, e);
        }
    }
}
