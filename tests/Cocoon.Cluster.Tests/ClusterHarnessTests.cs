using System.Globalization;
using Cocoon.Ton.Addresses;
using Cocoon.Testing;
using Cocoon.Ton.Contracts;
using Npgsql;

namespace Cocoon.Cluster.Tests;

/// <summary>
/// Issue 10 items 1 and 2, "what must be shown": the multi-process cluster under load through every fault phase, then
/// the ledger invariants, the load held per phase and the recovery times, printed and written to
/// <c>harness-report.md</c> beside the test binary (or <c>$COCOON_HARNESS_REPORT</c>). In CI it runs its short form;
/// <c>infra/harness/run.sh --long</c> runs the long one.
/// </summary>
public sealed class ClusterHarnessTests
{
    private readonly System.Text.StringBuilder _report = new();
    private readonly DateTime _began = DateTime.UtcNow;

    [Fact]
    public async Task Under_load_and_faults_no_nanoton_is_lost_or_doubled_and_errors_are_clean_and_confined_to_the_faults()
    {
        var options = HarnessOptions.FromEnvironment();
        await using var harness = await ClusterHarness.StartAsync(options, Log);
        await using var load = new LoadDriver(harness);
        var run = new HarnessRun(harness, load, Log);
        // Each escrow row remembers its last 256 settlements; reading them every few seconds while the load runs keeps
        // every settlement of every account (each account settles far fewer than 256 in that time).
        using var stopSnapshots = new CancellationTokenSource();
        var settledSeen = new Dictionary<string, Dictionary<string, long>>(StringComparer.Ordinal);
        var snapshots = Task.Run(() => SnapshotSettlementsAsync(harness, settledSeen, stopSnapshots.Token), TestContext.Current.CancellationToken);
        try
        {
            await run.RunAsync();
            await stopSnapshots.CancelAsync();
            await snapshots;
            await SnapshotOnceAsync(harness, settledSeen);
            var loadEnd = load.Now;
            var records = load.Records.ToList();
            var figures = HarnessRun.Figures(run.Phases, records);

            _report.AppendLine($"# Cluster harness report ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
            _report.AppendLine("");
            _report.AppendLine($"2 proxy + 2 worker `cocoon-node` processes (all-MiniLM-L6-v2 on CPU), PostgreSQL {harness.Postgres.MajorVersion}, TON localnet; " +
                         $"{options.Clients} closed-loop clients over both gateways; {options.PhaseSeconds:0} s per phase; " +
                         $"{Environment.ProcessorCount} cores. Times are seconds from the start of the load.");
            _report.AppendLine("");
            _report.AppendLine(PhaseFigures.MarkdownHeader);
            foreach (var f in figures)
            {
                _report.AppendLine(f.ToMarkdownRow());
            }

            _report.AppendLine("");
            foreach (var p in run.Phases.Where(p => p.FaultStart is not null))
            {
                _report.AppendLine($"- {p.Name}: {p.Fault}; fault {p.FaultStart:0.0}-{p.FaultEnd:0.0} s.");
            }

            _report.AppendLine("");
            _report.AppendLine("## Invariants");
            await CheckInvariantsAsync(harness, run, records, figures, loadEnd, load, settledSeen);
        }
        finally
        {
            WriteReport();
            // The silos' own logs (never a prompt or an output: Cocoon logs none) beside the report, to see why something failed.
            var logs = Path.Combine(Path.GetDirectoryName(ReportPath)!, "harness-logs");
            Directory.CreateDirectory(logs);
            foreach (var node in harness.Nodes)
            {
                await File.WriteAllTextAsync(Path.Combine(logs, node.Name + ".log"), node.FullOutput, TestContext.Current.CancellationToken);
            }
            foreach (var node in harness.Nodes.Where(n => n.Alive == false))
            {
                TestContext.Current.SendDiagnosticMessage($"{node.Name} exited:\n{node.Output}");
            }
        }
    }

    private async Task CheckInvariantsAsync(
        ClusterHarness harness, HarnessRun run, List<RequestRecord> records, IReadOnlyList<PhaseFigures> figures, double loadEnd, LoadDriver load,
        Dictionary<string, Dictionary<string, long>> settledSeen)
    {
        // No crashed silo: every process not killed on purpose is still running, and the killed ones run again.
        foreach (var node in harness.Nodes)
        {
            Assert.True(node.Alive == true, $"{node.Name} is not running ({node.Kills} kills on purpose).\n{node.Output}");
        }

        Check($"no crashed silo: all 4 processes running ({harness.Nodes.Sum(n => n.Kills)} killed on purpose and restarted)");

        // Only clean errors: every failed request was refused with an OpenAI error code, or could not reach a gateway
        // whose process was down, or lost its connection to it.
        var unclean = records.Where(r => r.Outcome == Outcome.Unclean).ToList();
        Assert.True(unclean.Count == 0, $"unclean answers: {string.Join(", ", unclean.GroupBy(r => r.Kind).Select(g => $"{g.Key} x{g.Count()}"))}");
        Check($"every error clean: {records.Count(r => r.Outcome != Outcome.Answered)} failed of {records.Count}, none without an error code");

        // Errors only while a fault lasts: none in the baseline, none outside [fault start, fault end + grace].
        const double grace = 10;
        foreach (var p in run.Phases)
        {
            var failed = records.Where(r => r.Phase == p.Name && r.Outcome != Outcome.Answered).ToList();
            var outside = p.FaultStart is { } fs
                ? failed.Where(r => r.EndSeconds < fs || r.StartSeconds > p.FaultEnd!.Value + grace).ToList()
                : failed;
            Assert.True(outside.Count == 0, $"{p.Name}: {outside.Count} requests failed outside the fault window: " +
                                            string.Join(", ", outside.Take(10).Select(r => $"{r.Kind} at {r.StartSeconds:0.0} s")));
        }

        Check($"errors only during faults (none in the baseline; none earlier than a fault or later than {grace:0} s after it ended)");

        // Traffic shifts away from a slow worker: at a quarter of its speed it gets well under a fair half of the answers.
        // (Its baseline share is no yardstick: routing may favour either worker while both are equally fast.)
        var before = figures.Single(f => f.Phase.Name == "chain-down");
        var slow = figures.Single(f => f.Phase.Name == "slow-worker");
        var slowId = ClusterHarness.WorkerId(harness.Workers[0]);
        double Share(PhaseFigures f) => f.ByWorker.Values.Sum() == 0 ? 0 : (double)f.ByWorker.GetValueOrDefault(slowId) / f.ByWorker.Values.Sum();
        Check($"slow worker's share of answers: {Share(before):P0} in the phase before, {Share(slow):P0} while slowed to a quarter of its speed");
        Assert.True(Share(slow) < 0.25, $"the slowed worker still got {Share(slow):P0} of the answers");

        // Settle everything now: charges and payouts reach the chain.
        var settleStart = DateTime.UtcNow;
        await SettleAllAsync(harness);
        Check($"settled on chain after the load in {(DateTime.UtcNow - settleStart).TotalSeconds:0.0} s");

        // Every answered request charged exactly once, at the price it reported; nothing charged that was not sent.
        var exact = 0;
        var exactSums = 0;
        var bounded = 0;
        long chargedTotal = 0, chargedTokensTotal = 0;
        var maxCost = records.Where(r => r.Outcome == Outcome.Answered).Select(r => r.CostNanoTon).DefaultIfEmpty(0).Max();
        foreach (var account in harness.Accounts)
        {
            var mine = records.Where(r => r.AccountId == account.AccountId).ToList();
            var answered = mine.Where(r => r.Outcome == Outcome.Answered).ToList();
            var unknown = mine.Count(r => r.Outcome == Outcome.Unknown);
            var ledger = await harness.Escrow(account.AccountId).GetLedgerAsync();
            chargedTotal += ledger.Balance.Charged;
            chargedTokensTotal += ledger.ChargedTokens;
            Assert.Equal(answered.Count, answered.Select(r => r.RequestId).Distinct().Count());
            var sumAnswered = answered.Sum(r => r.CostNanoTon);
            // Whatever was not answered may have been charged only if its outcome is unknown (the connection broke after
            // the request was sent); a refusal or a request that never connected is never charged.
            Assert.InRange(ledger.Balance.Charged, sumAnswered, sumAnswered + (unknown * maxCost));

            // Every settlement seen while the load ran: when they add up to the account's charged total the record is
            // complete, and each request is checked one by one.
            var settled = settledSeen.GetValueOrDefault(account.AccountId) ?? [];
            if (settled.Values.Sum() == ledger.Balance.Charged)
            {
                foreach (var r in answered)
                {
                    Assert.True(settled.TryGetValue(r.RequestId!, out var cost), $"{account.AccountId}: answered {r.RequestId} is not settled");
                    Assert.Equal(r.CostNanoTon, cost);
                }

                Assert.True(settled.Count - answered.Count <= unknown, $"{account.AccountId}: {settled.Count - answered.Count} settled requests were never answered, but only {unknown} had an unknown outcome");
                exact++;
            }
            else if (unknown == 0)
            {
                // No unknown outcome: the bound above is an equality, to the nanoTON.
                exactSums++;
            }
            else
            {
                bounded++;
            }
        }

        Check($"every answered request settled exactly once at its reported cost: {exact} accounts checked request by request against the stored " +
              $"settlements, {exactSums} by their charged total equal to the sum of answered costs, {bounded} within the costs of their unknown outcomes " +
              $"({records.Count(r => r.Outcome == Outcome.Answered)} answered, {records.Count(r => r.Outcome == Outcome.Unknown)} with an unknown outcome)");

        // Client charges = worker credits + the proxy's commission, in adjusted tokens and in nanoTON.
        var status = await harness.Settlement.GetStatusAsync();
        long earnedTokens = 0, earnedNanoTon = 0;
        var workerFee = 0L;
        foreach (var worker in harness.Workers)
        {
            var earnings = await harness.Earnings(ClusterHarness.WorkerId(worker)).GetAsync();
            earnedTokens += earnings.EarnedTokens;
            earnedNanoTon += earnings.EarnedNanoTon;
            workerFee = earnings.WorkerFeePerToken;
        }

        Assert.Equal(chargedTokensTotal, earnedTokens);
        Assert.Equal(chargedTotal, chargedTokensTotal * status.PricePerToken);
        var commission = chargedTotal - earnedNanoTon;
        Assert.Equal(chargedTokensTotal * (status.PricePerToken - workerFee), commission);
        Check($"client charges {chargedTotal} nanoTON = worker credits {earnedNanoTon} + proxy commission {commission} " +
              $"({chargedTokensTotal} adjusted tokens at {status.PricePerToken} and {workerFee})");

        // No reservation outlives its expiry: none seen in the stored rows for longer than its lifetime plus a reminder
        // tick and the snapshot interval, and within the lifetime plus two ticks of the load's end nothing is held.
        List<(string Id, double Seconds)> held;
        lock (Reservations)
        {
            held = [.. Reservations.Select(r => (r.Key, (r.Value.Last - r.Value.First).TotalSeconds)).Where(r => r.Item2 > 0)];
        }

        var allowed = harness.Options.ReservationSeconds + harness.Options.ReminderSeconds + 4 + 2;
        Assert.All(held, r => Assert.True(r.Seconds <= allowed, $"reservation {r.Id} was held {r.Seconds:0.0} s (allowed {allowed} s)"));
        Check($"{held.Count} reservation(s) outlived their request (orphaned by a kill or an outage), the longest held " +
              $"{(held.Count == 0 ? 0 : held.Max(r => r.Seconds)):0.0} s, none longer than the lifetime + tick + snapshot interval ({allowed} s)");

        var limit = harness.Options.ReservationSeconds + (2 * harness.Options.ReminderSeconds) + 10;
        var clearedAt = await WaitReservationsClearedAsync(harness, load, loadEnd, limit);
        Check($"no reservation outlives its expiry: every account holds 0 reserved {clearedAt - loadEnd:0.0} s after the load ended " +
              $"(lifetime {harness.Options.ReservationSeconds} s, reminder tick {harness.Options.ReminderSeconds} s)");

        // On chain and off chain agree: each client contract has exactly the ledger's charged tokens and balance; each
        // worker contract has paid exactly what the worker earned.
        foreach (var account in harness.Accounts)
        {
            var ledger = await harness.Escrow(account.AccountId).GetLedgerAsync();
            var onChain = await ClientContract.GetInfoAsync(harness.Ton, TonAddress.Parse(account.ContractAddress));
            Assert.Equal((ulong)ledger.ChargedTokens, onChain.TokensCharged);
            Assert.Equal(ledger.ChargedTokens, ledger.ChargedOnChainTokens);
            Assert.Equal(ledger.Balance.Balance, (long)onChain.Balance);
        }

        // Workers paid to the same owner share one worker contract (it belongs to owner and proxy): its count is the sum
        // of their earnings.
        var contracts = 0;
        var byContract = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var worker in harness.Workers)
        {
            var id = ClusterHarness.WorkerId(worker);
            var earnings = await harness.Earnings(id).GetAsync();
            var channel = status.Workers.SingleOrDefault(w => w.WorkerId == id);
            Assert.True(channel is not null, $"{id} has no worker contract");
            Assert.Equal(earnings.EarnedTokens, earnings.PaidTokens);
            byContract[channel.ContractAddress] = byContract.GetValueOrDefault(channel.ContractAddress) + earnings.PaidTokens;
        }

        foreach (var (address, paid) in byContract)
        {
            var onChain = await WorkerContract.GetInfoAsync(harness.Ton, TonAddress.Parse(address));
            Assert.Equal((ulong)paid, onChain.TokensPaid);
            contracts++;
        }

        Check($"on chain = off chain: {harness.Accounts.Count} client contracts (charged tokens, balance to the nanoTON) and {contracts} worker contract(s) " +
              $"(paid tokens = the sum of its workers' earnings; both workers have one owner)");
    }

    private static async Task SettleAllAsync(ClusterHarness harness)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            try
            {
                await harness.Settlement.SettleNowAsync(TimeSpan.FromSeconds(60));
            }
            catch (Exception e) when (DateTime.UtcNow < deadline && e is not OutOfMemoryException)
            {
                await Task.Delay(1000);
                continue;
            }

            var pending = 0L;
            foreach (var account in harness.Accounts)
            {
                pending += (await harness.Escrow(account.AccountId).GetLedgerAsync()).UnchargedTokens;
            }

            foreach (var worker in harness.Workers)
            {
                pending += (await harness.Earnings(ClusterHarness.WorkerId(worker)).GetAsync()).UnpaidTokens;
            }

            if (pending == 0)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{pending} tokens still unsettled after 120 s");
            await Task.Delay(500);
        }
    }

    private static async Task<double> WaitReservationsClearedAsync(ClusterHarness harness, LoadDriver load, double loadEnd, double limit)
    {
        while (true)
        {
            var reserved = new List<string>();
            foreach (var account in harness.Accounts)
            {
                var balance = await harness.Escrow(account.AccountId).GetBalanceAsync();
                if (balance.Reserved != 0)
                {
                    reserved.Add($"{account.AccountId} {balance.Reserved}");
                }
            }

            if (reserved.Count == 0)
            {
                return load.Now;
            }

            Assert.True(load.Now - loadEnd < limit, $"still reserved {load.Now - loadEnd:0} s after the load: {string.Join(", ", reserved)}");
            await Task.Delay(500);
        }
    }

    private static async Task SnapshotSettlementsAsync(ClusterHarness harness, Dictionary<string, Dictionary<string, long>> seen, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            await SnapshotOnceAsync(harness, seen);
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(4), stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    // Every reservation seen in a stored escrow row: when it was first and last seen. In-flight requests hold theirs for
    // a fraction of a second; one held across snapshots was orphaned (its proxy killed mid-request) and must be gone
    // within its lifetime plus a reminder tick.
    private static readonly Dictionary<string, (DateTime First, DateTime Last)> Reservations = new(StringComparer.Ordinal);

    private static async Task SnapshotOnceAsync(ClusterHarness harness, Dictionary<string, Dictionary<string, long>> seen)
    {
        foreach (var account in harness.Accounts)
        {
            Dictionary<string, long> now;
            try
            {
                (now, var reserved) = await StoredAsync(harness, account.AccountId);
                var at = DateTime.UtcNow;
                lock (Reservations)
                {
                    foreach (var id in reserved)
                    {
                        Reservations[id] = Reservations.TryGetValue(id, out var firstSeen) ? (firstSeen.First, at) : (at, at);
                    }
                }
            }
            catch (NpgsqlException)
            {
                continue; // PostgreSQL is being restarted: the next snapshot reads it
            }

            var all = seen.TryGetValue(account.AccountId, out var known) ? known : seen[account.AccountId] = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (id, cost) in now)
            {
                if (all.TryGetValue(id, out var before))
                {
                    Assert.True(before == cost, $"{account.AccountId}: settlement {id} changed from {before} to {cost} nanoTON");
                }

                all[id] = cost;
            }
        }
    }

    // The escrow row's remembered settlements (request id to nanoTON) and its open reservations' request ids.
    private static async Task<(Dictionary<string, long> Settled, List<string> Reserved)> StoredAsync(ClusterHarness harness, string accountId)
    {
        var escrow = await StoredState.ReadEscrowAsync(harness.ConnectionString, ClusterHarness.ClusterId, accountId);
        return (StoredState.Settled(escrow), StoredState.Reserved(escrow));
    }

    private void Check(string line)
    {
        _report.AppendLine("- OK " + line);
        Log("invariant OK: " + line);
    }

    private void Log(string line)
    {
        var text = $"harness [{(DateTime.UtcNow - _began).TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s] {line}";
        Console.Error.WriteLine(text);
        TestContext.Current.SendDiagnosticMessage(text);
    }

    private static string ReportPath => Path.GetFullPath(Environment.GetEnvironmentVariable("COCOON_HARNESS_REPORT") is { Length: > 0 } p ? p : Path.Combine(AppContext.BaseDirectory, "harness-report.md"));

    private void WriteReport()
    {
        File.WriteAllText(ReportPath, _report.ToString());
        Console.Error.WriteLine(_report.ToString());
    }
}
