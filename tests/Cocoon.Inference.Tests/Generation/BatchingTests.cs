using Cocoon.Inference.Generation;

namespace Cocoon.Inference.Tests.Generation;

public sealed class BatchingTests(TinyLmFixture fixture)
{
    private static readonly string[] Prompts =
    [
        "The cocoon keeps the caterpillar safe while it turns into a butterfly.",
        "Hi",
        "A worker serves a model inside a trusted machine. The client sends a prompt",
        "1, 2, 3",
        "Zebra 42 ünïcødé ✓ 🦋",
    ];

    [Fact]
    public async Task Sequences_decoded_together_give_the_tokens_each_gives_alone()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var engine = TextGenerationEngine.Create(fixture.Model, TinyLmFixture.Options(capacity: 4));
        using var gate = new SchedulerGate(engine);
        var greedy = new GenerationOptions { MaxTokens = 20, Temperature = 0 };

        // The first sequence starts alone; the others queue while the scheduler is held and join it between two steps
        // (prompts of different lengths: rows are padded). The fifth waits for a free slot and joins later.
        var first = Completion.RunAsync(engine, Prompts[0], greedy, ct);
        await gate.ArrivedAsync();
        var rest = Prompts.Skip(1).Select(p => Completion.RunAsync(engine, p, greedy, ct)).ToList();
        Assert.Equal(1, engine.Running);
        Assert.Equal(4, engine.Waiting);
        gate.Open();
        var completions = await Task.WhenAll([first, .. rest]);

        Assert.Equal(4, engine.LargestStep);
        for (var i = 0; i < Prompts.Length; i++)
        {
            var expected = fixture.ReferenceGreedy(engine.Tokenizer.Encode(Prompts[i]), greedy.MaxTokens);
            Assert.Equal(expected, completions[i].Tokens);
        }
    }

    [Fact]
    public async Task Never_more_than_capacity_run_and_the_rest_wait()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var engine = TextGenerationEngine.Create(fixture.Model, TinyLmFixture.Options(capacity: 2));
        using var gate = new SchedulerGate(engine);
        var options = new GenerationOptions { MaxTokens = 30, Temperature = 0 };

        var first = Completion.RunAsync(engine, Prompts[0], options, ct);
        await gate.ArrivedAsync();
        var others = Prompts.Skip(1).Take(3).Select(p => Completion.RunAsync(engine, p, options, ct)).ToList();
        Assert.Equal(1, engine.Running);
        Assert.Equal(3, engine.Waiting);

        gate.Step();
        await gate.ArrivedAsync();
        Assert.Equal(2, engine.Running);
        Assert.Equal(2, engine.Waiting);

        gate.Open();
        await Task.WhenAll([first, .. others]);
        Assert.Equal(2, engine.LargestStep);
        Assert.Equal(0, engine.Running);
        Assert.Equal(0, engine.Waiting);
    }

    [Fact]
    public async Task A_full_queue_refuses_with_overloaded()
    {
        var ct = TestContext.Current.CancellationToken;
        var engine = TextGenerationEngine.Create(fixture.Model, TinyLmFixture.Options(capacity: 1, queueLimit: 1));
        var gate = new SchedulerGate(engine);
        var options = new GenerationOptions { MaxTokens = 30, Temperature = 0 };

        var running = Completion.RunAsync(engine, Prompts[0], options, ct);
        await gate.ArrivedAsync();
        var waiting = Completion.RunAsync(engine, Prompts[1], options, ct);
        Assert.Equal(1, engine.Waiting);

        var refused = await Assert.ThrowsAsync<InferenceException>(() => Completion.RunAsync(engine, Prompts[2], options, ct));
        Assert.Equal(InferenceErrorCodes.Overloaded, refused.Code);
        Assert.Equal(1, engine.Waiting);

        // Stopping the engine fails what is still running or waiting.
        gate.Open();
        await engine.DisposeAsync();
        gate.Dispose();
        foreach (var task in new[] { running, waiting })
        {
            try
            {
                await task;
            }
            catch (InferenceException ex)
            {
                Assert.Equal(InferenceErrorCodes.EngineStopped, ex.Code);
            }
        }
    }

    [Fact]
    public async Task Cancelling_a_stream_frees_its_slot_before_the_next_step()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var engine = TextGenerationEngine.Create(fixture.Model, TinyLmFixture.Options(capacity: 1));
        using var gate = new SchedulerGate(engine);
        var options = new GenerationOptions { MaxTokens = 100, Temperature = 0 };

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var cancelled = Completion.RunAsync(engine, Prompts[0], options, cancel.Token);
        await gate.ArrivedAsync();
        var next = Completion.RunAsync(engine, Prompts[1], new GenerationOptions { MaxTokens = 5, Temperature = 0 }, ct);
        Assert.Equal(1, engine.Running);
        Assert.Equal(1, engine.Waiting);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        var steps = engine.DecodeSteps;

        // One pass of the scheduler: the cancelled sequence is dropped and the waiting one takes its slot.
        gate.Step();
        await gate.ArrivedAsync();
        Assert.Equal(1, engine.Running);
        Assert.Equal(0, engine.Waiting);
        Assert.Equal(steps + 1, engine.DecodeSteps);

        gate.Open();
        var completion = await next;
        Assert.Equal(fixture.ReferenceGreedy(engine.Tokenizer.Encode(Prompts[1]), 5), completion.Tokens);
        Assert.Equal(0, engine.Running);
    }

    [Fact]
    public async Task A_reader_that_stops_reading_frees_its_slot()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var engine = TextGenerationEngine.Create(fixture.Model, TinyLmFixture.Options(capacity: 1));
        using var gate = new SchedulerGate(engine);

        var stream = engine.GenerateAsync(Prompts[0], new GenerationOptions { MaxTokens = 100, Temperature = 0 }, ct).GetAsyncEnumerator(ct);
        var read = stream.MoveNextAsync();
        await gate.ArrivedAsync();
        while (!read.IsCompleted)
        {
            gate.Step();
            await gate.ArrivedAsync();
        }

        Assert.True(await read);
        Assert.Null(stream.Current.FinishReason);
        Assert.Equal(1, engine.Running);

        await stream.DisposeAsync();
        gate.Step();
        await WaitUntilAsync(() => engine.Running == 0, ct);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not become true.");
            await Task.Delay(10, ct);
        }
    }
}
