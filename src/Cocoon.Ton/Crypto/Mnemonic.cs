using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace Cocoon.Ton.Crypto;

/// <summary>
/// TON mnemonics: 24 words from the BIP-39 English list, turned into an Ed25519 seed by
/// HMAC-SHA512(words joined by spaces, password) then PBKDF2-HMAC-SHA512 with salt "TON default seed" and
/// 100000 iterations (ton tonlib/keys/Mnemonic.cpp; ton-and-tdx.md section 3). This is not BIP-39 seed derivation.
/// </summary>
public static class Mnemonic
{
    private const int Iterations = 100_000;
    private static readonly Lazy<string[]> LazyWords = new(LoadWords);
    private static readonly Lazy<Dictionary<string, int>> LazyIndex = new(() =>
    {
        var d = new Dictionary<string, int>(StringComparer.Ordinal);
        var w = LazyWords.Value;
        for (var i = 0; i < w.Length; i++)
        {
            d[w[i]] = i;
        }

        return d;
    });

    /// <summary>
    /// The 2048-word BIP-39 English list (bitcoin/bips bip-0039/english.txt), taken from the copy @ton/crypto 3.3.0
    /// ships in dist/mnemonic/wordlist.js; SHA-256 of the file with one word per line:
    /// 2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda.
    /// </summary>
    public static IReadOnlyList<string> WordList => LazyWords.Value;

    /// <summary>Generates a valid mnemonic (no password) of <paramref name="wordCount"/> words.</summary>
    public static string[] Generate(int wordCount = 24)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(wordCount, 1);
        var words = LazyWords.Value;
        while (true)
        {
            var candidate = new string[wordCount];
            for (var i = 0; i < wordCount; i++)
            {
                candidate[i] = words[RandomNumberGenerator.GetInt32(words.Length)];
            }

            // tonlib Mnemonic::create_new keeps drawing until the phrase is a "basic seed".
            if (IsBasicSeed(ToEntropy(candidate, null)))
            {
                return candidate;
            }
        }
    }

    /// <summary>Lower-cases and trims each word, as ton-crypto normalizeMnemonic does.</summary>
    public static string[] Normalize(IEnumerable<string> words) =>
        words.Select(w => w.Trim().ToLowerInvariant()).Where(w => w.Length > 0).ToArray();

    /// <summary>Splits a phrase on whitespace and normalizes it.</summary>
    public static string[] Split(string phrase) =>
        Normalize(phrase.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    /// <summary>True when every word is on the list and the phrase is a valid TON seed (for the password, if any).</summary>
    public static bool Validate(IReadOnlyList<string> words, string? password = null)
    {
        var normalized = Normalize(words);
        var index = LazyIndex.Value;
        foreach (var w in normalized)
        {
            if (!index.ContainsKey(w))
            {
                return false;
            }
        }

        if (!string.IsNullOrEmpty(password))
        {
            var passless = ToEntropy(normalized, null);
            if (!(IsPasswordSeed(passless) && !IsBasicSeed(passless)))
            {
                return false;
            }
        }

        return IsBasicSeed(ToEntropy(normalized, password));
    }

    /// <summary>The 64-byte seed: PBKDF2-HMAC-SHA512(entropy, "TON default seed", 100000).</summary>
    public static byte[] ToSeed(IReadOnlyList<string> words, string? password = null)
    {
        var entropy = ToEntropy(Normalize(words), password);
        return Rfc2898DeriveBytes.Pbkdf2(entropy, "TON default seed"u8, Iterations, HashAlgorithmName.SHA512, 64);
    }

    /// <summary>The Ed25519 key pair of a mnemonic: its private seed is the first 32 bytes of <see cref="ToSeed"/>.</summary>
    public static Ed25519KeyPair ToKeyPair(IReadOnlyList<string> words, string? password = null)
    {
        var seed = ToSeed(words, password);
        try
        {
            return Ed25519KeyPair.FromSeed(seed.AsSpan(0, 32));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    private static byte[] ToEntropy(string[] words, string? password) =>
        HMACSHA512.HashData(Encoding.UTF8.GetBytes(string.Join(' ', words)), Encoding.UTF8.GetBytes(password ?? string.Empty));

    // PBKDF_ITERATIONS / 256 = 390 iterations (tonlib Mnemonic::is_basic_seed).
    private static bool IsBasicSeed(byte[] entropy) =>
        Rfc2898DeriveBytes.Pbkdf2(entropy, "TON seed version"u8, Iterations / 256, HashAlgorithmName.SHA512, 64)[0] == 0;

    private static bool IsPasswordSeed(byte[] entropy) =>
        Rfc2898DeriveBytes.Pbkdf2(entropy, "TON fast seed version"u8, 1, HashAlgorithmName.SHA512, 64)[0] == 1;

    private static string[] LoadWords()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Cocoon.Ton.Crypto.bip39-english.txt")
            ?? throw new InvalidOperationException("BIP-39 word list resource is missing");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var words = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (words.Length != 2048)
        {
            throw new InvalidOperationException($"BIP-39 word list has {words.Length} words, expected 2048");
        }

        return words;
    }
}
