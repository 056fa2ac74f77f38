using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Cocoon.Abstractions.Telemetry;

/// <summary>
/// The <c>Cocoon</c> meter and activity source and every instrument of DESIGN section 10, in one place so names, units
/// and tags stay one scheme. Tags are bounded: model names (only after the model was found deployed), worker ids,
/// statuses, token classes, lease states, chain operations and attestation steps. Never a request id, an account,
/// an API key or any text a client sent.
/// </summary>
/// <remarks>
/// Prometheus names (OpenTelemetry's exporter): dots become underscores, a unit in seconds adds <c>_seconds</c>,
/// counters end in <c>_total</c>, histograms expose <c>_bucket</c>/<c>_sum</c>/<c>_count</c>; units in braces
/// (<c>{request}</c>) add nothing. <see cref="PrometheusNames"/> lists what each instrument becomes.
/// </remarks>
public static class CocoonTelemetry
{
    /// <summary>The name of the meter and the activity source.</summary>
    public const string Name = "Cocoon";

    /// <summary>Tag: the model (a deployed model's name, or <see cref="None"/>).</summary>
    public const string ModelTag = "cocoon.model";

    /// <summary>Tag: the worker id (a registered worker, or <see cref="None"/>).</summary>
    public const string WorkerTag = "cocoon.worker";

    /// <summary>Tag: the outcome as an HTTP status code (<c>200</c>, <c>402</c>, <c>503</c>...).</summary>
    public const string StatusTag = "cocoon.status";

    /// <summary>Tag: the kind of request (<c>embeddings</c>, <c>chat</c>, <c>completions</c>).</summary>
    public const string OperationTag = "cocoon.operation";

    /// <summary>Tag: the token class (<c>prompt</c>, <c>cached</c>, <c>completion</c>, <c>reasoning</c>).</summary>
    public const string TokenClassTag = "cocoon.token.class";

    /// <summary>Tag: a worker lease's state (<c>live</c>, <c>expired</c>, <c>released</c>).</summary>
    public const string LeaseStateTag = "cocoon.lease.state";

    /// <summary>Tag: what a chain call was doing (<c>send</c>, <c>get_method</c>, <c>account</c>, <c>transactions</c>...).</summary>
    public const string ChainOperationTag = "cocoon.chain.operation";

    /// <summary>Tag: the attestation step that failed (the RA-TLS validation step, or <c>quote</c> for a quote that could not be made).</summary>
    public const string AttestationStepTag = "cocoon.attestation.step";

    /// <summary>Tag: where an attestation failure was seen (<c>silo_tls</c>, <c>renewal</c>, <c>client_tls</c>).</summary>
    public const string AttestationSourceTag = "cocoon.attestation.source";

    /// <summary>The value of a model or worker tag when there is none (the request failed before it had one).</summary>
    public const string None = "none";

    /// <summary>Token classes (<see cref="TokenClassTag"/>).</summary>
    public static class TokenClasses
    {
        /// <summary>Prompt tokens not served from cache.</summary>
        public const string Prompt = "prompt";

        /// <summary>Prompt tokens served from cache.</summary>
        public const string Cached = "cached";

        /// <summary>Generated tokens that are not reasoning.</summary>
        public const string Completion = "completion";

        /// <summary>Generated reasoning tokens.</summary>
        public const string Reasoning = "reasoning";
    }

    /// <summary>Request operations (<see cref="OperationTag"/>).</summary>
    public static class Operations
    {
        /// <summary><c>/v1/embeddings</c>, <c>EmbedAsync</c>.</summary>
        public const string Embeddings = "embeddings";

        /// <summary><c>/v1/chat/completions</c>.</summary>
        public const string Chat = "chat";

        /// <summary><c>/v1/completions</c>.</summary>
        public const string Completions = "completions";
    }

    /// <summary>Lease states (<see cref="LeaseStateTag"/>).</summary>
    public static class LeaseStates
    {
        /// <summary>Renewed and not expired: routable.</summary>
        public const string Live = "live";

        /// <summary>Not renewed in time.</summary>
        public const string Expired = "expired";

        /// <summary>Released by its worker.</summary>
        public const string Released = "released";
    }

    private static readonly ConcurrentDictionary<string, LeaseSnapshot> Leases = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, (long Pending, DateTimeOffset? Oldest)> SettlementBacklogs = new(StringComparer.Ordinal);

    /// <summary>The <c>Cocoon</c> activity source: spans of the request path (gateway, service, escrow, routing, inference).</summary>
    public static readonly ActivitySource Source = new(Name, typeof(CocoonTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary>The <c>Cocoon</c> meter.</summary>
    public static readonly Meter Meter = new(Name, typeof(CocoonTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary><c>cocoon.requests</c>: finished requests by operation, model, worker and status.</summary>
    public static readonly Counter<long> Requests = Meter.CreateCounter<long>(
        "cocoon.requests", "{request}", "Requests finished, by operation, model, worker and status (HTTP status code).");

    /// <summary><c>cocoon.request.duration</c>: time from the request reaching the service grain to its answer.</summary>
    public static readonly Histogram<double> RequestDuration = Meter.CreateHistogram(
        "cocoon.request.duration", "s", "Time from a request reaching the service to its last byte, by operation, model and status.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });

    /// <summary><c>cocoon.time_to_first_token</c>: time from a generation request reaching the service to its first token.</summary>
    public static readonly Histogram<double> TimeToFirstToken = Meter.CreateHistogram(
        "cocoon.time_to_first_token", "s", "Time from a generation request reaching the service to its first token, by model and worker.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });

    /// <summary><c>cocoon.tokens</c>: tokens served, by model, worker and token class (rate() gives tokens per second).</summary>
    public static readonly Counter<long> Tokens = Meter.CreateCounter<long>(
        "cocoon.tokens", "{token}", "Tokens served and charged, by model, worker and class (prompt, cached, completion, reasoning).");

    /// <summary><c>cocoon.requests.active</c>: requests running on a worker now.</summary>
    public static readonly UpDownCounter<long> ActiveRequests = Meter.CreateUpDownCounter<long>(
        "cocoon.requests.active", "{request}", "Requests running on a worker now, by model and worker.");

    /// <summary><c>cocoon.escrow.reserved</c>: nanoTON reserved on escrow accounts (the worst case of each request).</summary>
    public static readonly Counter<long> EscrowReserved = Meter.CreateCounter<long>(
        "cocoon.escrow.reserved", "{nanoTON}", "nanoTON reserved on escrow accounts, each request's worst case.");

    /// <summary><c>cocoon.escrow.charged</c>: nanoTON charged to escrow accounts (exact costs).</summary>
    public static readonly Counter<long> EscrowCharged = Meter.CreateCounter<long>(
        "cocoon.escrow.charged", "{nanoTON}", "nanoTON charged to escrow accounts, each request's exact cost.");

    /// <summary><c>cocoon.chain.failures</c>: failed TON chain calls (sending, reading), by operation.</summary>
    public static readonly Counter<long> ChainFailures = Meter.CreateCounter<long>(
        "cocoon.chain.failures", "{failure}", "Failed calls to the TON endpoint (submissions and reads), by operation.");

    /// <summary><c>cocoon.ledger.rollbacks</c>: stored money state found older than what the proxy committed on chain.</summary>
    public static readonly Counter<long> LedgerRollbacks = Meter.CreateCounter<long>(
        "cocoon.ledger.rollbacks", "{rollback}", "Stored money state found older than the proxy's commit on chain (a restored database); money movement is frozen.");

    /// <summary><c>cocoon.attestation.failures</c>: quotes or RA-TLS certificates refused or not produced, by step and source.</summary>
    public static readonly Counter<long> AttestationFailures = Meter.CreateCounter<long>(
        "cocoon.attestation.failures", "{failure}", "Attestation failures: peers refused at a validation step, quotes that could not be made.");

    /// <summary><c>cocoon.worker.capacity</c>: how many requests each live worker may run at once.</summary>
    public static readonly ObservableGauge<long> WorkerCapacity = Meter.CreateObservableGauge(
        "cocoon.worker.capacity", ObserveCapacity, "{request}", "Requests a live worker may run at once (max_active_requests), by model and worker.");

    /// <summary><c>cocoon.worker.leases</c>: worker leases known to this silo by model and state.</summary>
    public static readonly ObservableGauge<long> WorkerLeases = Meter.CreateObservableGauge(
        "cocoon.worker.leases", ObserveLeases, "{lease}", "Worker leases held by this silo's lease grains, by model and state.");

    /// <summary><c>cocoon.settlement.backlog</c>: signed charges and payouts not yet confirmed on chain.</summary>
    public static readonly ObservableGauge<long> SettlementBacklog = Meter.CreateObservableGauge(
        "cocoon.settlement.backlog", () => new Measurement<long>(SettlementBacklogs.Values.Sum(b => b.Pending)),
        "{message}", "Signed charges and payouts waiting for on-chain confirmation.");

    /// <summary><c>cocoon.settlement.age</c>: age of the oldest unconfirmed settlement item (0 when none).</summary>
    public static readonly ObservableGauge<double> SettlementAge = Meter.CreateObservableGauge(
        "cocoon.settlement.age", ObserveSettlementAge, "s", "Age of the oldest signed charge or payout not yet confirmed on chain; 0 when none.");

    private static double[] LatencyBuckets => [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

    /// <summary>
    /// Every instrument of this class with its Prometheus name (as OpenTelemetry's Prometheus exporter writes it) and
    /// the series a dashboard may query (histograms: <c>_bucket</c>, <c>_sum</c>, <c>_count</c>).
    /// </summary>
    public static IReadOnlyList<InstrumentName> PrometheusNames { get; } =
    [
        .. new Instrument[]
        {
            Requests, RequestDuration, TimeToFirstToken, Tokens, ActiveRequests, EscrowReserved, EscrowCharged,
            ChainFailures, AttestationFailures, WorkerCapacity, WorkerLeases, SettlementBacklog, SettlementAge, LedgerRollbacks,
        }.Select(InstrumentName.Of),
    ];

    /// <summary>
    /// The instruments that have no series until their event first happens (a generated token, a failed chain call, an
    /// attestation failure): a scrape of a node that has seen none lacks them, and that is not a fault.
    /// </summary>
    public static IReadOnlyList<InstrumentName> ConditionalPrometheusNames { get; } =
        [.. new Instrument[] { TimeToFirstToken, ChainFailures, AttestationFailures, LedgerRollbacks }.Select(InstrumentName.Of)];

    /// <summary>Starts a span of the request path (null when nobody listens).</summary>
    public static Activity? StartSpan(string name, ActivityKind kind = ActivityKind.Internal) => Source.StartActivity(name, kind);

    /// <summary>
    /// Counts a request as running on <paramref name="worker"/> and starts its <c>cocoon.inference</c> span; dispose
    /// when it finishes.
    /// </summary>
    public static InferenceScope StartInference(string model, string worker) => new(model, worker);

    /// <summary>Records what a worker lease grain now holds (its worker's model, capacity, expiry, whether released).</summary>
    public static void ObserveLease(string workerId, string model, int capacity, DateTimeOffset expiresAt, bool released = false) =>
        Leases[workerId] = new LeaseSnapshot(model, capacity, expiresAt, released);

    /// <summary>Forgets a lease (its grain deactivated on this silo).</summary>
    public static void ForgetLease(string workerId) => Leases.TryRemove(workerId, out _);

    /// <summary>
    /// Reports a settlement grain's backlog: signed items not yet confirmed on chain and when the oldest was signed
    /// (null when none). Feeds <c>cocoon.settlement.backlog</c> (summed over settlement grains) and
    /// <c>cocoon.settlement.age</c> (the oldest).
    /// </summary>
    public static void ReportSettlementBacklog(string proxyId, long pending, DateTimeOffset? oldestSignedAt) =>
        SettlementBacklogs[proxyId] = (pending, pending > 0 ? oldestSignedAt : null);

    /// <summary>Counts a ledger found rolled back.</summary>
    public static void LedgerRolledBack() => LedgerRollbacks.Add(1);

    /// <summary>Counts a failed chain call.</summary>
    public static void ChainFailed(string operation) => ChainFailures.Add(1, new KeyValuePair<string, object?>(ChainOperationTag, operation));

    /// <summary>Counts an attestation failure at <paramref name="step"/> seen by <paramref name="source"/>.</summary>
    public static void AttestationFailed(string source, string step) => AttestationFailures.Add(1,
        new KeyValuePair<string, object?>(AttestationSourceTag, source), new KeyValuePair<string, object?>(AttestationStepTag, step));

    /// <summary>Counts served tokens of every class that has any.</summary>
    public static void AddTokens(string model, string worker, long prompt, long cached = 0, long completion = 0, long reasoning = 0)
    {
        AddTokens(model, worker, TokenClasses.Prompt, prompt);
        AddTokens(model, worker, TokenClasses.Cached, cached);
        AddTokens(model, worker, TokenClasses.Completion, completion);
        AddTokens(model, worker, TokenClasses.Reasoning, reasoning);
    }

    private static void AddTokens(string model, string worker, string tokenClass, long count)
    {
        if (count > 0)
        {
            Tokens.Add(count, new KeyValuePair<string, object?>(ModelTag, model), new KeyValuePair<string, object?>(WorkerTag, worker),
                new KeyValuePair<string, object?>(TokenClassTag, tokenClass));
        }
    }

    private static IEnumerable<Measurement<long>> ObserveCapacity()
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var (worker, lease) in Leases)
        {
            if (!lease.Released && lease.ExpiresAt > now)
            {
                yield return new Measurement<long>(lease.Capacity,
                    new KeyValuePair<string, object?>(ModelTag, lease.Model), new KeyValuePair<string, object?>(WorkerTag, worker));
            }
        }
    }

    private static IEnumerable<Measurement<long>> ObserveLeases()
    {
        var now = DateTimeOffset.UtcNow;
        var counts = new Dictionary<(string Model, string State), long>();
        foreach (var lease in Leases.Values)
        {
            var state = lease.Released ? LeaseStates.Released : lease.ExpiresAt > now ? LeaseStates.Live : LeaseStates.Expired;
            counts[(lease.Model, state)] = counts.GetValueOrDefault((lease.Model, state)) + 1;
        }

        foreach (var ((model, state), count) in counts)
        {
            yield return new Measurement<long>(count,
                new KeyValuePair<string, object?>(ModelTag, model), new KeyValuePair<string, object?>(LeaseStateTag, state));
        }
    }

    private static Measurement<double> ObserveSettlementAge()
    {
        DateTimeOffset? oldest = null;
        foreach (var backlog in SettlementBacklogs.Values)
        {
            if (backlog.Oldest is { } at && (oldest is null || at < oldest))
            {
                oldest = at;
            }
        }

        return new Measurement<double>(oldest is { } o ? Math.Max(0, (DateTimeOffset.UtcNow - o).TotalSeconds) : 0);
    }

    private sealed record LeaseSnapshot(string Model, int Capacity, DateTimeOffset ExpiresAt, bool Released);
}

/// <summary>An instrument's OpenTelemetry name and the Prometheus series it becomes.</summary>
/// <param name="Name">The OpenTelemetry name (<c>cocoon.requests</c>).</param>
/// <param name="Prometheus">The Prometheus metric family (<c>cocoon_requests_total</c>).</param>
/// <param name="Series">Every series name a query may use (histograms: <c>_bucket</c>, <c>_sum</c>, <c>_count</c>).</param>
public sealed record InstrumentName(string Name, string Prometheus, IReadOnlyList<string> Series)
{
    /// <summary>Derives the Prometheus names of <paramref name="instrument"/> the way OpenTelemetry's exporter does.</summary>
    public static InstrumentName Of(Instrument instrument)
    {
        var name = instrument.Name.Replace('.', '_');
        var unit = instrument.Unit switch
        {
            null or "" => "",
            ['{', ..] => "",
            "s" => "seconds",
            "ms" => "milliseconds",
            "By" => "bytes",
            var other => other,
        };
        if (unit.Length > 0 && !name.EndsWith("_" + unit, StringComparison.Ordinal))
        {
            name += "_" + unit;
        }

        var type = instrument.GetType().GetGenericTypeDefinition();
        if (type == typeof(Counter<>) || type == typeof(ObservableCounter<>))
        {
            name += "_total";
        }

        IReadOnlyList<string> series = type == typeof(Histogram<>)
            ? [name + "_bucket", name + "_sum", name + "_count"]
            : [name];
        return new InstrumentName(instrument.Name, name, series);
    }
}

/// <summary>A request running on a worker: <c>cocoon.requests.active</c> and the <c>cocoon.inference</c> span.</summary>
public sealed class InferenceScope : IDisposable
{
    private readonly KeyValuePair<string, object?>[] _tags;
    private int _disposed;

    internal InferenceScope(string model, string worker)
    {
        _tags = [new(CocoonTelemetry.ModelTag, model), new(CocoonTelemetry.WorkerTag, worker)];
        CocoonTelemetry.ActiveRequests.Add(1, _tags);
        Activity = CocoonTelemetry.Source.StartActivity("cocoon.inference");
        Activity?.SetTag(CocoonTelemetry.ModelTag, model);
        Activity?.SetTag(CocoonTelemetry.WorkerTag, worker);
    }

    /// <summary>The span, when someone listens.</summary>
    public Activity? Activity { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            CocoonTelemetry.ActiveRequests.Add(-1, _tags);
            Activity?.Dispose();
        }
    }
}
