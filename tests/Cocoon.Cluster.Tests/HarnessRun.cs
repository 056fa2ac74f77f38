using System.Globalization;

namespace Cocoon.Cluster.Tests;

/// <summary>One phase of a run: its time span, the fault injected and when it began and ended.</summary>
public sealed record PhaseResult(string Name, string Fault, double Start, double End, double? FaultStart, double? FaultEnd)
{
    /// <summary>Seconds a killed or stopped part took to be back (ready), when the phase restarted one.</summary>
    public double? RestartSeconds { get; init; }
}

/// <summary>
/// Drives the phases of issue 10 item 2 while the load runs: a baseline, then kill -9 of a proxy silo (restarted), kill
/// -9 of a worker silo (restarted), a PostgreSQL restart, the chain endpoint down, and a slow worker (its process
/// stopped and continued with SIGSTOP/SIGCONT, 150 ms of every 200 ms, so it runs at a quarter of its speed).
/// </summary>
public sealed class HarnessRun(ClusterHarness harness, LoadDriver load, Action<string> log)
{
    private const int SigStop = 19;
    private const int SigCont = 18;

    public List<PhaseResult> Phases { get; } = [];

    private double P => harness.Options.PhaseSeconds;

    public async Task RunAsync()
    {
        load.Start();
        await PhaseAsync("baseline", "none", _ => Task.FromResult((0.0, 0.0, (double?)null)));
        await PhaseAsync("kill-proxy", "kill -9 of proxy-2, restarted after a third of the phase", t0 => KillAndRestartAsync(harness.Proxies[1], t0));
        await PhaseAsync("kill-worker", "kill -9 of worker-2, restarted after a third of the phase", t0 => KillAndRestartAsync(harness.Workers[1], t0));
        await PhaseAsync("postgres-restart", "PostgreSQL stopped (fast shutdown) for 3 s and started again", async t0 =>
        {
            await DelayUntil(t0 + 2);
            var faultStart = load.Now;
            await harness.RestartPostgresAsync(TimeSpan.FromSeconds(3));
            return (faultStart, load.Now, (double?)null);
        });
        await PhaseAsync("chain-down", "the TON endpoint down for all but the first and last second of the phase", async t0 =>
        {
            await DelayUntil(t0 + 1);
            var faultStart = load.Now;
            await harness.StopChainAsync();
            await DelayUntil(t0 + P - 1);
            await harness.RestartChainAsync();
            return (faultStart, load.Now, (double?)null);
        });
        await PhaseAsync("slow-worker", "worker-1 stopped 150 ms of every 200 ms (SIGSTOP/SIGCONT) for the whole phase", async t0 =>
        {
            var worker = harness.Workers[0].Process!;
            var faultStart = load.Now;
            while (load.Now < t0 + P)
            {
                worker.Signal(SigStop);
                await Task.Delay(150);
                worker.Signal(SigCont);
                await Task.Delay(50);
            }

            worker.Signal(SigCont);
            return (faultStart, load.Now, (double?)null);
        });
        load.Phase = "after";
        await load.StopAsync();
    }

    private async Task<(double, double, double?)> KillAndRestartAsync(HarnessNode node, double t0)
    {
        await DelayUntil(t0 + 2);
        var killed = load.Now;
        node.Kill();
        log($"{load.Now:0.0} s: killed {node.Name}");
        await DelayUntil(t0 + 2 + (P / 3));
        var restart = load.Now;
        node.Start();
        await node.WaitReadyAsync(harness.Http, TimeSpan.FromSeconds(180));
        if (node.Role == "worker")
        {
            await harness.WaitForWorkersAsync(TimeSpan.FromSeconds(60));
        }

        log($"{load.Now:0.0} s: {node.Name} back ({load.Now - restart:0.0} s to ready)");
        return (killed, load.Now, load.Now - restart);
    }

    private async Task PhaseAsync(string name, string fault, Func<double, Task<(double FaultStart, double FaultEnd, double? Restart)>> inject)
    {
        load.Phase = name;
        var start = load.Now;
        log($"{start:0.0} s: phase {name}");
        double? faultStart = null, faultEnd = null, restart = null;
        if (fault != "none")
        {
            (faultStart, faultEnd, restart) = await inject(start);
        }

        await DelayUntil(start + P);
        Phases.Add(new PhaseResult(name, fault, start, load.Now, faultStart, faultEnd) { RestartSeconds = restart });
    }

    private async Task DelayUntil(double seconds)
    {
        var wait = seconds - load.Now;
        if (wait > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(wait));
        }
    }

    /// <summary>Per phase: the load held, the error rate and kinds, latency percentiles, and the recovery time.</summary>
    public static IReadOnlyList<PhaseFigures> Figures(IReadOnlyList<PhaseResult> phases, IReadOnlyCollection<RequestRecord> records) =>
        phases.Select(p =>
        {
            var mine = records.Where(r => r.Phase == p.Name).ToList();
            var answered = mine.Where(r => r.Outcome == Outcome.Answered).ToList();
            var failed = mine.Where(r => r.Outcome != Outcome.Answered).ToList();
            var latencies = answered.Select(r => r.LatencyMilliseconds).Order().ToArray();
            double Pct(double q) => latencies.Length == 0 ? 0 : latencies[Math.Clamp((int)Math.Ceiling(q * latencies.Length) - 1, 0, latencies.Length - 1)];
            // Recovery: from the fault's start to the end of the last request that failed because of it.
            double? recovery = p.FaultStart is { } fs ? (failed.Count == 0 ? 0 : Math.Max(0, failed.Max(r => r.EndSeconds) - fs)) : null;
            return new PhaseFigures(p, mine.Count, answered.Count / (p.End - p.Start), failed.Count == 0 ? 0 : (double)failed.Count / mine.Count,
                failed.GroupBy(r => r.Kind).ToDictionary(g => g.Key, g => g.Count()), Pct(0.50), Pct(0.95), recovery,
                answered.GroupBy(r => r.Worker ?? "?").ToDictionary(g => g.Key, g => g.Count()));
        }).ToList();
}

/// <summary>The figures of one phase.</summary>
public sealed record PhaseFigures(
    PhaseResult Phase, int Requests, double AnsweredPerSecond, double ErrorRate, IReadOnlyDictionary<string, int> ErrorKinds,
    double P50Milliseconds, double P95Milliseconds, double? RecoverySeconds, IReadOnlyDictionary<string, int> ByWorker)
{
    public string ToMarkdownRow()
    {
        string F(double v) => v.ToString("0.0", CultureInfo.InvariantCulture);
        var errors = ErrorKinds.Count == 0 ? "" : " (" + string.Join(", ", ErrorKinds.OrderByDescending(k => k.Value).Select(k => $"{k.Key} {k.Value}")) + ")";
        var workers = string.Join(", ", ByWorker.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key.Split('.')[0]} {k.Value}"));
        return $"| {Phase.Name} | {Requests} | {F(AnsweredPerSecond)} | {(ErrorRate * 100).ToString("0.00", CultureInfo.InvariantCulture)}%{errors} | " +
               $"{F(P50Milliseconds)} | {F(P95Milliseconds)} | {(RecoverySeconds is { } r ? F(r) + " s" : "-")} | {(Phase.RestartSeconds is { } s ? F(s) + " s" : "-")} | {workers} |";
    }

    public static string MarkdownHeader =>
        "| phase | requests | answered/s | errors | p50 ms | p95 ms | recovery | restart to ready | answered by |\n" +
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |";
}
