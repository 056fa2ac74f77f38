using Cocoon.Abstractions.Pricing;

namespace Cocoon.Grains.Tests;

public sealed class PricingTests
{
    private static readonly PriceList Test = new() { PricePerToken = 20, WorkerFeePerToken = 19 };

    [Theory]
    // n, coefficient, multiplier, adjusted: n * coef / 1000 * mult / 10000, integer division at each step.
    [InlineData(100, 1000, 10000, 100)]
    [InlineData(100, 1500, 10000, 150)]
    [InlineData(100, 1000, 5000, 50)]
    [InlineData(7, 1001, 10000, 7)]      // 7007 / 1000 = 7
    [InlineData(999, 1, 10000, 0)]       // 999 / 1000 = 0: tiny coefficients round down
    [InlineData(3, 1000, 3333, 0)]       // 3 * 3333 / 10000 = 0
    [InlineData(1_000_000, 2000, 12500, 2_500_000)]
    public void Adjust_follows_the_formula_step_by_step(long n, long coefficient, long multiplier, long adjusted) =>
        Assert.Equal(adjusted, Pricing.Adjust(n, coefficient, multiplier));

    [Fact]
    public void Cost_sums_the_classes_and_splits_client_worker_and_proxy()
    {
        var prices = Test with { CachedMultiplier = 1000, CompletionMultiplier = 40000, ReasoningMultiplier = 40000 };
        var usage = new TokenUsage { PromptTokens = 1000, CachedTokens = 500, CompletionTokens = 200, ReasoningTokens = 50 };

        var cost = Pricing.Cost(usage, 1000, prices);

        // 1000 + 50 + 800 + 200 adjusted tokens.
        Assert.Equal(2050, cost.AdjustedTokens);
        Assert.Equal(41_000, cost.ClientNanoTon);
        Assert.Equal(38_950, cost.WorkerNanoTon);
        Assert.Equal(2_050, cost.ProxyNanoTon);
    }

    [Fact]
    public void Overflow_throws_instead_of_wrapping()
    {
        Assert.Throws<OverflowException>(() => Pricing.Adjust(long.MaxValue / 2, 1000, 10000));
        Assert.Throws<OverflowException>(() => Pricing.Cost(new TokenUsage { PromptTokens = long.MaxValue / 10_000 }, 1000, Test with { PricePerToken = 1_000_000 }));
    }

    [Fact]
    public void Negative_inputs_are_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Pricing.Adjust(-1, 1000, 10000));
}

/// <summary>
/// Whole-request prices worked out by hand (DESIGN section 5; COCOON's rules in shared/reference/cocoon.md section 3:
/// prompt minus cached, cached, completion minus reasoning and reasoning are adjusted separately and summed). The usage
/// is COCOON's benchmark backend's (34 prompt tokens of which 11 cached, 100 completion tokens of which 10 reasoning), so
/// the disjoint classes are 23, 11, 90 and 10. Price lists: COCOON's fake-TON config (price 2, worker fee 1) and ours (20, 19).
/// </summary>
public sealed class PricingTableTests
{
    private static readonly TokenUsage BenchmarkUsage = new() { PromptTokens = 23, CachedTokens = 11, CompletionTokens = 90, ReasoningTokens = 10 };

    public static TheoryData<string, long, long, long, long, long, long, long, long, long, long> Table => new()
    {
        // name, price, fee, prompt/cached/completion/reasoning multipliers, coefficient, adjusted, client, worker, proxy
        // 23 + 11 + 90 + 10 = 134.
        { "fake-TON 2/1 at 1.0x", 2, 1, 10000, 10000, 10000, 10000, 1000, 134, 268, 134 },
        // 23*1.5 = 34 (34.5 down), 11*1.5 = 16, 90*1.5 = 135, 10*1.5 = 15: 200.
        { "20/19 at 1.5x", 20, 19, 10000, 10000, 10000, 10000, 1500, 200, 4000, 3800 },
        // 23, 11*0.25 = 2 (2.75 down), 90*3 = 270, 10*3 = 30: 325.
        { "20/19, cached 0.25x, output 3x", 20, 19, 10000, 2500, 30000, 30000, 1000, 325, 6500, 6175 },
        // coefficient first: 23*0.8 = 18, 11*0.8 = 8 then *0.25 = 2, 90*0.8 = 72 then *3 = 216, 10*0.8 = 8 then *3 = 24: 260.
        { "fake-TON 2/1 at 0.8x, cached 0.25x, output 3x", 2, 1, 10000, 2500, 30000, 30000, 800, 260, 520, 260 },
        // A coefficient of zero makes the request free for the client and earns the worker nothing.
        { "20/19 at 0x", 20, 19, 10000, 10000, 10000, 10000, 0, 0, 0, 0 },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Hand_computed_prices_match(string name, long price, long fee, long promptMultiplier, long cachedMultiplier,
        long completionMultiplier, long reasoningMultiplier, long coefficient, long adjusted, long client, long worker)
    {
        var prices = new PriceList
        {
            PricePerToken = price,
            WorkerFeePerToken = fee,
            PromptMultiplier = promptMultiplier,
            CachedMultiplier = cachedMultiplier,
            CompletionMultiplier = completionMultiplier,
            ReasoningMultiplier = reasoningMultiplier,
        };

        var cost = Pricing.Cost(BenchmarkUsage, coefficient, prices);

        Assert.True(cost.AdjustedTokens == adjusted, $"{name}: adjusted {cost.AdjustedTokens}, expected {adjusted}");
        Assert.Equal(client, cost.ClientNanoTon);
        Assert.Equal(worker, cost.WorkerNanoTon);
        Assert.Equal(client - worker, cost.ProxyNanoTon);
    }
}
