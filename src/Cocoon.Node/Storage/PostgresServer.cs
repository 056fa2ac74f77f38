using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Npgsql;

namespace Cocoon.Node.Storage;

/// <summary>How to run a private PostgreSQL server.</summary>
public sealed record PostgresServerOptions
{
    /// <summary>The cluster's data folder (created by initdb on first start, reused afterwards).</summary>
    public required string DataDirectory { get; init; }

    /// <summary>The server programs; defaults to <see cref="PostgresBinaries.Find"/>.</summary>
    public PostgresBinaries? Binaries { get; init; }

    /// <summary>Port to use if it is free; otherwise a free loopback port is picked.</summary>
    public int? PreferredPort { get; init; }

    /// <summary>
    /// Durable (fsync on) for data that must survive a crash, like the devnet's; throwaway test servers turn it off
    /// for speed.
    /// </summary>
    public bool Durable { get; init; } = true;
}

/// <summary>
/// A private PostgreSQL server on a loopback port, run from the machine's own binaries: initdb into a folder, start,
/// detect and reuse (or restart) a server left running by a killed process, stop. Used by <c>cocoon devnet</c> and
/// the test fixtures. PostgreSQL refuses to run as root, so a root caller runs it as the <c>postgres</c> user.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    /// <summary>The superuser initdb creates.</summary>
    public const string SuperUser = "cocoon";

    private const string ServiceUser = "postgres";
    private readonly PostgresBinaries _binaries;
    private readonly Action<string> _progress;
    private bool _stopped;

    private PostgresServer(PostgresBinaries binaries, string dataDirectory, int port, string password, bool adopted, Action<string> progress)
    {
        _binaries = binaries;
        DataDirectory = dataDirectory;
        Port = port;
        Password = password;
        Adopted = adopted;
        _progress = progress;
    }

    /// <summary>The data folder.</summary>
    public string DataDirectory { get; }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; }

    /// <summary>The superuser's password (kept in <c>DATADIR.password</c>, readable only by its owner).</summary>
    public string Password { get; }

    /// <summary>True when a server left running by an earlier process was found healthy and reused.</summary>
    public bool Adopted { get; }

    /// <summary>The server's major version.</summary>
    public int MajorVersion => _binaries.MajorVersion;

    /// <summary>The server's log file.</summary>
    public string LogFile => Path.Combine(DataDirectory, "server.log");

    /// <summary>Npgsql connection string for <paramref name="database"/> on this server.</summary>
    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Database = database,
        Username = SuperUser,
        Password = Password,
        Timezone = "UTC",
        // Orleans opens many short-lived commands; a modest pool keeps several silos per server within max_connections.
        MaxPoolSize = 40,
    }.ConnectionString;

    /// <summary>Starts (or reuses) the server in <see cref="PostgresServerOptions.DataDirectory"/>.</summary>
    /// <exception cref="PostgresServerException">The server cannot be set up or started; the message says why.</exception>
    public static async Task<PostgresServer> StartAsync(PostgresServerOptions options, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        progress ??= _ => { };
        var binaries = options.Binaries ?? PostgresBinaries.Find()
            ?? throw new PostgresServerException("no PostgreSQL server binaries found (looked at $COCOON_PG_BIN, pg_config --bindir, /usr/lib/postgresql/*/bin).");
        var dataDirectory = Path.GetFullPath(options.DataDirectory);
        var passwordFile = dataDirectory.TrimEnd(Path.DirectorySeparatorChar) + ".password";

        if (Environment.IsPrivilegedProcess && !await UserExistsAsync(ServiceUser).ConfigureAwait(false))
        {
            throw new PostgresServerException(
                $"PostgreSQL refuses to run as root and this machine has no '{ServiceUser}' user to run it as: create one, or run as an ordinary user.");
        }

        var initialized = File.Exists(Path.Combine(dataDirectory, "PG_VERSION"));
        if (!initialized)
        {
            await InitializeAsync(binaries, dataDirectory, passwordFile, options.Durable, progress, cancellationToken).ConfigureAwait(false);
        }
        else if (!File.Exists(passwordFile))
        {
            throw new PostgresServerException($"{dataDirectory} holds a PostgreSQL cluster but its password file {passwordFile} is missing.");
        }

        var password = (await File.ReadAllTextAsync(passwordFile, cancellationToken).ConfigureAwait(false)).Trim();

        // A server left behind by a process that was killed: reuse it if it answers, otherwise stop it.
        if (ReadPidFile(dataDirectory) is { } leftover && IsPostgresProcess(leftover.Pid))
        {
            var adopted = new PostgresServer(binaries, dataDirectory, leftover.Port, password, adopted: true, progress);
            if (await adopted.CanConnectAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false))
            {
                progress($"reusing the PostgreSQL server left running on port {leftover.Port} (pid {leftover.Pid})");
                return adopted;
            }

            progress($"a PostgreSQL server (pid {leftover.Pid}) holds {dataDirectory} but does not answer; restarting it");
            await RunAsync(binaries.Program("pg_ctl"), ["stop", "-D", dataDirectory, "-m", "immediate", "-w", "-t", "60"], cancellationToken).ConfigureAwait(false);
        }

        PostgresServerException? last = null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var port = attempt == 0 && options.PreferredPort is { } preferred && IsPortFree(preferred) ? preferred : FreeLoopbackPort();
            var (exitCode, output) = await RunAsync(binaries.Program("pg_ctl"),
                ["start", "-D", dataDirectory, "-w", "-t", "120", "-s", "-l", Path.Combine(dataDirectory, "server.log"), "-o", $"-p {port}"],
                cancellationToken).ConfigureAwait(false);
            if (exitCode == 0)
            {
                var server = new PostgresServer(binaries, dataDirectory, port, password, adopted: false, progress);
                if (await server.CanConnectAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false))
                {
                    return server;
                }

                last = new PostgresServerExceptionWithLog("the server started but refuses connections", server.LogFile);
                await server.StopAsync().ConfigureAwait(false);
                continue;
            }

            last = new PostgresServerExceptionWithLog($"pg_ctl start failed (exit {exitCode}): {output.Trim()}", Path.Combine(dataDirectory, "server.log"));
        }

        throw last!;
    }

    /// <summary>Creates <paramref name="database"/> if it does not exist.</summary>
    public async Task EnsureDatabaseAsync(string database, CancellationToken cancellationToken = default)
    {
        if (database.Length == 0 || database.Length > 63 || !database.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'))
        {
            throw new ArgumentException("Database names are 1-63 characters of a-z, 0-9 and _.", nameof(database));
        }

        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @n", connection);
        exists.Parameters.AddWithValue("n", database);
        if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Stops the server (fast shutdown: open transactions roll back, nothing committed is lost).</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        NpgsqlConnection.ClearAllPools();
        var (exitCode, output) = await RunAsync(_binaries.Program("pg_ctl"), ["stop", "-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "-s"], CancellationToken.None).ConfigureAwait(false);
        if (exitCode != 0 && ReadPidFile(DataDirectory) is not null)
        {
            _progress($"pg_ctl stop failed (exit {exitCode}): {output.Trim()}");
        }
    }

    /// <summary>Stops the server abruptly, as a crash would (for tests of recovery).</summary>
    public async Task KillAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await RunAsync(_binaries.Program("pg_ctl"), ["stop", "-D", DataDirectory, "-m", "immediate", "-w", "-t", "60", "-s"], CancellationToken.None).ConfigureAwait(false);
        _stopped = true;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private async Task<bool> CanConnectAsync(TimeSpan within, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false;Timeout=5");
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or SocketException)
            {
                if (e is PostgresException { SqlState: "28P01" or "28000" })
                {
                    throw new PostgresServerException(
                        $"the PostgreSQL server on port {Port} rejects the password in {DataDirectory}.password: it is not the server this folder started.", e);
                }

                if (DateTime.UtcNow > deadline)
                {
                    return false;
                }

                await Task.Delay(250, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task InitializeAsync(PostgresBinaries binaries, string dataDirectory, string passwordFile, bool durable, Action<string> progress, CancellationToken cancellationToken)
    {
        if (Directory.Exists(dataDirectory) && Directory.EnumerateFileSystemEntries(dataDirectory).Any())
        {
            throw new PostgresServerException($"{dataDirectory} is not empty and is not a PostgreSQL data folder; move it away or choose another folder.");
        }

        progress($"initializing a PostgreSQL {binaries.MajorVersion} cluster in {dataDirectory}");
        Directory.CreateDirectory(dataDirectory);
        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        await File.WriteAllTextAsync(passwordFile, password, cancellationToken).ConfigureAwait(false);
        RestrictToOwner(passwordFile);

        // initdb reads the password from a file; root gives that file (and the data folder) to the service user.
        var initPasswordFile = Path.Combine(Path.GetTempPath(), $"cocoon-pg-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(initPasswordFile, password, cancellationToken).ConfigureAwait(false);
        RestrictToOwner(initPasswordFile);
        try
        {
            if (Environment.IsPrivilegedProcess && !OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(dataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                await ChownAsync(dataDirectory, cancellationToken).ConfigureAwait(false);
                await ChownAsync(initPasswordFile, cancellationToken).ConfigureAwait(false);
                GrantTraversal(dataDirectory, progress);
            }

            List<string> args = ["-D", dataDirectory, "-U", SuperUser, "--auth=scram-sha-256", $"--pwfile={initPasswordFile}", "-E", "UTF8", "--no-locale"];
            if (!durable)
            {
                args.Add("--no-sync");
            }

            var (exitCode, output) = await RunAsync(binaries.Program("initdb"), args, cancellationToken).ConfigureAwait(false);
            if (exitCode != 0)
            {
                throw new PostgresServerException($"initdb failed (exit {exitCode}): {LastLines(output, 5)}");
            }
        }
        finally
        {
            File.Delete(initPasswordFile);
        }

        // Loopback TCP only: no Unix socket (whose path length and folder rights vary), nothing on other interfaces.
        var settings = new List<string>
        {
            "",
            "# Cocoon: a private server on loopback.",
            "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = ''",
            "max_connections = 300",
            "logging_collector = off",
        };
        if (!durable)
        {
            settings.AddRange(["fsync = off", "synchronous_commit = off", "full_page_writes = off"]);
        }

        var conf = Path.Combine(dataDirectory, "postgresql.conf");
        // Appending keeps the file's owner, which is the service user when the caller is root.
        await File.AppendAllTextAsync(conf, string.Join('\n', settings) + "\n", cancellationToken).ConfigureAwait(false);
    }

    private static void RestrictToOwner(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    // The service user must be able to reach the data folder; a home folder like /root (mode 700) stops it.
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static void GrantTraversal(string dataDirectory, Action<string> progress)
    {
        var parent = Directory.GetParent(dataDirectory);
        var blocked = new List<DirectoryInfo>();
        for (var dir = parent; dir is not null; dir = dir.Parent)
        {
            if (!dir.UnixFileMode.HasFlag(UnixFileMode.OtherExecute))
            {
                blocked.Add(dir);
            }
        }

        foreach (var dir in blocked)
        {
            dir.UnixFileMode |= UnixFileMode.OtherExecute;
            progress($"warning: granted search permission (o+x, not read) on {dir.FullName} so the '{ServiceUser}' user " +
                     "can reach the data folder; choose a --data-dir outside a private home folder to avoid this");
        }
    }

    private static async Task ChownAsync(string path, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await RunAsync("chown", [$"{ServiceUser}:", path], cancellationToken, asServiceUser: false).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw new PostgresServerException($"chown {ServiceUser} {path} failed: {output.Trim()}");
        }
    }

    private static async Task<bool> UserExistsAsync(string user)
    {
        var (exitCode, _) = await RunAsync("id", ["-u", user], CancellationToken.None, asServiceUser: false).ConfigureAwait(false);
        return exitCode == 0;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken, bool asServiceUser = true)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // The service user may not be able to enter the caller's folder.
            WorkingDirectory = Path.GetTempPath(),
        };
        if (asServiceUser && Environment.IsPrivilegedProcess)
        {
            start.FileName = "runuser";
            foreach (var a in (string[])["-u", ServiceUser, "--", program])
            {
                start.ArgumentList.Add(a);
            }
        }
        else
        {
            start.FileName = program;
        }

        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new PostgresServerException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return (process.ExitCode, (await stdout.ConfigureAwait(false)) + (await stderr.ConfigureAwait(false)));
    }

    private static (int Pid, int Port)? ReadPidFile(string dataDirectory)
    {
        // postmaster.pid: line 1 the PID, line 4 the port (PostgreSQL's miscadmin.h LOCK_FILE_LINE_*).
        var path = Path.Combine(dataDirectory, "postmaster.pid");
        try
        {
            var lines = File.ReadAllLines(path);
            if (lines.Length >= 4
                && int.TryParse(lines[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && int.TryParse(lines[3], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            {
                return (pid, port);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    private static bool IsPostgresProcess(int pid)
    {
        try
        {
            var comm = File.ReadAllText($"/proc/{pid}/comm").Trim();
            return comm.StartsWith("postgres", StringComparison.Ordinal) || comm.StartsWith("postmaster", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// A free TCP port on 127.0.0.1 (free when asked; bind it soon). It is drawn at random below the kernel's ephemeral
    /// range and never handed out twice by this process: a port the kernel picked (bind to 0) is an ephemeral one, which
    /// any outgoing connection may take as its local port before the caller binds it, which made busy test runs fail
    /// with "address already in use".
    /// </summary>
    public static int FreeLoopbackPort()
    {
        var (low, high) = NonEphemeralRange.Value;
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(low, high + 1);
            lock (HandedOut)
            {
                if (HandedOut.Contains(port) || !IsPortFree(port))
                {
                    continue;
                }

                HandedOut.Add(port);
                return port;
            }
        }

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static readonly HashSet<int> HandedOut = [];

    /// <summary>Ports below the ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range; else 32768 assumed).</summary>
    private static readonly Lazy<(int Low, int High)> NonEphemeralRange = new(() =>
    {
        var ephemeralLow = 32768;
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            if (range.Length > 0 && int.TryParse(range[0], System.Globalization.CultureInfo.InvariantCulture, out var low) && low > 12_000)
            {
                ephemeralLow = low;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not Linux: the IANA dynamic range starts higher; 32768 is below it too.
        }

        return (Math.Max(10_000, ephemeralLow - 12_000), ephemeralLow - 1);
    });

    /// <summary>Whether <paramref name="port"/> can be bound on 127.0.0.1 now.</summary>
    public static bool IsPortFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string LastLines(string text, int count) =>
        string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(count));

    private sealed class PostgresServerExceptionWithLog(string message, string logFile)
        : PostgresServerException($"{message}; the server's log is {logFile}");
}

/// <summary>A private PostgreSQL server could not be set up, started or reached.</summary>
public class PostgresServerException(string message, Exception? inner = null) : Exception(message, inner);
