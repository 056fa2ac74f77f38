using System.Diagnostics.Metrics;
using Cocoon.Inference.Generation;

namespace Cocoon.Inference.Tests.Generation;

public sealed class GenerationMetricsTests(TinyLmFixture fixture)
{
    [Fact]
    public async Task Records_steps_tokens_by_class_and_capacity_tagged_with_the_model_only()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var engine = TextGenerationEngine.Create(fixture.Model, TinyLmFixture.Options(capacity: 2));
        var recorded = new List<(string Name, long Value, KeyValuePair<string, object?>[] Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == engine.Meter)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => { lock (recorded) { recorded.Add((i.Name, v, tags.ToArray())); } });
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => { lock (recorded) { recorded.Add((i.Name, v, tags.ToArray())); } });
        listener.Start();

        var options = new GenerationOptions { MaxTokens = 12, Temperature = 0 };
        string[] prompts = ["The cocoon keeps the caterpillar safe", "Hello!"];
        var completions = await Task.WhenAll(prompts.Select(p => Completion.RunAsync(engine, p, options, ct)));
        listener.RecordObservableInstruments();

        lock (recorded)
        {
            long Sum(string name, string? tokenClass = null) => recorded
                .Where(r => r.Name == name && (tokenClass is null || r.Tags.Contains(new("cocoon.token.class", tokenClass))))
                .Sum(r => r.Value);

            Assert.Equal(completions.Sum(c => c.Last.PromptTokens), Sum("cocoon.inference.generation.tokens", "prompt"));
            // Every completion token but the last of each sequence is fed back through a decode step.
            Assert.Equal(completions.Sum(c => c.Last.CompletionTokens - 1), Sum("cocoon.inference.generation.tokens", "completion"));
            Assert.Equal(Sum("cocoon.inference.generation.step.size"), Sum("cocoon.inference.generation.tokens", "completion"));
            Assert.Equal(engine.DecodeSteps, recorded.Count(r => r.Name == "cocoon.inference.generation.step.size"));
            Assert.Equal([2L], recorded.Where(r => r.Name == "cocoon.inference.generation.capacity").Select(r => r.Value));
            Assert.Equal([0L], recorded.Where(r => r.Name == "cocoon.inference.generation.running").Select(r => r.Value));
            Assert.All(recorded, r => Assert.All(r.Tags, t => Assert.Contains(t.Key, new[] { "cocoon.model", "cocoon.token.class" })));
            Assert.All(recorded, r => Assert.Contains(new KeyValuePair<string, object?>("cocoon.model", engine.ModelName), r.Tags));
        }
    }
}
