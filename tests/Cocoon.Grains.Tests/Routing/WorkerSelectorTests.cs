using Cocoon.Grains.Inference.Routing;

namespace Cocoon.Grains.Tests.Routing;

/// <summary>
/// The routing choice (DESIGN section 4) on its own: deterministic with a seeded random source, no cluster involved.
/// </summary>
public sealed class WorkerSelectorTests
{
    private static readonly RoutingOptions NoExploration = new() { ExplorationShare = 0 };

    private static WorkerSelector Selector(RoutingOptions? options = null, int seed = 1) => new(options ?? NoExploration, new Random(seed));

    [Fact]
    public void No_candidate_gives_none_and_one_candidate_is_always_chosen()
    {
        Assert.Equal(-1, Selector().Select([]));
        Assert.Equal(0, Selector(RoutingOptions.Default).Select([new RouteCandidate("w", 100, 1, 1e9, 50)]));
    }

    [Fact]
    public void The_lowest_running_plus_one_times_latency_wins()
    {
        var selector = Selector();

        // a: (0+1) x 10 = 10; b: (1+1) x 4 = 8; c: (3+1) x 1 = 4.
        Assert.Equal(2, selector.Select([new("a", 0, 8, 10, 0), new("b", 1, 8, 4, 0), new("c", 3, 8, 1, 0)]));

        // c busier: (5+1) x 1 = 6, still below b's 8; busier again: (8+1) x 1 = 9 > 8, b wins.
        Assert.Equal(2, selector.Select([new("a", 0, 16, 10, 0), new("b", 1, 16, 4, 0), new("c", 5, 16, 1, 0)]));
        Assert.Equal(1, selector.Select([new("a", 0, 16, 10, 0), new("b", 1, 16, 4, 0), new("c", 8, 16, 1, 0)]));
    }

    [Fact]
    public void A_new_worker_gets_the_median_latency_of_the_others_so_it_is_not_starved()
    {
        var selector = Selector();
        RouteCandidate[] candidates = [new("slow", 0, 4, 30, 0), new("fast", 1, 4, 2, 0), new("mid", 1, 4, 5, 0), new("new", 0, 4, null, 0)];
        Assert.Equal(5, selector.NeutralPrior(candidates));

        // fast: (1+1) x 2 = 4 beats new: (0+1) x 5 = 5; one more running on fast (6) tips it to new.
        Assert.Equal(1, selector.Select(candidates));
        candidates[1] = candidates[1] with { Running = 2 };
        Assert.Equal(3, selector.Select(candidates));

        // With no figures at all, the configured prior: the choice is by running requests alone.
        Assert.Equal(1, selector.NeutralPrior([new("a", 0, 1, null, 0), new("b", 0, 1, null, 0)]));
        Assert.Equal(1, selector.Select([new("a", 2, 4, null, 0), new("b", 1, 4, null, 0)]));
    }

    [Fact]
    public void A_recent_failure_pushes_a_worker_down_until_the_penalty_decays()
    {
        var selector = Selector();

        // Equal workers; b failed once: score x (1 + 8 x 1) = 9, so a wins even with 7 more running.
        Assert.Equal(0, selector.Select([new("a", 7, 16, 1, 0), new("b", 0, 16, 1, 1)]));
        Assert.Equal(1, selector.Select([new("a", 9, 16, 1, 0), new("b", 0, 16, 1, 1)]));

        // Decayed to 1/16 of a failure: x 1.5, so b wins again once a has one more running than b.
        Assert.Equal(1, selector.Select([new("a", 1, 16, 1, 0), new("b", 0, 16, 1, 1.0 / 16)]));
    }

    [Fact]
    public void Workers_at_capacity_come_after_every_worker_below_it()
    {
        var selector = Selector();
        Assert.Equal(1, selector.Select([new("full-fast", 2, 2, 0.001, 0), new("open-slow", 0, 2, 1_000, 5)]));

        // All full: the best score among them, so the caller still gets a worker (whose engine queues or refuses).
        Assert.Equal(0, selector.Select([new("a", 2, 2, 1, 0), new("b", 2, 2, 3, 0)]));
    }

    [Fact]
    public void Equal_workers_share_the_traffic_at_random()
    {
        var selector = Selector(seed: 42);
        var counts = new int[3];
        for (var i = 0; i < 3_000; i++)
        {
            counts[selector.Select([new("a", 0, 4, 1, 0), new("b", 0, 4, 1, 0), new("c", 0, 4, 1, 0)])]++;
        }

        // Each near 1,000; the seed makes this exact, the bound says what matters.
        Assert.All(counts, c => Assert.InRange(c, 850, 1_150));
    }

    [Fact]
    public void Exploration_sends_a_small_share_to_a_worker_that_looks_worse()
    {
        var selector = Selector(new RoutingOptions { ExplorationShare = 0.1 }, seed: 7);
        var toRecovered = 0;
        const int Decisions = 10_000;
        for (var i = 0; i < Decisions; i++)
        {
            // "recovered" failed a while ago and looks slow; "good" is better in every way.
            toRecovered += selector.Select([new("good", 0, 4, 1, 0), new("recovered", 0, 4, 50, 0.5)]);
        }

        // Half the explorations land on it: about 5%.
        Assert.InRange(toRecovered, (int)(Decisions * 0.035), (int)(Decisions * 0.065));

        // Without exploration it gets nothing; exploration never picks a worker at capacity.
        Assert.Equal(0, Enumerable.Range(0, 1_000).Sum(_ => Selector().Select([new("good", 0, 4, 1, 0), new("recovered", 0, 4, 50, 0.5)])));
        var exploring = Selector(new RoutingOptions { ExplorationShare = 1 }, seed: 3);
        Assert.Equal(0, Enumerable.Range(0, 1_000).Sum(_ => exploring.Select([new("open", 0, 4, 1, 0), new("full", 4, 4, 0.1, 0)])));
    }

    [Fact]
    public void The_same_seed_gives_the_same_decisions()
    {
        RouteCandidate[] candidates = [new("a", 0, 4, 1, 0), new("b", 0, 4, 1, 0), new("c", 1, 4, 0.5, 0.1)];
        var first = Selector(RoutingOptions.Default, seed: 9);
        var second = Selector(RoutingOptions.Default, seed: 9);
        Assert.Equal(
            Enumerable.Range(0, 200).Select(_ => first.Select(candidates)).ToArray(),
            Enumerable.Range(0, 200).Select(_ => second.Select(candidates)).ToArray());
    }

    [Fact]
    public void Bad_weights_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerSelector(new RoutingOptions { ExplorationShare = 1.5 }, new Random(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerSelector(new RoutingOptions { ExplorationShare = double.NaN }, new Random(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerSelector(new RoutingOptions { FailureWeight = -1 }, new Random(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerSelector(new RoutingOptions { PriorLatency = 0 }, new Random(1)));
    }

    [Fact]
    public void Health_keeps_a_moving_average_of_latency_per_unit()
    {
        var health = new WorkerHealth { LatencyWeight = 0.5 };
        Assert.Null(health.Get("w", 0).Latency);
        Assert.Equal(0, health.Get("w", 0).FailurePenalty);

        health.RecordSuccess("w", TimeSpan.FromMilliseconds(100), 10, 0); // 10 ms per unit: the first sample
        Assert.Equal(10, health.Get("w", 0).Latency);
        health.RecordSuccess("w", TimeSpan.FromMilliseconds(60), 2, 0); // 30 ms per unit: 10 + 0.5 x 20
        Assert.Equal(20, health.Get("w", 0).Latency);
        health.RecordSuccess("w", TimeSpan.FromMilliseconds(20), 0, 0); // no units counts as one
        Assert.Equal(20, health.Get("w", 0).Latency);
        Assert.Null(health.Get("other", 0).Latency);
    }

    [Fact]
    public void Health_penalty_grows_per_failure_halves_per_success_and_decays_with_its_half_life()
    {
        var health = new WorkerHealth { FailureHalfLife = TimeSpan.FromSeconds(10) };
        health.RecordFailure("w", 0);
        health.RecordFailure("w", 0);
        Assert.Equal(2, health.Get("w", 0).FailurePenalty, 9);
        Assert.Equal(1, health.Get("w", 10_000).FailurePenalty, 9);
        Assert.Equal(0.5, health.Get("w", 20_000).FailurePenalty, 9);

        health.RecordSuccess("w", TimeSpan.FromMilliseconds(5), 1, 20_000);
        Assert.Equal(0.25, health.Get("w", 20_000).FailurePenalty, 9);

        // Long forgotten: exactly zero, so the worker competes on latency alone.
        Assert.Equal(0, health.Get("w", 1_000_000).FailurePenalty);
    }

    [Fact]
    public void Health_drives_the_selector_away_from_a_slow_worker_and_back_after_it_recovers()
    {
        var health = new WorkerHealth { LatencyWeight = 0.5 };
        var selector = Selector();
        RouteCandidate Candidate(string worker, double now)
        {
            var (latency, penalty) = health.Get(worker, now);
            return new RouteCandidate(worker, 0, 4, latency, penalty);
        }

        RouteCandidate[] Candidates(double now) => [Candidate("fast", now), Candidate("slow", now)];

        health.RecordSuccess("fast", TimeSpan.FromMilliseconds(10), 1, 0);
        health.RecordSuccess("slow", TimeSpan.FromMilliseconds(200), 1, 0);
        Assert.Equal(0, selector.Select(Candidates(0)));

        // The slow worker speeds up; a few (explored) requests at its new speed bring it back in front.
        for (var i = 0; i < 8; i++)
        {
            health.RecordSuccess("slow", TimeSpan.FromMilliseconds(2), 1, 0);
        }

        Assert.Equal(1, selector.Select(Candidates(0)));
    }
}
