using Cocoon.Grains.Storage;
using Npgsql;

namespace Cocoon.Grains.Tests;

/// <summary>Which exceptions become 503 storage_unavailable at the grain boundary (found by the harness's PostgreSQL restart).</summary>
public sealed class StorageFailureFilterTests
{
    [Fact]
    public void A_database_driver_failure_anywhere_in_the_chain_is_a_storage_failure_and_nothing_else_is()
    {
        Assert.True(StorageFailureFilter.IsStorageFailure(new NpgsqlException("connection refused")));
        Assert.True(StorageFailureFilter.IsStorageFailure(new InvalidOperationException("write failed", new NpgsqlException("terminating connection"))));
        Assert.False(StorageFailureFilter.IsStorageFailure(new InvalidOperationException("a bug")));
        Assert.False(StorageFailureFilter.IsStorageFailure(new TimeoutException()));

        var refusal = StorageFailureFilter.Unavailable();
        Assert.Equal(503, refusal.Status);
        Assert.Equal(StorageFailureFilter.Code, refusal.Code);
        Assert.Equal(2, refusal.RetryAfterSeconds);
    }
}
