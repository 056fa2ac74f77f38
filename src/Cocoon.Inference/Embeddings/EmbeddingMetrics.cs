using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Cocoon.Inference.Embeddings;

/// <summary>
/// The engine's instruments on the <c>Cocoon</c> meter (DESIGN.md section 10), tagged with the model name only:
/// batch sizes and run times, tokens processed, requests waiting and runs in flight against capacity. Nothing
/// derived from an input's content is recorded.
/// </summary>
internal sealed class EmbeddingMetrics : IDisposable
{
    public const string MeterName = "Cocoon";

    private readonly Meter _meter;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _runDuration;
    private readonly Counter<long> _tokens;
    private readonly KeyValuePair<string, object?> _model;

    public EmbeddingMetrics(string model, Func<int> waiting, Func<int> running, int capacity)
    {
        _model = new KeyValuePair<string, object?>("cocoon.model", model);
        _meter = new Meter(MeterName);
        _batchSize = _meter.CreateHistogram<int>("cocoon.inference.batch.size", "{input}", "Inputs per model run.");
        _runDuration = _meter.CreateHistogram<double>("cocoon.inference.run.duration", "s", "Time of one model run (one batch).");
        _tokens = _meter.CreateCounter<long>("cocoon.inference.tokens", "{token}", "Tokens run through the model, [CLS] and [SEP] included.");
        _meter.CreateObservableGauge("cocoon.inference.queue.length", () => new Measurement<int>(waiting(), _model), "{input}", "Inputs waiting for a batch.");
        _meter.CreateObservableGauge("cocoon.inference.runs.active", () => new Measurement<int>(running(), _model), "{run}", "Model runs in flight.");
        _meter.CreateObservableGauge("cocoon.inference.runs.capacity", () => new Measurement<int>(capacity, _model), "{run}", "The most model runs allowed in flight.");
    }

    /// <summary>The meter of this engine, for tests that listen to it alone.</summary>
    internal Meter Meter => _meter;

    public void RecordRun(int inputs, int tokens, long startTimestamp)
    {
        _batchSize.Record(inputs, _model);
        _tokens.Add(tokens, _model);
        _runDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, _model);
    }

    public void Dispose() => _meter.Dispose();
}
