using Cocoon.Node.Storage;
using Npgsql;
using Xunit;

namespace Cocoon.Testing;

/// <summary>
/// A throwaway PostgreSQL server for a test assembly, started from the machine's binaries in a temporary folder on
/// a free loopback port and removed afterwards. Register it once per assembly with
/// <c>[assembly: AssemblyFixture(typeof(PostgresFixture))]</c>; each test class asks for its own migrated database,
/// so tests never see each other's rows. Works as root (the server runs as the <c>postgres</c> user) and as an
/// ordinary user.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "cocoon-test-pg-" + Guid.NewGuid().ToString("N")[..12]);
    private PostgresServer? _server;
    private int _databases;

    /// <summary>The running server.</summary>
    public PostgresServer Server => _server ?? throw new InvalidOperationException("The PostgreSQL fixture has not started.");

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        if (!OperatingSystem.IsWindows())
        {
            // The postgres user must be able to enter the folder when the tests run as root.
            File.SetUnixFileMode(_root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherExecute | UnixFileMode.GroupExecute);
        }

        _server = await PostgresServer.StartAsync(new PostgresServerOptions
        {
            DataDirectory = Path.Combine(_root, "pg"),
            Durable = false,
        });
    }

    /// <summary>Creates an empty database (no schema) and returns its connection string.</summary>
    public async Task<string> CreateEmptyDatabaseAsync(string purpose = "test")
    {
        var name = $"{new string(purpose.ToLowerInvariant().Where(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)).Take(30).ToArray())}_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid().ToString("N")[..8]}";
        await Server.EnsureDatabaseAsync(name);
        return Server.ConnectionString(name);
    }

    /// <summary>Creates a database with the project's schema applied (the same migration step deployments use).</summary>
    public async Task<string> CreateDatabaseAsync(string purpose = "test")
    {
        var connectionString = await CreateEmptyDatabaseAsync(purpose);
        await SchemaMigrator.MigrateAsync(connectionString);
        return connectionString;
    }

    /// <summary>Runs a scalar query (for assertions on what reached the database).</summary>
    public static async Task<T?> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? default : (T)Convert.ChangeType(value, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.StopAsync();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
            File.Delete(_root + ".password");
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
