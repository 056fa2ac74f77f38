using System.Data.Common;
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
    /// <summary>The error code callers see; the inference service retries a settle that failed with it.</summary>
    public const string Code = "storage_unavailable";

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

    /// <summary>The refusal a storage failure becomes.</summary>
    public static CocoonApiException Unavailable() =>
        new(503, Code, "The Cocoon cluster's storage is unavailable; retry shortly.", type: "server_error") { RetryAfterSeconds = 2 };

    /// <summary>Whether <paramref name="e"/> or an exception inside it comes from the database driver.</summary>
    public static bool IsStorageFailure(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is DbException)
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Interface}.{Method} failed on storage ({Error}); answered 503 storage_unavailable")]
    private partial void LogStorageFailure(string @interface, string method, string error);
}
