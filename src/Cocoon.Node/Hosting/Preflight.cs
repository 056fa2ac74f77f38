using System.Net;
using System.Net.Sockets;
using Cocoon.Node.Configuration;
using Cocoon.Node.Storage;
using Npgsql;

namespace Cocoon.Node.Hosting;

/// <summary>
/// Checks a node's surroundings before Orleans starts, so that a bad setting stops start-up with one message naming
/// it instead of a stack trace from deep inside the runtime: ports free, database reachable with these credentials,
/// schema current (or migrated).
/// </summary>
public static class Preflight
{
    private const string ConnectionSetting = "Cocoon:Storage:ConnectionString";

    /// <summary>Runs every check; throws <see cref="CocoonConfigurationException"/> on the first failure.</summary>
    public static async Task CheckAsync(NodeSettings settings, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        progress ??= _ => { };
        var bindAddress = settings.ListenOnAnyAddress ? IPAddress.Any : settings.AdvertisedAddress;
        CheckPort("Cocoon:Silo:SiloPort", bindAddress, settings.SiloPort);
        if (settings.GatewayPort > 0)
        {
            CheckPort("Cocoon:Silo:GatewayPort", bindAddress, settings.GatewayPort);
        }

        if (settings.GatewayUrl is { Port: > 0 } url)
        {
            var host = url.Host is "localhost" ? IPAddress.Loopback
                : IPAddress.TryParse(url.Host, out var parsed) ? parsed : IPAddress.Any;
            CheckPort("Cocoon:Gateway:Url", host, url.Port);
        }

        if (settings.Storage == StorageProvider.PostgreSql)
        {
            await CheckDatabaseAsync(settings.ConnectionString!, cancellationToken).ConfigureAwait(false);
            await EnsureSchemaAsync(settings, progress, cancellationToken).ConfigureAwait(false);
        }
    }

    private static void CheckPort(string setting, IPAddress address, int port)
    {
        try
        {
            using var listener = new TcpListener(address, port);
            listener.Start();
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new CocoonConfigurationException(setting, $"port {port} on {address} is already in use by another program; choose another port.");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            throw new CocoonConfigurationException(setting,
                $"{address} is not an address of this machine; set Cocoon:Silo:ListenOnAnyAddress=true behind NAT or in a container.");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AccessDenied)
        {
            throw new CocoonConfigurationException(setting, $"not allowed to listen on port {port} on {address} (ports below 1024 need privileges).");
        }
    }

    private static async Task CheckDatabaseAsync(string connectionString, CancellationToken cancellationToken)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException e)
        {
            throw new CocoonConfigurationException(ConnectionSetting, $"is not a valid Npgsql connection string: {e.Message}");
        }

        var where = $"{builder.Host ?? "localhost"}:{builder.Port}";
        var probe = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = Math.Min(builder.Timeout, 10) };
        try
        {
            await using var connection = new NpgsqlConnection(probe.ConnectionString);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification)
        {
            throw new CocoonConfigurationException(ConnectionSetting,
                $"PostgreSQL at {where} refused user '{builder.Username}': wrong password, or no such role ({e.MessageText}).");
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InvalidCatalogName)
        {
            throw new CocoonConfigurationException(ConnectionSetting,
                $"database '{builder.Database}' does not exist on {where}; create it (CREATE DATABASE \"{builder.Database}\") and start again.");
        }
        catch (PostgresException e)
        {
            throw new CocoonConfigurationException(ConnectionSetting, $"PostgreSQL at {where} refused the connection: {e.MessageText} (SQLSTATE {e.SqlState}).");
        }
        catch (Exception e) when (e is NpgsqlException or SocketException or TimeoutException)
        {
            var reason = (e.InnerException as SocketException)?.Message ?? e.InnerException?.Message ?? e.Message;
            throw new CocoonConfigurationException(ConnectionSetting, $"cannot reach PostgreSQL at {where}: {reason}.");
        }
    }

    private static async Task EnsureSchemaAsync(NodeSettings settings, Action<string> progress, CancellationToken cancellationToken)
    {
        try
        {
            if (settings.MigrateOnStart)
            {
                var result = await SchemaMigrator.MigrateAsync(settings.ConnectionString!, cancellationToken).ConfigureAwait(false);
                if (result.Applied.Count > 0)
                {
                    progress($"applied {result.Applied.Count} schema migration(s); schema version {result.CurrentVersion}");
                }

                return;
            }

            var version = await SchemaMigrator.GetVersionAsync(settings.ConnectionString!, cancellationToken).ConfigureAwait(false);
            if (version < SchemaMigrator.LatestVersion)
            {
                throw new CocoonConfigurationException("Cocoon:Storage:MigrateOnStart",
                    $"the database schema is at version {version} and this build needs {SchemaMigrator.LatestVersion}: " +
                    "run `cocoon-node migrate` (or set Cocoon:Storage:MigrateOnStart=true).");
            }
        }
        catch (SchemaMigrationException e)
        {
            throw new CocoonConfigurationException(ConnectionSetting, $"schema: {e.Message}", e);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new CocoonConfigurationException(ConnectionSetting,
                $"user may not change the schema ({e.MessageText}); migrate with an owner account first (`cocoon-node migrate`).", e);
        }
    }
}
