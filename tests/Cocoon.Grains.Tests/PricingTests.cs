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
