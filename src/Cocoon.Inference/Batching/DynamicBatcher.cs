using System.Threading.Channels;

namespace Cocoon.Inference.Batching;

/// <summary>
/// Gathers requests that arrive together into one model run. A batch closes when it holds
/// <see cref="BatchingOptions.MaxBatchSize"/> requests or when its oldest request has waited
/// <see cref="BatchingOptions.MaxWait"/>; at most <see cref="BatchingOptions.Capacity"/> runs are in flight, and a
/// batch is only formed once a run slot is free, so requests that queue behind busy runs leave together.
/// A request cancelled while it waits is removed and never run. When a run of several requests fails, each request
/// is run again alone so that only the ones that fail by themselves are faulted.
/// </summary>
/// <typeparam name="TItem">One request's prepared input.</typeparam>
/// <typeparam name="TResult">One request's output.</typeparam>
public sealed class DynamicBatcher<TItem, TResult> : IAsyncDisposable
{
    private readonly Func<IReadOnlyList<TItem>, CancellationToken, Task<IReadOnlyList<TResult>>> _runBatch;
    private readonly BatchingOptions _options;
    private readonly TimeProvider _time;
    private readonly Channel<Entry> _queue = Channel.CreateUnbounded<Entry>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _dispatcher;
    private int _waiting;
    private int _running;
    private int _disposed;

    /// <summary>Starts a batcher that hands each closed batch to <paramref name="runBatch"/>.</summary>
    /// <param name="runBatch">Runs a batch and returns one result per item, in order. Called concurrently up to the capacity.</param>
    /// <param name="options">The bounds.</param>
    /// <param name="timeProvider">The clock for <see cref="BatchingOptions.MaxWait"/>; the system clock when null.</param>
    public DynamicBatcher(
        Func<IReadOnlyList<TItem>, CancellationToken, Task<IReadOnlyList<TResult>>> runBatch,
        BatchingOptions options,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(runBatch);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _runBatch = runBatch;
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _slots = new SemaphoreSlim(options.Capacity, options.Capacity);
        _dispatcher = Task.Run(DispatchAsync);
    }

    /// <summary>Requests queued and not yet taken into a run.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Model runs in flight now; never more than <see cref="BatchingOptions.Capacity"/>.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>The bounds this batcher was started with.</summary>
    public BatchingOptions Options => _options;

    /// <summary>Queues one request and completes with its result once the batch it joined has run.</summary>
    /// <exception cref="InferenceException">The queue is full, the engine stopped, or the run failed for this request.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public Task<TResult> SubmitAsync(TItem item, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Volatile.Read(ref _disposed) != 0)
        {
            throw new InferenceException(InferenceErrorCodes.EngineStopped, "The inference engine has stopped.");
        }

        if (Interlocked.Increment(ref _waiting) > _options.MaxQueueLength)
        {
            Interlocked.Decrement(ref _waiting);
            throw new InferenceException(InferenceErrorCodes.Overloaded, $"More than {_options.MaxQueueLength} requests are waiting; try again later.");
        }

        var entry = new Entry(this, item, _time.GetTimestamp());
        entry.WatchCancellation(cancellationToken);
        if (!_queue.Writer.TryWrite(entry))
        {
            FailStopped(entry);
        }

        return entry.Task;
    }

    /// <summary>Stops taking requests, fails those still waiting, and waits for runs in flight to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _dispatcher.ConfigureAwait(false);
        // Taking every slot waits for the runs in flight.
        for (var i = 0; i < _options.Capacity; i++)
        {
            await _slots.WaitAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
        _slots.Dispose();
    }

    private async Task DispatchAsync()
    {
        var stop = _stop.Token;
        try
        {
            while (true)
            {
                await _slots.WaitAsync(stop).ConfigureAwait(false);
                List<Entry> batch;
                try
                {
                    batch = await CollectAsync(stop).ConfigureAwait(false);
                }
                catch
                {
                    _slots.Release();
                    throw;
                }

                if (batch.Count == 0)
                {
                    _slots.Release();
                    continue;
                }

                _ = RunAsync(batch);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested || Volatile.Read(ref _disposed) != 0)
        {
        }
        catch (ChannelClosedException)
        {
        }

        while (_queue.Reader.TryRead(out var left))
        {
            FailStopped(left);
        }
    }

    private static void FailStopped(Entry entry)
    {
        if (entry.TryClaim())
        {
            entry.TryFail(new InferenceException(InferenceErrorCodes.EngineStopped, "The inference engine stopped before the request ran."));
        }
    }

    /// <summary>Waits for a first live request, then fills the batch until it is full or the first one's wait is over.</summary>
    private async Task<List<Entry>> CollectAsync(CancellationToken stop)
    {
        var batch = new List<Entry>(_options.MaxBatchSize);
        try
        {
            return await CollectIntoAsync(batch, stop).ConfigureAwait(false);
        }
        catch
        {
            // Stopping while a batch was being gathered: its requests have left the queue, so fail them here.
            foreach (var entry in batch)
            {
                FailStopped(entry);
            }

            throw;
        }
    }

    private async Task<List<Entry>> CollectIntoAsync(List<Entry> batch, CancellationToken stop)
    {
        var reader = _queue.Reader;
        while (batch.Count == 0)
        {
            var first = await reader.ReadAsync(stop).ConfigureAwait(false);
            if (!first.IsCancelled)
            {
                batch.Add(first);
            }
        }

        var deadline = batch[0].EnqueuedAt;
        while (batch.Count < _options.MaxBatchSize)
        {
            if (reader.TryRead(out var next))
            {
                if (!next.IsCancelled)
                {
                    batch.Add(next);
                }

                continue;
            }

            var left = _options.MaxWait - _time.GetElapsedTime(deadline);
            if (left <= TimeSpan.Zero)
            {
                break;
            }

            using var waitOver = CancellationTokenSource.CreateLinkedTokenSource(stop);
            var more = reader.WaitToReadAsync(waitOver.Token).AsTask();
            var timer = Task.Delay(left, _time, waitOver.Token);
            // The clock may have passed the deadline between computing 'left' and arming the timer (a timer armed
            // late would then wait past MaxWait): look again now that it is armed.
            var winner = _time.GetElapsedTime(deadline) >= _options.MaxWait
                ? timer
                : await Task.WhenAny(more, timer).ConfigureAwait(false);
            await waitOver.CancelAsync().ConfigureAwait(false);
            stop.ThrowIfCancellationRequested();
            if (winner == more)
            {
                // Only DisposeAsync completes the queue: treat it as the stop it is, whichever signal came first.
                if (!await SafeResult(more).ConfigureAwait(false))
                {
                    throw new OperationCanceledException("The batcher is stopping.");
                }

                continue;
            }

            // The wait is over: anything that arrived meanwhile still joins.
            while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var late))
            {
                if (!late.IsCancelled)
                {
                    batch.Add(late);
                }
            }

            break;
        }

        // Claiming is the point of no return: a request cancelled before it is dropped and never runs.
        batch.RemoveAll(e => !e.TryClaim());
        return batch;
    }

    private static async Task<bool> SafeResult(Task<bool> wait)
    {
        try
        {
            return await wait.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    private async Task RunAsync(List<Entry> batch)
    {
        try
        {
            var items = new TItem[batch.Count];
            for (var i = 0; i < items.Length; i++)
            {
                items[i] = batch[i].Item;
            }

            IReadOnlyList<TResult> results;
            try
            {
                results = await RunOnceAsync(items).ConfigureAwait(false);
            }
            catch (Exception ex) when (batch.Count > 1 && !_stop.IsCancellationRequested && ex is not ObjectDisposedException)
            {
                await RunAloneAsync(batch).ConfigureAwait(false);
                return;
            }
            catch (Exception ex)
            {
                batch[0].TryFail(AsInferenceException(ex));
                return;
            }

            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].TrySucceed(results[i]);
            }
        }
        catch (Exception ex)
        {
            var failure = AsInferenceException(ex);
            foreach (var entry in batch)
            {
                entry.TryFail(failure);
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>A batch failed: run each of its requests alone so a bad one does not take the others down.</summary>
    private async Task RunAloneAsync(List<Entry> batch)
    {
        foreach (var entry in batch)
        {
            if (entry.Task.IsCompleted)
            {
                continue;
            }

            try
            {
                var result = await RunOnceAsync([entry.Item]).ConfigureAwait(false);
                entry.TrySucceed(result[0]);
            }
            catch (Exception ex)
            {
                entry.TryFail(AsInferenceException(ex));
            }
        }
    }

    private async Task<IReadOnlyList<TResult>> RunOnceAsync(TItem[] items)
    {
        IReadOnlyList<TResult> results;
        // Counted around the model run itself, so that it reads zero again before any result is handed out.
        Interlocked.Increment(ref _running);
        try
        {
            results = await _runBatch(items, _stop.Token).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }

        if (results is null || results.Count != items.Length)
        {
            throw new InferenceException(InferenceErrorCodes.InternalError,
                $"The model run returned {results?.Count ?? 0} results for a batch of {items.Length}.");
        }

        return results;
    }

    private InferenceException AsInferenceException(Exception ex) => ex switch
    {
        InferenceException known => known,
        OperationCanceledException when _stop.IsCancellationRequested =>
            new InferenceException(InferenceErrorCodes.EngineStopped, "The inference engine stopped during the run.", innerException: ex),
        _ => new InferenceException(InferenceErrorCodes.InternalError, $"The model run failed ({ex.GetType().Name}).", innerException: ex),
    };

    private sealed class Entry
    {
        private const int Queued = 0;
        private const int Claimed = 1;
        private const int Cancelled = 2;

        private readonly DynamicBatcher<TItem, TResult> _owner;
        private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private CancellationTokenRegistration _registration;
        private int _state;

        public Entry(DynamicBatcher<TItem, TResult> owner, TItem item, long enqueuedAt)
        {
            _owner = owner;
            Item = item;
            EnqueuedAt = enqueuedAt;
        }

        public TItem Item { get; }

        public long EnqueuedAt { get; }

        public Task<TResult> Task => _completion.Task;

        public bool IsCancelled => Volatile.Read(ref _state) == Cancelled;

        public void WatchCancellation(CancellationToken token)
        {
            if (token.CanBeCanceled)
            {
                _registration = token.Register(static (state, token) => ((Entry)state!).Cancel(token), this);
            }
        }

        /// <summary>Takes the request into a run; false when it was cancelled first.</summary>
        public bool TryClaim()
        {
            if (Interlocked.CompareExchange(ref _state, Claimed, Queued) != Queued)
            {
                return false;
            }

            Interlocked.Decrement(ref _owner._waiting);
            return true;
        }

        public void TrySucceed(TResult result)
        {
            _registration.Dispose();
            _completion.TrySetResult(result);
        }

        public void TryFail(Exception error)
        {
            _registration.Dispose();
            _completion.TrySetException(error);
        }

        private void Cancel(CancellationToken token)
        {
            if (Interlocked.CompareExchange(ref _state, Cancelled, Queued) == Queued)
            {
                // Still waiting: it leaves the queue (the dispatcher skips it) and never runs.
                Interlocked.Decrement(ref _owner._waiting);
            }

            // Once claimed it runs with its batch, but the caller is released now and the result dropped.
            _completion.TrySetCanceled(token);
        }
    }
}
