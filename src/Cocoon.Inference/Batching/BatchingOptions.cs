namespace Cocoon.Inference.Batching;

/// <summary>Bounds of the <see cref="DynamicBatcher{TItem, TResult}"/>.</summary>
public sealed record BatchingOptions
{
    /// <summary>The most requests run together in one model run.</summary>
    public int MaxBatchSize { get; init; } = 32;

    /// <summary>
    /// How long the oldest waiting request may be held back for others to join its batch. A batch closes as soon as it
    /// is full or this has passed; while every run slot is busy, requests simply queue and the next batch takes them.
    /// </summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>The most model runs in flight at once (the worker's capacity); a run never starts beyond it.</summary>
    public int Capacity { get; init; } = 1;

    /// <summary>The most requests that may wait; one more is refused with <see cref="InferenceErrorCodes.Overloaded"/>.</summary>
    public int MaxQueueLength { get; init; } = 65_536;

    internal void Validate()
    {
        if (MaxBatchSize < 1 || Capacity < 1 || MaxQueueLength < 1 || MaxWait < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchingOptions), "MaxBatchSize, Capacity and MaxQueueLength must be positive and MaxWait not negative.");
        }
    }
}
