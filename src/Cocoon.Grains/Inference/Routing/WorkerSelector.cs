namespace Cocoon.Grains.Inference.Routing;

/// <summary>The weights of <see cref="WorkerSelector"/>.</summary>
public sealed record RoutingOptions
{
    /// <summary>The defaults used in production.</summary>
    public static RoutingOptions Default { get; } = new();

    /// <summary>
    /// The share of decisions (0..1) that pick a random eligible worker instead of the best one, so a worker that looks
    /// slow or failed is tried again and its figures catch up when it recovers.
    /// </summary>
    public double ExplorationShare { get; init; } = 0.05;

    /// <summary>How much one unit of failure penalty multiplies a worker's score (penalty p scores x (1 + weight x p)).</summary>
    public double FailureWeight { get; init; } = 8;

    /// <summary>
    /// The latency of a worker with no figures yet, when no other candidate has any either (any positive number: only
    /// ratios between workers matter). With figures elsewhere a new worker is given their median, a neutral prior.
    /// </summary>
    public double PriorLatency { get; init; } = 1;
}

/// <summary>What routing knows of one eligible worker at the moment of a decision.</summary>
/// <param name="WorkerId">The worker.</param>
/// <param name="Running">Requests this silo has running on it.</param>
/// <param name="Capacity">Requests it runs at once (at least 1).</param>
/// <param name="Latency">Recent time per unit of work (any consistent unit), or null when it has served nothing here yet.</param>
/// <param name="FailurePenalty">Recent failures, decayed (0 when none).</param>
public readonly record struct RouteCandidate(string WorkerId, int Running, int Capacity, double? Latency, double FailurePenalty);

/// <summary>
/// Picks the worker for a request (DESIGN section 4) from candidates that already passed the filter (model, enabled,
/// live, coefficient within the cap). The lowest score wins: (running + 1) x recent latency x (1 + failure weight x
/// decayed failures), so a worker gets work in proportion to how fast it turns it round and a failing one is pushed
/// down until its penalty decays. A worker with no figures gets the median latency of those with figures (a neutral
/// prior), so a new worker gets traffic at once. Workers at capacity come last. A small share of decisions explores: a
/// random worker below capacity, so a recovered worker is tried again. Ties break at random. Pure: the figures come in,
/// an index goes out; the random source is the caller's (seeded in tests).
/// </summary>
public sealed class WorkerSelector(RoutingOptions options, Random random)
{
    /// <summary>A selector with the production weights and the shared random source (thread-safe).</summary>
    public static WorkerSelector Shared { get; } = new(RoutingOptions.Default, Random.Shared);

    /// <summary>The weights.</summary>
    public RoutingOptions Options { get; } = Validate(options);

    /// <summary>The index in <paramref name="candidates"/> of the worker to use, or -1 when there is none.</summary>
    public int Select(IReadOnlyList<RouteCandidate> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        if (candidates.Count <= 1)
        {
            return candidates.Count - 1;
        }

        var prior = NeutralPrior(candidates);
        if (Options.ExplorationShare > 0 && random.NextDouble() < Options.ExplorationShare)
        {
            var open = 0;
            foreach (var c in candidates)
            {
                open += c.Running < Math.Max(1, c.Capacity) ? 1 : 0;
            }

            if (open > 0)
            {
                var pick = random.Next(open);
                for (var i = 0; i < candidates.Count; i++)
                {
                    if (candidates[i].Running < Math.Max(1, candidates[i].Capacity) && pick-- == 0)
                    {
                        return i;
                    }
                }
            }
        }

        var best = -1;
        var bestFull = true;
        var bestScore = double.PositiveInfinity;
        var ties = 0;
        for (var i = 0; i < candidates.Count; i++)
        {
            var c = candidates[i];
            var full = c.Running >= Math.Max(1, c.Capacity);
            var score = Score(c, prior);

            // Below capacity beats at capacity whatever the scores; then the lower score; equal scores share at random.
            var better = best < 0 || (bestFull && !full) || (bestFull == full && score < bestScore);
            if (better)
            {
                best = i;
                bestFull = full;
                bestScore = score;
                ties = 1;
            }
            else if (bestFull == full && score == bestScore && random.Next(++ties) == 0)
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>The score of <paramref name="candidate"/> (lower is better) with <paramref name="prior"/> for a worker without figures.</summary>
    public double Score(RouteCandidate candidate, double prior)
    {
        var latency = candidate.Latency is { } l && l > 0 && double.IsFinite(l) ? l : prior;
        var penalty = double.IsFinite(candidate.FailurePenalty) ? Math.Max(0, candidate.FailurePenalty) : 0;
        return (Math.Max(0, candidate.Running) + 1.0) * latency * (1 + (Options.FailureWeight * penalty));
    }

    /// <summary>The median latency of the candidates that have one, else <see cref="RoutingOptions.PriorLatency"/>.</summary>
    public double NeutralPrior(IReadOnlyList<RouteCandidate> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        Span<double> known = candidates.Count <= 64 ? stackalloc double[candidates.Count] : new double[candidates.Count];
        var n = 0;
        foreach (var c in candidates)
        {
            if (c.Latency is { } l && l > 0 && double.IsFinite(l))
            {
                known[n++] = l;
            }
        }

        if (n == 0)
        {
            return Options.PriorLatency;
        }

        var values = known[..n];
        values.Sort();
        return n % 2 == 1 ? values[n / 2] : (values[(n / 2) - 1] + values[n / 2]) / 2;
    }

    private static RoutingOptions Validate(RoutingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ExplorationShare is < 0 or > 1 || double.IsNaN(options.ExplorationShare))
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"ExplorationShare {options.ExplorationShare} is not within 0..1.");
        }

        if (!(options.FailureWeight >= 0) || !double.IsFinite(options.FailureWeight))
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"FailureWeight {options.FailureWeight} must be a finite number >= 0.");
        }

        if (!(options.PriorLatency > 0) || !double.IsFinite(options.PriorLatency))
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"PriorLatency {options.PriorLatency} must be a finite number > 0.");
        }

        return options;
    }
}
