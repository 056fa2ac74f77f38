using System.Collections.Concurrent;
using Cocoon.Abstractions.Workers;
using Cocoon.Grains.Inference.Routing;
using Cocoon.Inference.Embeddings;
using Cocoon.Inference.Generation;

namespace Cocoon.Grains.Inference;

/// <summary>A worker running in this silo: its engine and what it registered.</summary>
/// <param name="WorkerId">The worker id (its lease grain's key).</param>
/// <param name="Registration">What it registered.</param>
/// <param name="Embeddings">Its embedding engine, for an embedding model.</param>
/// <param name="Generation">Its text generation engine, for a text generation model.</param>
public sealed record LocalWorker(string WorkerId, WorkerRegistration Registration, IEmbeddingEngine? Embeddings, ITextGenerationEngine? Generation = null);

/// <summary>The workers whose engines live in this silo (filled by the node's worker agent).</summary>
public sealed class LocalWorkers
{
    private readonly ConcurrentDictionary<string, LocalWorker> _workers = new(StringComparer.Ordinal);

    /// <summary>Adds a worker.</summary>
    public void Add(LocalWorker worker)
    {
        if (!_workers.TryAdd(worker.WorkerId, worker))
        {
            throw new InvalidOperationException($"Worker {worker.WorkerId} is already running in this silo.");
        }
    }

    /// <summary>Finds a worker of this silo.</summary>
    public bool TryGet(string workerId, out LocalWorker worker) => _workers.TryGetValue(workerId, out worker!);

    /// <summary>Every worker of this silo.</summary>
    public IReadOnlyCollection<LocalWorker> All => [.. _workers.Values];
}

/// <summary>
/// Requests this silo has in flight per worker and what it has seen of each worker's speed and failures
/// (<see cref="WorkerHealth"/>): the signals routing weighs (DESIGN section 4). Per silo, like the routing cache: no
/// activation is on the hot path.
/// </summary>
public sealed class RouteLoad
{
    private readonly ConcurrentDictionary<string, int> _running = new(StringComparer.Ordinal);

    /// <summary>Recent latency and failures per worker, as this silo saw them.</summary>
    public WorkerHealth Health { get; } = new();

    /// <summary>Notes that a request to <paramref name="workerId"/> failed on the worker's side.</summary>
    public void RecordFailure(string workerId) => Health.RecordFailure(workerId);

    /// <summary>Requests running on <paramref name="workerId"/> from this silo.</summary>
    public int Running(string workerId) => _running.GetValueOrDefault(workerId);

    /// <summary>Counts a request from start to dispose.</summary>
    public IDisposable Start(string workerId)
    {
        _running.AddOrUpdate(workerId, 1, (_, n) => n + 1);
        return new Finish(this, workerId);
    }

    private sealed class Finish(RouteLoad load, string workerId) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                load._running.AddOrUpdate(workerId, 0, (_, n) => Math.Max(0, n - 1));
            }
        }
    }
}
