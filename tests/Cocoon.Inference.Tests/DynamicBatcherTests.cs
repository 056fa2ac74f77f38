using System.Collections.Concurrent;
using Cocoon.Inference.Batching;
using Microsoft.Extensions.Time.Testing;

namespace Cocoon.Inference.Tests;

/// <summary>
/// The batcher's bounds, driven by a fake clock and a fake model run that records its batches and how many runs
/// overlap. No test sleeps or measures time: waits below are only guards against hanging.
/// </summary>
public sealed class DynamicBatcherTests : IAsyncDisposable
{
    private static readonly TimeSpan Hang = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new();
    private readonly RecordingRun _run = new();
    private DynamicBatcher<string, string>? _batcher;

    public async ValueTask DisposeAsync()
    {
        _run.Open();
        if (_batcher is not null)
        {
            await _batcher.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_full_batch_runs_at_once_without_waiting_for_max_wait()
    {
        var batcher = Start(maxBatchSize: 4, maxWait: TimeSpan.FromHours(1));

        var results = await Task.WhenAll(Submit(batcher, "a", "b", "c", "d")).WaitAsync(Hang, TestContext.Current.CancellationToken);

        Assert.Equal(["A", "B", "C", "D"], results);
        Assert.Equal([["a", "b", "c", "d"]], _run.Batches);
    }

    [Fact]
    public async Task Batches_never_exceed_max_batch_size_and_the_remainder_leaves_after_max_wait()
    {
        var batcher = Start(maxBatchSize: 3, maxWait: TimeSpan.FromHours(1));

        var tasks = Submit(batcher, "1", "2", "3", "4", "5", "6", "7");
        await Task.WhenAll(tasks[..6]).WaitAsync(Hang, TestContext.Current.CancellationToken);
        Assert.False(tasks[6].IsCompleted);
        _time.Advance(TimeSpan.FromHours(1));
        await tasks[6].WaitAsync(Hang, TestContext.Current.CancellationToken);

        Assert.Equal([["1", "2", "3"], ["4", "5", "6"], ["7"]], _run.Batches);
    }

    [Fact]
    public async Task The_oldest_request_waits_for_company_up_to_max_wait_and_no_longer()
    {
        var batcher = Start(maxBatchSize: 10, maxWait: TimeSpan.FromMilliseconds(50));

        var first = batcher.SubmitAsync("a", TestContext.Current.CancellationToken);
        _time.Advance(TimeSpan.FromMilliseconds(49));
        var second = batcher.SubmitAsync("b", TestContext.Current.CancellationToken);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await Task.WhenAll(first, second).WaitAsync(Hang, TestContext.Current.CancellationToken);

        // "a" was held 49 ms for "b" to join, then the batch left at 50 ms although it was not full.
        Assert.Equal([["a", "b"]], _run.Batches);
    }

    [Fact]
    public async Task Never_runs_more_batches_at_once_than_its_capacity()
    {
        var batcher = Start(maxBatchSize: 1, maxWait: TimeSpan.Zero, capacity: 2);
        _run.Close();

        var tasks = Submit(batcher, "1", "2", "3", "4", "5", "6");
        await Until(() => _run.Active == 2);
        Assert.Equal(2, batcher.Running);
        Assert.Equal(4, batcher.Waiting);
        _run.Open();
        await Task.WhenAll(tasks).WaitAsync(Hang, TestContext.Current.CancellationToken);

        Assert.Equal(2, _run.MostActive);
        Assert.Equal(6, _run.Batches.Count);
        Assert.Equal(0, batcher.Running);
    }

    [Fact]
    public async Task A_request_cancelled_while_waiting_is_removed_and_never_runs()
    {
        var batcher = Start(maxBatchSize: 10, maxWait: TimeSpan.FromHours(1));
        using var cancel = new CancellationTokenSource();

        var leaving = batcher.SubmitAsync("leaving", cancel.Token);
        var staying = batcher.SubmitAsync("staying", TestContext.Current.CancellationToken);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving.WaitAsync(Hang, TestContext.Current.CancellationToken));
        Assert.Equal(1, batcher.Waiting);
        _time.Advance(TimeSpan.FromHours(1));
        await staying.WaitAsync(Hang, TestContext.Current.CancellationToken);

        Assert.Equal([["staying"]], _run.Batches);
    }

    [Fact]
    public async Task A_request_cancelled_during_its_run_is_released_and_its_batch_mates_still_complete()
    {
        var batcher = Start(maxBatchSize: 2, maxWait: TimeSpan.FromHours(1));
        _run.Close();
        using var cancel = new CancellationTokenSource();

        var leaving = batcher.SubmitAsync("leaving", cancel.Token);
        var staying = batcher.SubmitAsync("staying", TestContext.Current.CancellationToken);
        await Until(() => _run.Active == 1);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving.WaitAsync(Hang, TestContext.Current.CancellationToken));
        _run.Open();

        Assert.Equal("STAYING", await staying.WaitAsync(Hang, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_failing_request_faults_only_itself_not_its_batch_mates()
    {
        var batcher = Start(maxBatchSize: 3, maxWait: TimeSpan.FromHours(1));

        var tasks = Submit(batcher, "a", "bad", "c");
        var error = await Assert.ThrowsAsync<InferenceException>(() => tasks[1].WaitAsync(Hang, TestContext.Current.CancellationToken));

        Assert.Equal("A", await tasks[0]);
        Assert.Equal("C", await tasks[2]);
        Assert.Equal(InferenceErrorCodes.InternalError, error.Code);
        Assert.IsType<InvalidOperationException>(error.InnerException);
        Assert.Contains("InvalidOperationException", error.Message, StringComparison.Ordinal);
        // The shared run failed, then each request ran alone.
        Assert.Equal([["a", "bad", "c"], ["a"], ["bad"], ["c"]], _run.Batches);
    }

    [Fact]
    public async Task Refuses_a_request_beyond_the_queue_bound()
    {
        var batcher = Start(maxBatchSize: 1, maxWait: TimeSpan.Zero, maxQueueLength: 2);
        _run.Close();

        var running = batcher.SubmitAsync("running", TestContext.Current.CancellationToken);
        await Until(() => _run.Active == 1);
        var queued = Submit(batcher, "q1", "q2");
        var error = Assert.Throws<InferenceException>(() => { _ = batcher.SubmitAsync("one too many", TestContext.Current.CancellationToken); });
        _run.Open();
        await Task.WhenAll([running, .. queued]).WaitAsync(Hang, TestContext.Current.CancellationToken);

        Assert.Equal(InferenceErrorCodes.Overloaded, error.Code);
    }

    [Fact]
    public async Task Stopping_fails_waiting_requests_and_refuses_new_ones()
    {
        var batcher = Start(maxBatchSize: 10, maxWait: TimeSpan.FromHours(1));
        var waiting = batcher.SubmitAsync("waiting", TestContext.Current.CancellationToken);

        await batcher.DisposeAsync();

        var failed = await Assert.ThrowsAsync<InferenceException>(() => waiting.WaitAsync(Hang, TestContext.Current.CancellationToken));
        var refused = Assert.Throws<InferenceException>(() => { _ = batcher.SubmitAsync("late", TestContext.Current.CancellationToken); });
        Assert.Equal(InferenceErrorCodes.EngineStopped, failed.Code);
        Assert.Equal(InferenceErrorCodes.EngineStopped, refused.Code);
        Assert.Empty(_run.Batches);
    }

    private DynamicBatcher<string, string> Start(int maxBatchSize, TimeSpan maxWait, int capacity = 1, int maxQueueLength = 1000)
    {
        _batcher = new DynamicBatcher<string, string>(
            _run.RunAsync,
            new BatchingOptions { MaxBatchSize = maxBatchSize, MaxWait = maxWait, Capacity = capacity, MaxQueueLength = maxQueueLength },
            _time);
        return _batcher;
    }

    private static Task<string>[] Submit(DynamicBatcher<string, string> batcher, params string[] items) =>
        items.Select(i => batcher.SubmitAsync(i, TestContext.Current.CancellationToken)).ToArray();

    private static async Task Until(Func<bool> condition)
    {
        using var guard = new CancellationTokenSource(Hang);
        while (!condition())
        {
            await Task.Delay(1, guard.Token);
        }
    }

    /// <summary>A model run that upper-cases its items, fails on "bad", and can be held shut to keep runs in flight.</summary>
    private sealed class RecordingRun
    {
        private readonly ConcurrentQueue<string[]> _batches = new();
        private TaskCompletionSource _gate = NewOpenGate();
        private int _active;
        private int _mostActive;

        public List<string[]> Batches => [.. _batches];

        public int Active => Volatile.Read(ref _active);

        public int MostActive => Volatile.Read(ref _mostActive);

        public void Close() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Open() => _gate.TrySetResult();

        public async Task<IReadOnlyList<string>> RunAsync(IReadOnlyList<string> items, CancellationToken cancellationToken)
        {
            var now = Interlocked.Increment(ref _active);
            int seen;
            while (now > (seen = Volatile.Read(ref _mostActive)) && Interlocked.CompareExchange(ref _mostActive, now, seen) != seen)
            {
            }

            try
            {
                _batches.Enqueue([.. items]);
                await _gate.Task.WaitAsync(cancellationToken);
                if (items.Contains("bad"))
                {
                    throw new InvalidOperationException("the model run failed");
                }

                return items.Select(i => i.ToUpperInvariant()).ToArray();
            }
            finally
            {
                Interlocked.Decrement(ref _active);
            }
        }

        private static TaskCompletionSource NewOpenGate()
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            gate.SetResult();
            return gate;
        }
    }
}
