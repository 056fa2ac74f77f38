using Cocoon.Inference.Generation;

namespace Cocoon.Inference.Tests.Generation;

public sealed class TokenSamplerTests
{
    public static TheoryData<float, int, float> Settings => new()
    {
        { 1f, 0, 1f },
        { 0.7f, 20, 1f },
        { 0.7f, 0, 0.8f },
        { 1.3f, 50, 0.95f },
        { 2f, 0, 0.999f },
        { 0.3f, 0, 0.5f },
    };

    /// <summary>
    /// The sampler against the specification written out plainly: the whole vocabulary sorted (logit descending, id
    /// ascending), top_k, then the smallest prefix reaching top_p, drawn with SplitMix64 from the seed. A wide vocabulary
    /// with spread logits, so that most tokens are negligible and the sampler's shortcut is taken.
    /// </summary>
    [Theory]
    [MemberData(nameof(Settings))]
    public void Sampling_matches_a_full_sort_reference(float temperature, int topK, float topP)
    {
        const int vocabulary = 4_000;
        var random = new Random(5);
        var options = new GenerationOptions { MaxTokens = 1, Temperature = temperature, TopK = topK, TopP = topP, Seed = 1234 };
        var sampler = new TokenSampler(options);
        var scratch = new TokenSampler.Scratch();
        var reference = new SplitMix64(1234);

        for (var draw = 0; draw < 25; draw++)
        {
            var logits = new float[vocabulary];
            for (var i = 0; i < logits.Length; i++)
            {
                logits[i] = (float)(random.NextDouble() * 30.0) - 15f;
            }

            Assert.Equal(Reference(logits, options, reference), sampler.Next(logits, scratch));
        }
    }

    [Fact]
    public void Sampling_matches_the_reference_when_negligible_tokens_hold_most_of_the_mass()
    {
        // With the shortcut's cut raised to 0.01: one token at 0, one at -1, and 5000 at -5 (weight 0.0067 each, below the
        // cut, 34 of the 35 units of mass together). The likely tokens alone do not reach top_p: everything must be sorted.
        var logits = Enumerable.Repeat(-5f, 5_000).ToArray();
        logits[0] = 0f;
        logits[77] = -1f;
        var options = new GenerationOptions { MaxTokens = 1, Temperature = 1f, TopP = 0.9f, Seed = 99 };
        var sampler = new TokenSampler(options, negligible: 0.01);
        var scratch = new TokenSampler.Scratch();
        var reference = new SplitMix64(99);

        var picks = new List<int>();
        for (var draw = 0; draw < 20; draw++)
        {
            var expected = Reference(logits, options, reference);
            Assert.Equal(expected, sampler.Next(logits, scratch));
            picks.Add(expected);
        }

        Assert.Contains(picks, p => p is not (0 or 77));
    }

    [Fact]
    public void Penalties_lower_the_logits_of_tokens_already_chosen()
    {
        var sampler = new TokenSampler(new GenerationOptions { MaxTokens = 1, Temperature = 0, FrequencyPenalty = 0.5f, PresencePenalty = 1f });
        var scratch = new TokenSampler.Scratch();
        float[] logits = [3f, 2.9f, 1.2f];

        // Each pick is the highest of logit - (count x 0.5 + 1 if count > 0): 3 | 1.5 vs 2.9 | 1.5 vs 1.4 | 1.0 vs 1.4 | 1.0, 0.9 vs 1.2.
        Assert.Equal(0, sampler.Next(logits, scratch));
        Assert.Equal(1, sampler.Next(logits, scratch));
        Assert.Equal(0, sampler.Next(logits, scratch));
        Assert.Equal(1, sampler.Next(logits, scratch));
        Assert.Equal(2, sampler.Next(logits, scratch));
    }

    private static int Reference(float[] logits, GenerationOptions options, SplitMix64 random)
    {
        var max = logits.Max();
        var inverse = 1.0 / options.Temperature;
        var weights = logits.Select(l => Math.Exp((l - max) * inverse)).ToArray();
        var total = 0.0;
        foreach (var w in weights)
        {
            total += w;
        }

        var order = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i).ToList();
        if (options.TopK > 0)
        {
            order = order.Take(options.TopK).ToList();
            total = 0.0;
            foreach (var i in order)
            {
                total += weights[i];
            }
        }

        if (options.TopP < 1f)
        {
            var kept = 0;
            var mass = 0.0;
            while (kept < order.Count)
            {
                mass += weights[order[kept]] / total;
                kept++;
                if (mass >= options.TopP)
                {
                    break;
                }
            }

            order = order.Take(kept).ToList();
            total = 0.0;
            foreach (var i in order)
            {
                total += weights[i];
            }
        }

        if (options.TopK == 0 && options.TopP >= 1f)
        {
            order = Enumerable.Range(0, logits.Length).ToList();
        }

        var target = random.NextDouble() * total;
        var cumulative = 0.0;
        foreach (var i in order)
        {
            cumulative += weights[i];
            if (target < cumulative)
            {
                return i;
            }
        }

        return order[^1];
    }

    /// <summary>SplitMix64 (Steele, Lea, Flood 2014) with 53-bit doubles, as the sampler documents.</summary>
    private sealed class SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public double NextDouble()
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return (z >> 11) * (1.0 / (1UL << 53));
        }
    }
}
