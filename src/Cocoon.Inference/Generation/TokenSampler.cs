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
    // Tokens whose weight exp((logit - max) / temperature) is below this are sorted only when the rest cannot hold the
    // top_k or top_p set; the choice is the same as with a full sort, without sorting a 150k vocabulary per token.
    internal const double DefaultNegligible = 1e-6;

    private readonly GenerationOptions _options;
    private readonly double _negligible;
    private readonly Dictionary<int, int> _counts = [];
    private ulong _state;

    public TokenSampler(GenerationOptions options, double negligible = DefaultNegligible)
    {
        _options = options;
        _negligible = negligible;
        _state = options.Seed is { } seed
            ? unchecked((ulong)seed)
            : BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
    }

    /// <summary>Chooses the next token from <paramref name="logits"/> and records it for the penalties.</summary>
    /// <param name="logits">The model's logits for this sequence.</param>
    /// <param name="scratch">Buffers shared by the sequences of one engine (used by one thread at a time).</param>
    public int Next(ReadOnlySpan<float> logits, Scratch scratch)
    {
        var token = Choose(logits, scratch);
        _counts[token] = _counts.GetValueOrDefault(token) + 1;
        return token;
    }

    /// <summary>Lowers the logits of tokens already in the completion (OpenAI's frequency and presence penalties).</summary>
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

    private int Choose(ReadOnlySpan<float> logits, Scratch scratch)
    {
        var n = logits.Length;
        scratch.Ensure(n);
        var work = scratch.Work.AsSpan(0, n);
        logits.CopyTo(work);
        ApplyPenalties(work, _counts, _options.FrequencyPenalty, _options.PresencePenalty);
        if (_options.Temperature == 0f)
        {
            return ArgMax(work);
        }

        // Unnormalised softmax of logits / temperature, in double.
        var max = work[ArgMax(work)];
        var inverse = 1.0 / _options.Temperature;
        var weights = scratch.Weights.AsSpan(0, n);
        var total = 0.0;
        for (var i = 0; i < n; i++)
        {
            weights[i] = Math.Exp((work[i] - max) * inverse);
            total += weights[i];
        }

        var topK = _options.TopK > 0 && _options.TopK < n ? _options.TopK : 0;
        if (topK == 0 && _options.TopP >= 1f)
        {
            return Draw(weights, null, n, total);
        }

        // Most likely first, equal logits by id. Only tokens that can matter are sorted when they hold the top_k tokens
        // or at least top_p of the mass; otherwise all are.
        var order = scratch.Order.AsSpan(0, n);
        var count = 0;
        var mass = 0.0;
        for (var i = 0; i < n; i++)
        {
            if (weights[i] >= _negligible)
            {
                order[count++] = i;
                mass += weights[i];
            }
        }

        var enough = topK > 0 ? count >= topK : mass >= _options.TopP * total;
        if (!enough)
        {
            for (var i = 0; i < n; i++)
            {
                order[i] = i;
            }

            count = n;
        }

        var keys = scratch.Work;
        order[..count].Sort((a, b) => keys[b] != keys[a] ? keys[b].CompareTo(keys[a]) : a.CompareTo(b));

        var candidates = count;
        if (topK > 0)
        {
            candidates = topK;
            total = 0.0;
            for (var i = 0; i < candidates; i++)
            {
                total += weights[order[i]];
            }
        }

        if (_options.TopP < 1f)
        {
            var kept = 0;
            var cumulative = 0.0;
            while (kept < candidates)
            {
                cumulative += weights[order[kept]] / total;
                kept++;
                if (cumulative >= _options.TopP)
                {
                    break;
                }
            }

            candidates = kept;
            total = 0.0;
            for (var i = 0; i < candidates; i++)
            {
                total += weights[order[i]];
            }
        }

        return Draw(weights, scratch.Order, candidates, total);
    }

    /// <summary>Draws one of the first <paramref name="count"/> tokens of <paramref name="order"/> (or ids 0.. when null) by weight.</summary>
    private int Draw(ReadOnlySpan<double> weights, int[]? order, int count, double total)
    {
        var target = NextDouble() * total;
        var cumulative = 0.0;
        for (var i = 0; i < count; i++)
        {
            var token = order is null ? i : order[i];
            cumulative += weights[token];
            if (target < cumulative)
            {
                return token;
            }
        }

        return order is null ? count - 1 : order[count - 1];
    }

    private double NextDouble()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>Per-vocabulary buffers, reused from token to token and sequence to sequence.</summary>
    internal sealed class Scratch
    {
        public float[] Work { get; private set; } = [];

        public double[] Weights { get; private set; } = [];

        public int[] Order { get; private set; } = [];

        public void Ensure(int size)
        {
            if (Work.Length < size)
            {
                Work = new float[size];
                Weights = new double[size];
                Order = new int[size];
            }
        }
    }
}
