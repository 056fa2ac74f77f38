using System.Collections.Concurrent;
using System.Diagnostics;

namespace Cocoon.Grains.Inference.Routing;

/// <summary>
/// What one silo has seen of each worker recently, the figures <see cref="WorkerSelector"/> weighs: an exponentially
/// weighted moving average of the time per unit of work (per input token for embeddings, per generated token for text
/// generation) and a failure penalty that grows by one per failure, halves at each success and decays with a half-life.
/// Per silo, like the route cache, so nothing shared is on the hot path. Thread-safe. Times are monotonic milliseconds
/// (<see cref="NowMilliseconds"/>); the methods taking one are there so tests can drive the clock.
/// </summary>
public sealed class WorkerHealth
{
    private readonly ConcurrentDictionary<string, Entry> _workers = new(StringComparer.Ordinal);

    /// <summary>The weight of a new latency sample in the moving average (0..1].</summary>
    public double LatencyWeight { get; init; } = 0.3;

    /// <summary>How long it takes a failure penalty to halve when nothing else happens.</summary>
    public TimeSpan FailureHalfLife { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Monotonic milliseconds, the clock of this class.</summary>
    public static double NowMilliseconds => Stopwatch.GetElapsedTime(0).TotalMilliseconds;

    /// <summary>Records a request <paramref name="workerId"/> served in <paramref name="elapsed"/> for <paramref name="units"/> units of work.</summary>
    public void RecordSuccess(string workerId, TimeSpan elapsed, long units) => RecordSuccess(workerId, elapsed, units, NowMilliseconds);

    /// <summary>As <see cref="RecordSuccess(string, TimeSpan, long)"/>, at <paramref name="nowMilliseconds"/>.</summary>
    public void RecordSuccess(string workerId, TimeSpan elapsed, long units, double nowMilliseconds)
    {
        ArgumentNullException.ThrowIfNull(workerId);
        var sample = Math.Max(elapsed.TotalMilliseconds, 0.001) / Math.Max(units, 1);
        var entry = _workers.GetOrAdd(workerId, _ => new Entry());
        lock (entry)
        {
            entry.Latency = entry.Latency is { } previous ? previous + (LatencyWeight * (sample - previous)) : sample;
            entry.Penalty = Decayed(entry, nowMilliseconds) / 2;
            entry.PenaltyAt = nowMilliseconds;
        }
    }

    /// <summary>Records a failure of <paramref name="workerId"/> on its side (gone, refusing, overloaded, broken).</summary>
    public void RecordFailure(string workerId) => RecordFailure(workerId, NowMilliseconds);

    /// <summary>As <see cref="RecordFailure(string)"/>, at <paramref name="nowMilliseconds"/>.</summary>
    public void RecordFailure(string workerId, double nowMilliseconds)
    {
        ArgumentNullException.ThrowIfNull(workerId);
        var entry = _workers.GetOrAdd(workerId, _ => new Entry());
        lock (entry)
        {
            entry.Penalty = Decayed(entry, nowMilliseconds) + 1;
            entry.PenaltyAt = nowMilliseconds;
        }
    }

    /// <summary>The worker's recent latency per unit (null when it served nothing yet) and its decayed failure penalty.</summary>
    public (double? Latency, double FailurePenalty) Get(string workerId) => Get(workerId, NowMilliseconds);

    /// <summary>As <see cref="Get(string)"/>, at <paramref name="nowMilliseconds"/>.</summary>
    public (double? Latency, double FailurePenalty) Get(string workerId, double nowMilliseconds)
    {
        if (!_workers.TryGetValue(workerId, out var entry))
        {
            return (null, 0);
        }

        lock (entry)
        {
            return (entry.Latency, Decayed(entry, nowMilliseconds));
        }
    }

    private double Decayed(Entry entry, double now)
    {
        if (entry.Penalty <= 0)
        {
            return 0;
        }

        var age = Math.Max(0, now - entry.PenaltyAt);
        var decayed = entry.Penalty * Math.Pow(0.5, age / FailureHalfLife.TotalMilliseconds);
        return decayed < 1e-3 ? 0 : decayed;
    }

    private sealed class Entry
    {
        public double? Latency;
        public double Penalty;
        public double PenaltyAt;
    }
}
