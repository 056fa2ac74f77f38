using System.Data.Common;

namespace Cocoon.Abstractions;

/// <summary>
/// What a failure of the cluster's database (PostgreSQL restarting, refusing connections, a write cut off) becomes for a
/// caller: 503 <c>storage_unavailable</c> with Retry-After. One definition for the grain boundary
/// (<c>StorageFailureFilter</c>) and the HTTP gateway, which sees the failures that happen outside a grain call (a grain
/// whose state could not be read at activation).
/// </summary>
public static class StorageFailures
{
    /// <summary>The error code callers see; the inference service retries a settle that failed with it.</summary>
    public const string Code = "storage_unavailable";

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

    /// <summary>The refusal a storage failure becomes.</summary>
    public static CocoonApiException Unavailable() =>
        new(503, Code, "The Cocoon cluster's storage is unavailable; retry shortly.", type: "server_error") { RetryAfterSeconds = 2 };
}
