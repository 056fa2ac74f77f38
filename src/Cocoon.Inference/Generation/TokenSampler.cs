namespace Cocoon.Inference.Generation;

/// <summary>
/// Picks the next token of one sequence from the model's logits, with OpenAI's semantics: frequency and presence
/// penalties on the completion's tokens first (logit -= count x frequency_penalty + presence_penalty if count &gt; 0), then
/// greedy (temperature 0: the highest logit, the lowest id on a tie) or sampling from softmax(logits / temperature)
/// restricted to the top_k most likely tokens and then to the smallest set whose mass reaches top_p. The random source is
/// SplitMix64 seeded from <see cref="GenerationOptions.Seed"/>, so a seed gives the same tokens every time.
/// </summary>
internal sealed class TokenSampler
{
    private readonly GenerationOptions _options;
    private readonly Dictionary<int, int> _counts = [];
    private float[] _work = [];
    private int[] _order = [];
    private ulong _state;

    public TokenSampler(GenerationOptions options)
    {
        _options = options;
        _state = options.Seed is { } seed
            ? unchecked((ulong)seed)
            : BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
    }

    /// <summary>Chooses the next token from <paramref name="logits"/> and records it for the penalties.</summary>
    public int Next(ReadOnlySpan<float> logits)
    {
        var token = Choose(logits);
        _counts[token] = _counts.GetValueOrDefault(token) + 1;
        return token;
    }

    /// <summary>The penalised logits (a copy), as the choice sees them.</summary>
    internal static void ApplyPenalties(Span<float> logits, IReadOnlyDictionary<int, int> counts, float frequency, float presence)
    {
        if (frequency == 0f && presence == 0f)
        {
            return;
        }

        foreach (var (token, count) in counts)
        {
            if ((uint)token < (uint)logits.Length && count > 0)
            {
                logits[token] -= (count * frequency) + presence;
            }
        }
    }

    /// <summary>The first index of the largest value.</summary>
    internal static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }

    private int Choose(ReadOnlySpan<float> logits)
    {
        if (_work.Length != logits.Length)
        {
            _work = new float[logits.Length];
        }

        var work = _work.AsSpan();
        logits.CopyTo(work);
        ApplyPenalties(work, _counts, _options.FrequencyPenalty, _options.PresencePenalty);
        if (_options.Temperature == 0f)
        {
            return ArgMax(work);
        }

        var n = work.Length;
        if (_order.Length != n)
        {
            _order = new int[n];
        }

        var order = _order.AsSpan();
        for (var i = 0; i < n; i++)
        {
            order[i] = i;
        }

        var candidates = n;
        var restricted = (_options.TopK > 0 && _options.TopK < n) || _options.TopP < 1f;
        if (restricted)
        {
            // Most likely first; equal logits by id so the order does not depend on the sort.
            var keys = _work;
            order.Sort((a, b) => keys[b] != keys[a] ? keys[b].CompareTo(keys[a]) : a.CompareTo(b));
            if (_options.TopK > 0 && _options.TopK < n)
            {
                candidates = _options.TopK;
            }
        }

        var max = float.NegativeInfinity;
        for (var i = 0; i < candidates; i++)
        {
            max = Math.Max(max, work[order[i]]);
        }

        // Softmax over the candidates (in double), in the order chosen above.
        var inverse = 1.0 / _options.Temperature;
        var probabilities = new double[candidates];
        var total = 0.0;
        for (var i = 0; i < candidates; i++)
        {
            probabilities[i] = Math.Exp((work[order[i]] - max) * inverse);
            total += probabilities[i];
        }

        if (_options.TopP < 1f)
        {
            var kept = 0;
            var mass = 0.0;
            while (kept < candidates)
            {
                mass += probabilities[kept] / total;
                kept++;
                if (mass >= _options.TopP)
                {
                    break;
                }
            }

            candidates = kept;
            total = 0.0;
            for (var i = 0; i < candidates; i++)
            {
                total += probabilities[i];
            }
        }

        var target = NextDouble() * total;
        var cumulative = 0.0;
        for (var i = 0; i < candidates; i++)
        {
            cumulative += probabilities[i];
            if (target < cumulative)
            {
                return order[i];
            }
        }

        return order[candidates - 1];
    }

    private double NextDouble()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
