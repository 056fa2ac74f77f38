using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Cocoon.Inference.Generation;

/// <summary>
/// The generation engine's instruments on the <c>Cocoon</c> meter (DESIGN.md section 10), tagged with the model name (and
/// the token class for tokens) only: sequences per decode step and step time, prompt and completion tokens run, and
/// sequences running and waiting against capacity. Nothing derived from a prompt or an output is recorded.
/// </summary>
internal sealed class GenerationMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly Histogram<int> _stepSize;
    private readonly Histogram<double> _stepDuration;
    private readonly Counter<long> _tokens;
    private readonly KeyValuePair<string, object?> _model;
    private readonly KeyValuePair<string, object?>[] _prompt;
    private readonly KeyValuePair<string, object?>[] _completion;

    public GenerationMetrics(string model, Func<int> waiting, Func<int> running, int capacity)
    {
        _model = new KeyValuePair<string, object?>("cocoon.model", model);
        _prompt = [_model, new("cocoon.token.class", "prompt")];
        _completion = [_model, new("cocoon.token.class", "completion")];
        _meter = new Meter(Embeddings.EmbeddingMetrics.MeterName);
        _stepSize = _meter.CreateHistogram<int>("cocoon.inference.generation.step.size", "{sequence}", "Sequences sharing one decode step.");
        _stepDuration = _meter.CreateHistogram<double>("cocoon.inference.generation.step.duration", "s", "Time of one decode step or prefill run.");
        _tokens = _meter.CreateCounter<long>("cocoon.inference.generation.tokens", "{token}", "Tokens run through the model, by class (prompt, completion).");
        _meter.CreateObservableGauge("cocoon.inference.generation.waiting", () => new Measurement<int>(waiting(), _model), "{sequence}", "Sequences waiting for a slot.");
        _meter.CreateObservableGauge("cocoon.inference.generation.running", () => new Measurement<int>(running(), _model), "{sequence}", "Sequences holding a slot.");
        _meter.CreateObservableGauge("cocoon.inference.generation.capacity", () => new Measurement<int>(capacity, _model), "{sequence}", "The most sequences decoded at once.");
    }

    /// <summary>The meter of this engine, for tests that listen to it alone.</summary>
    internal Meter Meter => _meter;

    public void RecordPrefill(int promptTokens, long startTimestamp)
    {
        _tokens.Add(promptTokens, _prompt);
        _stepDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, _model);
    }

    public void RecordStep(int sequences, long startTimestamp)
    {
        _stepSize.Record(sequences, _model);
        _tokens.Add(sequences, _completion);
        _stepDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, _model);
    }

    public void Dispose() => _meter.Dispose();
}
