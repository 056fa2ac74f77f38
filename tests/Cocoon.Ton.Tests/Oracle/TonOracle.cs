using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cocoon.Ton.Tests.Oracle;

/// <summary>
/// Runs tests/ton-oracle/oracle.js (the @ton/core, @ton/crypto, @ton/ton and @ton/sandbox reference
/// implementations) on one JSON batch per call. Installs the pinned packages with `npm ci` on first use.
/// There is no skip: without node and npm these tests fail with a message that says so.
/// </summary>
public static class TonOracle
{
    private static readonly Lazy<string> OracleDir = new(Install, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Directory => OracleDir.Value;

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "tests", "ton-oracle", "package.json")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("cannot find tests/ton-oracle above " + AppContext.BaseDirectory);
    }

    private static string Install()
    {
        var dir = Path.Combine(FindRepoRoot(), "tests", "ton-oracle");
        if (!System.IO.Directory.Exists(Path.Combine(dir, "node_modules", "@ton", "sandbox")))
        {
            var (code, _, err) = Run("npm", "ci --no-audit --no-fund", dir, null, TimeSpan.FromMinutes(5));
            if (code != 0)
            {
                throw new InvalidOperationException($"`npm ci` in {dir} failed ({code}): {err}");
            }
        }

        return dir;
    }

    private static (int Code, string Out, string Err) Run(string file, string args, string dir, string? stdin, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file, args)
        {
            WorkingDirectory = dir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"`{file}` is not installed or not on PATH; the TON cross-implementation tests need Node.js and npm ({e.Message})", e);
        }

        using (process)
        {
            var outTask = process.StandardOutput.ReadToEndAsync();
            var errTask = process.StandardError.ReadToEndAsync();
            if (stdin is not null)
            {
                process.StandardInput.Write(stdin);
            }

            process.StandardInput.Close();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{file} {args} did not finish in {timeout}");
            }

            return (process.ExitCode, outTask.Result, errTask.Result);
        }
    }

    /// <summary>Sends a batch of requests; returns one node per request: the "ok" value, or throws on an "error".</summary>
    public static JsonNode?[] Call(IEnumerable<object> requests) => CallRaw(requests).Select(r =>
        r!["error"] is { } e ? throw new InvalidOperationException("oracle error: " + e.GetValue<string>()) : r["ok"]).ToArray();

    /// <summary>Sends a batch; returns each raw result object ({ok} or {error}).</summary>
    public static JsonNode?[] CallRaw(IEnumerable<object> requests)
    {
        var list = requests.ToList();
        var json = JsonSerializer.Serialize(new { requests = list });
        if (Environment.GetEnvironmentVariable("COCOON_ORACLE_DUMP") is { Length: > 0 } dump)
        {
            // Debug aid: keep the batch so it can be replayed with `node oracle.js < file`.
            File.WriteAllText(Path.Combine(dump, $"batch-{Guid.NewGuid():N}.json"), json);
        }

        var (code, output, err) = Run("node", "oracle.js", Directory, json, TimeSpan.FromMinutes(3));
        if (code != 0)
        {
            throw new InvalidOperationException($"oracle.js failed ({code}): {err}");
        }

        var results = JsonNode.Parse(output)!["results"]!.AsArray();
        Assert.Equal(list.Count, results.Count);
        return [.. results];
    }

    public static JsonNode? CallOne(object request) => Call([request])[0];
}
