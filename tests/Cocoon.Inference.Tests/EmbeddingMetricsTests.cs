using System.Diagnostics.Metrics;
using Cocoon.Inference.Batching;
using Cocoon.Inference.Embeddings;
using Cocoon.Inference.Runtime;
using Microsoft.Extensions.Time.Testing;

namespace Cocoon.Inference.Tests;

public class EmbeddingMetricsTests(MiniLmFixture miniLm)
{
    [Fact]
    public async Task Records_batch_size_tokens_and_capacity_tagged_with_the_model_only()
    {
        await using var engine = EmbeddingEngine.Create(miniLm.Model, new EmbeddingEngineOptions
        {
            Session = new OnnxSessionSettings { Preference = ExecutionProviderPreference.Cpu },
            Batching = new BatchingOptions { MaxBatchSize = 3, MaxWait = TimeSpan.FromHours(1), Capacity = 2 },
            TimeProvider = new FakeTimeProvider(),
        });
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

        // Three inputs fill a batch of three at once: one run, no waiting on the (fake) clock.
        var result = await engine.EmbedAsync(["The weather is lovely today.", "It's so sunny outside!", "Short."], cancellationToken: TestContext.Current.CancellationToken);
        listener.RecordObservableInstruments();

        lock (recorded)
        {
            Assert.Equal([3L], recorded.Where(r => r.Name == "cocoon.inference.batch.size").Select(r => r.Value));
            Assert.Equal(result.TotalTokens, recorded.Where(r => r.Name == "cocoon.inference.tokens").Sum(r => r.Value));
            Assert.Equal(2L, recorded.Single(r => r.Name == "cocoon.inference.runs.capacity").Value);
            Assert.Equal(0L, recorded.Single(r => r.Name == "cocoon.inference.runs.active").Value);
            Assert.All(recorded, r => Assert.Equal([new KeyValuePair<string, object?>("cocoon.model", "all-minilm-l6-v2")], r.Tags));
        }
    }
}
