using Cocoon.Abstractions;
using Microsoft.Extensions.Logging;

namespace Cocoon.Grains.Storage;

/// <summary>
/// Turns a failure of the cluster's database inside a grain call (PostgreSQL restarting, refusing connections, a write
/// cut off) into the error its caller can act on: 503 <c>storage_unavailable</c> with Retry-After. Without it, the
/// driver's exception crosses silos as whatever Orleans can make of it (the cluster harness saw
/// <c>CodecNotFoundException</c>) and the client gets a 500. The grain itself stays correct: an escrow account whose
/// write failed drops its activation, so nothing unwritten is kept.
/// </summary>
public sealed partial class StorageFailureFilter(ILogger<StorageFailureFilter> logger) : IIncomingGrainCallFilter
{
    /// <summary>The error code callers see (<see cref="StorageFailures.Code"/>).</summary>
    public const string Code = StorageFailures.Code;

    /// <inheritdoc />
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            await context.Invoke();
        }
        catch (Exception e) when (IsStorageFailure(e))
        {
            LogStorageFailure(context.InterfaceName, context.MethodName, e.GetType().Name);
            throw Unavailable();
        }
    }

    /// <summary>The refusal a storage failure becomes (<see cref="StorageFailures.Unavailable"/>).</summary>
    public static CocoonApiException Unavailable() => StorageFailures.Unavailable();

    /// <summary>Whether <paramref name="e"/> comes from the database driver (<see cref="StorageFailures.IsStorageFailure"/>).</summary>
    public static bool IsStorageFailure(Exception e) => StorageFailures.IsStorageFailure(e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Interface}.{Method} failed on storage ({Error}); answered 503 storage_unavailable")]
    private partial void LogStorageFailure(string @interface, string method, string error);
}
