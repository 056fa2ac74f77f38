namespace Cocoon.Abstractions.Pricing;

/// <summary>
/// The price parameters of DESIGN section 5, as COCOON's root contract holds them: nanoTON per adjusted token for
/// the client and for the worker, and a multiplier per token class (10000 = 1.0x).
/// </summary>
[GenerateSerializer, Immutable, Alias("cocoon.pricing.PriceList")]
public sealed record PriceList
{
    /// <summary>What a client pays per adjusted token, in nanoTON.</summary>
    [Id(0)] public required long PricePerToken { get; init; }

    /// <summary>What a worker earns per adjusted token, in nanoTON; the proxy keeps the difference.</summary>
    [Id(1)] public required long WorkerFeePerToken { get; init; }

    /// <summary>Multiplier for prompt tokens (10000 = 1.0x).</summary>
    [Id(2)] public long PromptMultiplier { get; init; } = Pricing.UnitMultiplier;

    /// <summary>Multiplier for cached prompt tokens.</summary>
    [Id(3)] public long CachedMultiplier { get; init; } = Pricing.UnitMultiplier;

    /// <summary>Multiplier for completion tokens.</summary>
    [Id(4)] public long CompletionMultiplier { get; init; } = Pricing.UnitMultiplier;

    /// <summary>Multiplier for reasoning tokens.</summary>
    [Id(5)] public long ReasoningMultiplier { get; init; } = Pricing.UnitMultiplier;
}

/// <summary>Token counts of one request, by class, as counted inside the worker.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.pricing.TokenUsage")]
public sealed record TokenUsage
{
    /// <summary>Prompt tokens not served from cache.</summary>
    [Id(0)] public long PromptTokens { get; init; }

    /// <summary>Prompt tokens served from cache.</summary>
    [Id(1)] public long CachedTokens { get; init; }

    /// <summary>Generated tokens that are not reasoning.</summary>
    [Id(2)] public long CompletionTokens { get; init; }

    /// <summary>Generated reasoning tokens.</summary>
    [Id(3)] public long ReasoningTokens { get; init; }
}

/// <summary>The cost of a request, split between the worker and the proxy.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.pricing.RequestCost")]
public sealed record RequestCost(
    [property: Id(0)] long AdjustedTokens,
    [property: Id(1)] long ClientNanoTon,
    [property: Id(2)] long WorkerNanoTon)
{
    /// <summary>The proxy's commission.</summary>
    public long ProxyNanoTon => ClientNanoTon - WorkerNanoTon;
}

/// <summary>DESIGN section 5 in integers: no doubles anywhere money is computed, and overflow throws.</summary>
public static class Pricing
{
    /// <summary>Coefficient 1.0x (a worker's coefficient, a request's <c>max_coefficient</c>).</summary>
    public const long UnitCoefficient = 1000;

    /// <summary>Multiplier 1.0x.</summary>
    public const long UnitMultiplier = 10000;

    /// <summary><c>adjust(n, coef, mult) = n * coef / 1000 * mult / 10000</c>, integer division at each step as written.</summary>
    public static long Adjust(long tokens, long coefficient, long multiplier)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        ArgumentOutOfRangeException.ThrowIfNegative(coefficient);
        ArgumentOutOfRangeException.ThrowIfNegative(multiplier);
        return checked(checked(tokens * coefficient) / UnitCoefficient * multiplier) / UnitMultiplier;
    }

    /// <summary>The adjusted tokens of every class, summed, priced for the client and the worker.</summary>
    public static RequestCost Cost(TokenUsage usage, long coefficient, PriceList prices)
    {
        var adjusted = checked(
            Adjust(usage.PromptTokens, coefficient, prices.PromptMultiplier)
            + Adjust(usage.CachedTokens, coefficient, prices.CachedMultiplier)
            + Adjust(usage.CompletionTokens, coefficient, prices.CompletionMultiplier)
            + Adjust(usage.ReasoningTokens, coefficient, prices.ReasoningMultiplier));
        return new RequestCost(adjusted, checked(adjusted * prices.PricePerToken), checked(adjusted * prices.WorkerFeePerToken));
    }
}
