using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Cocoon.Node.Storage;

/// <summary>One numbered schema file from infra/sql.</summary>
/// <param name="Version">The number the file name starts with.</param>
/// <param name="Name">The file name.</param>
/// <param name="Sql">The file's text.</param>
public sealed record SchemaMigration(int Version, string Name, string Sql)
{
    /// <summary>Lower-case hex SHA-256 of the file's UTF-8 bytes, recorded when it is applied.</summary>
    public string Sha256 { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Sql)));
}

/// <summary>What <see cref="SchemaMigrator.MigrateAsync"/> did.</summary>
/// <param name="Applied">Migrations applied by this call, in order.</param>
/// <param name="CurrentVersion">The schema version afterwards.</param>
public sealed record MigrationResult(IReadOnlyList<SchemaMigration> Applied, int CurrentVersion);

/// <summary>
/// Applies the schema in infra/sql to a PostgreSQL database: the one migration step shared by the devnet, the test
/// fixtures and deployments. Idempotent: applied files are recorded with their SHA-256 and skipped; a file changed
/// after it was applied is refused. Each file runs in its own transaction under an advisory lock, so silos that
/// start together apply it exactly once.
/// </summary>
public static class SchemaMigrator
{
    // An arbitrary constant shared by every Cocoon process: the advisory lock that serialises migrations.
    private const long AdvisoryLockKey = 0x436F636F6F6E5351; // "CocoonSQ"
    private const string ResourcePrefix = "Cocoon.Sql.";

    /// <summary>The migrations embedded in this build, ordered by version.</summary>
    public static IReadOnlyList<SchemaMigration> Embedded { get; } = LoadEmbedded();

    /// <summary>The schema version this build expects.</summary>
    public static int LatestVersion => Embedded[^1].Version;

    /// <summary>Applies every embedded migration the database does not have yet.</summary>
    public static async Task<MigrationResult> MigrateAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);

        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection))
        {
            lockCommand.Parameters.AddWithValue("key", AdvisoryLockKey);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await using (var create = new NpgsqlCommand(
                """
                CREATE TABLE IF NOT EXISTS cocoon_schema_migrations (
                    version    integer     NOT NULL PRIMARY KEY,
                    name       text        NOT NULL,
                    sha256     text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, connection))
            {
                await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            var applied = await ReadAppliedAsync(connection, cancellationToken).ConfigureAwait(false);
            CheckApplied(applied);

            var done = new List<SchemaMigration>();
            foreach (var migration in Embedded)
            {
                if (applied.ContainsKey(migration.Version))
                {
                    continue;
                }

                await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    await using (var apply = new NpgsqlCommand(migration.Sql, connection, transaction))
                    {
                        await apply.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }

                    await using (var record = new NpgsqlCommand(
                        "INSERT INTO cocoon_schema_migrations (version, name, sha256) VALUES (@v, @n, @h)", connection, transaction))
                    {
                        record.Parameters.AddWithValue("v", migration.Version);
                        record.Parameters.AddWithValue("n", migration.Name);
                        record.Parameters.AddWithValue("h", migration.Sha256);
                        await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }

                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (PostgresException e)
                {
                    throw new SchemaMigrationException(
                        $"migration {migration.Name} failed and was rolled back: {e.MessageText} (SQLSTATE {e.SqlState})", e);
                }

                done.Add(migration);
            }

            return new MigrationResult(done, LatestVersion);
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
            unlock.Parameters.AddWithValue("key", AdvisoryLockKey);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Returns the highest applied version (0 for an empty database) after checking the applied files are unchanged.</summary>
    public static async Task<int> GetVersionAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var exists = new NpgsqlCommand("SELECT to_regclass('cocoon_schema_migrations') IS NOT NULL", connection);
        if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
        {
            return 0;
        }

        var applied = await ReadAppliedAsync(connection, cancellationToken).ConfigureAwait(false);
        CheckApplied(applied);
        return applied.Count == 0 ? 0 : applied.Keys.Max();
    }

    private static async Task<Dictionary<int, (string Name, string Sha256)>> ReadAppliedAsync(
        NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var applied = new Dictionary<int, (string, string)>();
        await using var read = new NpgsqlCommand("SELECT version, name, sha256 FROM cocoon_schema_migrations", connection);
        await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            applied[reader.GetInt32(0)] = (reader.GetString(1), reader.GetString(2));
        }

        return applied;
    }

    private static void CheckApplied(Dictionary<int, (string Name, string Sha256)> applied)
    {
        foreach (var (version, (name, sha256)) in applied)
        {
            var known = Embedded.FirstOrDefault(m => m.Version == version);
            if (known is null)
            {
                throw new SchemaMigrationException(
                    $"the database has migration {name} (version {version}), which this build does not know: " +
                    "it was migrated by a newer Cocoon. Run that version, or restore a backup.");
            }

            if (!string.Equals(known.Sha256, sha256, StringComparison.Ordinal))
            {
                throw new SchemaMigrationException(
                    $"migration {known.Name} was changed after it was applied (recorded SHA-256 {sha256}, " +
                    $"this build has {known.Sha256}). Applied migrations are never edited: add a new one.");
            }
        }
    }

    private static List<SchemaMigration> LoadEmbedded()
    {
        var assembly = typeof(SchemaMigrator).Assembly;
        var migrations = new List<SchemaMigration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            var name = resource[ResourcePrefix.Length..];
            var digits = name.Split('_', 2)[0];
            if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                throw new InvalidOperationException($"Schema file {name} does not start with its version number.");
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var text = new StreamReader(stream, Encoding.UTF8);
            migrations.Add(new SchemaMigration(version, name, text.ReadToEnd()));
        }

        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 0; i < migrations.Count; i++)
        {
            if (migrations[i].Version != i + 1)
            {
                throw new InvalidOperationException($"Schema files must be numbered 1, 2, 3, ... without gaps; found {migrations[i].Name}.");
            }
        }

        if (migrations.Count == 0)
        {
            throw new InvalidOperationException($"No schema files are embedded in {assembly.GetName().Name}.");
        }

        return migrations;
    }
}

/// <summary>The schema could not be brought to the version this build needs.</summary>
public sealed class SchemaMigrationException(string message, Exception? inner = null) : Exception(message, inner);
