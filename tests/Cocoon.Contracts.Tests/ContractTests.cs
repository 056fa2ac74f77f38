using System.Diagnostics;

namespace Cocoon.Contracts.Tests;

/// <summary>
/// Runs the Tolk contract tests of src/Cocoon.Contracts (`node --test tests/`: @ton/sandbox behaviour and gas, and
/// the recompile-equals-committed-hash check) as part of `dotnet test`. Installs the pinned packages with `npm ci`
/// when node_modules is missing. There is no skip: without node and npm this fails and says so.
/// </summary>
public sealed class ContractTests
{
    private static readonly TimeSpan NpmTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan TestTimeout = TimeSpan.FromMinutes(3);

    [Fact]
    public void NodeContractTestsPass()
    {
        var dir = ContractsDirectory();
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "@ton", "tolk-js")))
        {
            var (npmCode, npmOutput) = Run("npm", "ci --no-audit --no-fund", dir, NpmTimeout);
            Assert.True(npmCode == 0, $"`npm ci` in {dir} failed ({npmCode}):\n{npmOutput}");
        }

        var (code, output) = Run("node", "--test tests/", dir, TestTimeout);
        Assert.True(code == 0, $"`node --test tests/` in {dir} failed ({code}):\n{output}");
        Assert.Contains("# fail 0", output, StringComparison.Ordinal);
    }

    private static string ContractsDirectory()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "src", "Cocoon.Contracts");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("cannot find src/Cocoon.Contracts above " + AppContext.BaseDirectory);
    }

    private static (int Code, string Output) Run(string file, string args, string dir, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file, args)
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"`{file}` is not installed or not on PATH; the contract tests need Node.js and npm ({e.Message})", e);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{file} {args} did not finish in {timeout}");
            }

            return (process.ExitCode, stdout.Result + stderr.Result);
        }
    }
}
