using System.Diagnostics;
using System.Globalization;

namespace Cocoon.Node.Storage;

/// <summary>The PostgreSQL server programs of this machine (initdb, pg_ctl, postgres).</summary>
/// <param name="BinDirectory">The folder that holds them.</param>
/// <param name="MajorVersion">The server's major version, e.g. 15.</param>
public sealed record PostgresBinaries(string BinDirectory, int MajorVersion)
{
    /// <summary>Environment variable that names the folder explicitly; set it to a missing folder to force "none".</summary>
    public const string BinDirectoryVariable = "COCOON_PG_BIN";

    /// <summary>Path of one of the programs.</summary>
    public string Program(string name) => Path.Combine(BinDirectory, name);

    /// <summary>
    /// Finds the server binaries: <c>COCOON_PG_BIN</c> if set, else <c>pg_config --bindir</c>, else the newest
    /// <c>/usr/lib/postgresql/N/bin</c> (Debian's layout), else <c>/usr/local/pgsql/bin</c>. Returns null when none
    /// has initdb, pg_ctl and postgres.
    /// </summary>
    public static PostgresBinaries? Find()
    {
        var explicitDir = Environment.GetEnvironmentVariable(BinDirectoryVariable);
        if (!string.IsNullOrEmpty(explicitDir))
        {
            return Probe(explicitDir);
        }

        if (PgConfigBinDir() is { } fromPgConfig && Probe(fromPgConfig) is { } found)
        {
            return found;
        }

        const string debianRoot = "/usr/lib/postgresql";
        if (Directory.Exists(debianRoot))
        {
            var newest = Directory.GetDirectories(debianRoot)
                .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0))
                .OrderByDescending(x => x.Version)
                .Select(x => Probe(x.Dir))
                .FirstOrDefault(b => b is not null);
            if (newest is not null)
            {
                return newest;
            }
        }

        return Probe("/usr/local/pgsql/bin");
    }

    private static PostgresBinaries? Probe(string dir)
    {
        if (!File.Exists(Path.Combine(dir, "initdb")) || !File.Exists(Path.Combine(dir, "pg_ctl")) || !File.Exists(Path.Combine(dir, "postgres")))
        {
            return null;
        }

        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        var output = Run(Path.Combine(dir, "postgres"), "--version");
        var version = 0;
        if (output is not null)
        {
            var token = output.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(t => t.Length > 0 && char.IsDigit(t[0]));
            if (token is not null)
            {
                _ = int.TryParse(token.Split('.')[0], NumberStyles.None, CultureInfo.InvariantCulture, out version);
            }
        }

        return new PostgresBinaries(dir, version);
    }

    private static string? PgConfigBinDir()
    {
        var dir = Run("pg_config", "--bindir")?.Trim();
        return string.IsNullOrEmpty(dir) ? null : dir;
    }

    private static string? Run(string file, string arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
            {
                return null;
            }

            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit(10_000);
            return process.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
