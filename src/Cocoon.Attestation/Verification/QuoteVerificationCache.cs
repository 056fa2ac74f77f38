using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Cocoon.Attestation.Collateral;
using Cocoon.Attestation.Quotes;

namespace Cocoon.Attestation.Verification;

/// <summary>
/// Caches successful verdicts keyed by SHA-256 of the quote bytes (and of the collateral, when given), so a peer
/// that presents the same quote on every connection is verified once. A cached verdict is reused only while the
/// verifier's clock is inside [VerifiedAt, ValidUntil] (the earliest certificate NotAfter and collateral
/// nextUpdate). Failures are never cached. Thread-safe; bounded by <c>capacity</c> (cleared when full).
/// </summary>
public sealed class QuoteVerificationCache
{
    private readonly QuoteVerifier _verifier;
    private readonly int _capacity;
    private readonly ConcurrentDictionary<Key, QuoteVerificationResult> _entries = new();
    private long _hits;
    private long _misses;

    public QuoteVerificationCache(QuoteVerifier verifier, int capacity = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _verifier = verifier;
        _capacity = capacity;
    }

    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    public int Count => _entries.Count;

    /// <summary>Verifies <paramref name="quote"/>, or returns the cached verdict for the same bytes.</summary>
    public QuoteVerificationResult Verify(ReadOnlySpan<byte> quote, QuoteCollateral? collateral = null)
    {
        var key = KeyOf(quote, collateral);
        if (TryGet(key, out var cached))
        {
            return cached;
        }

        return Store(key, _verifier.Verify(quote, collateral));
    }

    /// <summary>Verifies an already parsed quote, or returns the cached verdict for the same bytes.</summary>
    public QuoteVerificationResult Verify(TdxQuote quote, QuoteCollateral? collateral = null)
    {
        var key = KeyOf(quote.Bytes.Span, collateral);
        if (TryGet(key, out var cached))
        {
            return cached;
        }

        return Store(key, _verifier.Verify(quote, collateral));
    }

    private bool TryGet(Key key, out QuoteVerificationResult result)
    {
        var now = _verifier.TimeProvider.GetUtcNow();
        if (_entries.TryGetValue(key, out result!) && now >= result.VerifiedAt && now <= result.ValidUntil)
        {
            Interlocked.Increment(ref _hits);
            return true;
        }

        Interlocked.Increment(ref _misses);
        return false;
    }

    private QuoteVerificationResult Store(Key key, QuoteVerificationResult result)
    {
        if (result.IsValid)
        {
            if (_entries.Count >= _capacity)
            {
                _entries.Clear();
            }

            _entries[key] = result;
        }

        return result;
    }

    private static Key KeyOf(ReadOnlySpan<byte> quote, QuoteCollateral? collateral)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(quote);
        if (collateral is not null)
        {
            // Every collateral field, length-prefixed so that no two different collaterals hash alike.
            foreach (var part in new[]
            {
                Encoding.UTF8.GetBytes(collateral.TcbInfoJson), collateral.TcbInfoSignature, Encoding.UTF8.GetBytes(collateral.TcbInfoIssuerChainPem),
                Encoding.UTF8.GetBytes(collateral.QeIdentityJson), collateral.QeIdentitySignature, Encoding.UTF8.GetBytes(collateral.QeIdentityIssuerChainPem),
                collateral.RootCaCrl, collateral.PckCrl, Encoding.UTF8.GetBytes(collateral.PckCrlIssuerChainPem),
            })
            {
                hash.AppendData(BitConverter.GetBytes(part.Length));
                hash.AppendData(part);
            }
        }

        Span<byte> digest = stackalloc byte[32];
        hash.GetHashAndReset(digest);
        var words = MemoryMarshal.Cast<byte, UInt128>(digest);
        return new Key(words[0], words[1], collateral is not null);
    }

    private readonly record struct Key(UInt128 Low, UInt128 High, bool WithCollateral);
}
