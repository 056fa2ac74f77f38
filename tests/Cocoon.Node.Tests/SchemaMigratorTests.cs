using Cocoon.Node.Storage;
using Cocoon.Testing;
using Npgsql;

namespace Cocoon.Node.Tests;

public sealed class SchemaMigratorTests(PostgresFixture postgres)
{
    // The query keys Orleans 10.4.2 requires at start-up (reference/orleans.md, "AdoNet query keys").
    private static readonly string[] RequiredKeys =
    [
        "WriteToStorageKey", "ReadFromStorageKey", "ClearStorageKey", "DeleteStorageKey",
        "GatewaysQueryKey", "MembershipReadRowKey", "MembershipReadAllKey", "InsertMembershipVersionKey",
        "UpdateIAmAlivetimeKey", "InsertMembershipKey", "UpdateMembershipKey", "DeleteMembershipTableEntriesKey",
        "CleanupDefunctSiloEntriesKey",
        "ReadReminderRowsKey", "ReadRangeRows1Key", "ReadRangeRows2Key", "ReadReminderRowKey", "UpsertReminderRowKey",
        "DeleteReminderRowKey", "DeleteReminderRowsKey",
    ];

    [Fact]
    public async Task Migrate_applies_every_file_once_and_then_nothing()
    {
        var db = await postgres.CreateEmptyDatabaseAsync("migrate");

        var first = await SchemaMigrator.MigrateAsync(db, TestContext.Current.CancellationToken);
        var second = await SchemaMigrator.MigrateAsync(db, TestContext.Current.CancellationToken);

        Assert.Equal(SchemaMigrator.Embedded.Select(m => m.Version), first.Applied.Select(m => m.Version));
        Assert.Empty(second.Applied);
        Assert.Equal(SchemaMigrator.LatestVersion, second.CurrentVersion);
        Assert.Equal(SchemaMigrator.LatestVersion, await SchemaMigrator.GetVersionAsync(db, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Every_query_key_the_providers_need_is_registered()
    {
        var db = await postgres.CreateDatabaseAsync("keys");
        await using var connection = new NpgsqlConnection(db);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand("SELECT QueryKey FROM OrleansQuery", connection);
        var keys = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken))
        {
            while (await reader.ReadAsync(TestContext.Current.CancellationToken))
            {
                keys.Add(reader.GetString(0));
            }
        }

        Assert.Empty(RequiredKeys.Except(keys));
    }

    [Fact]
    public async Task Concurrent_migrators_apply_each_file_exactly_once()
    {
        var db = await postgres.CreateEmptyDatabaseAsync("race");

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => SchemaMigrator.MigrateAsync(db)));

        Assert.Equal(SchemaMigrator.Embedded.Count, results.Sum(r => r.Applied.Count));
        Assert.Equal(SchemaMigrator.Embedded.Count, await PostgresFixture.ScalarAsync<int>(db, "SELECT count(*) FROM cocoon_schema_migrations"));
    }

    [Fact]
    public async Task A_migration_edited_after_it_was_applied_is_refused()
    {
        var db = await postgres.CreateDatabaseAsync("tamper");
        await PostgresFixture.ScalarAsync<int>(db, "UPDATE cocoon_schema_migrations SET sha256 = 'edited' WHERE version = 2 RETURNING version");

        var e = await Assert.ThrowsAsync<SchemaMigrationException>(() => SchemaMigrator.MigrateAsync(db, TestContext.Current.CancellationToken));

        Assert.Contains("0002_orleans_clustering.sql was changed after it was applied", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_database_migrated_by_a_newer_build_is_refused()
    {
        var db = await postgres.CreateDatabaseAsync("newer");
        await PostgresFixture.ScalarAsync<int>(db, "INSERT INTO cocoon_schema_migrations (version, name, sha256) VALUES (999, '0999_future.sql', 'x') RETURNING version");

        var e = await Assert.ThrowsAsync<SchemaMigrationException>(() => SchemaMigrator.MigrateAsync(db, TestContext.Current.CancellationToken));

        Assert.Contains("newer Cocoon", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Grain_state_writes_are_optimistic_by_version()
    {
        // The contract AdoNetGrainStorage relies on: the returned version equal to the caller's ETag (or empty) is a
        // conflict. Exercised here on the stored query itself, with the parameters the provider sends.
        var db = await postgres.CreateDatabaseAsync("etag");
        var write = await PostgresFixture.ScalarAsync<string>(db, "SELECT QueryText FROM OrleansQuery WHERE QueryKey = 'WriteToStorageKey'");

        async Task<int?> WriteAsync(int? etag, byte[] payload)
        {
            await using var connection = new NpgsqlConnection(db);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(write, connection);
            command.Parameters.AddWithValue("GrainIdHash", 7);
            command.Parameters.AddWithValue("GrainIdN0", 1L);
            command.Parameters.AddWithValue("GrainIdN1", 2L);
            command.Parameters.AddWithValue("GrainTypeHash", 9);
            command.Parameters.AddWithValue("GrainTypeString", "test.grain");
            command.Parameters.AddWithValue("GrainIdExtensionString", DBNull.Value);
            command.Parameters.AddWithValue("ServiceId", "svc");
            command.Parameters.Add(new NpgsqlParameter("GrainStateVersion", NpgsqlTypes.NpgsqlDbType.Integer) { Value = etag is null ? DBNull.Value : etag.Value });
            command.Parameters.AddWithValue("PayloadBinary", payload);
            var result = await command.ExecuteScalarAsync();
            return result is DBNull or null ? null : (int)result;
        }

        Assert.Equal(1, await WriteAsync(null, [1]));      // first write creates version 1
        Assert.Null(await WriteAsync(null, [2]));          // a second "first write" loses: conflict
        Assert.Equal(2, await WriteAsync(1, [3]));         // write with the current version moves it on
        Assert.Equal(1, await WriteAsync(1, [4]));         // a stale version comes back unchanged: conflict
        Assert.Equal(3, await PostgresFixture.ScalarAsync<int>(db, "SELECT get_byte(payload, 0) FROM orleans_storage"));
    }
}
