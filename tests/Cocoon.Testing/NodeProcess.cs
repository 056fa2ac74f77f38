using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace Cocoon.Testing;

/// <summary>
/// A Cocoon program (<c>cocoon-node</c> or <c>cocoon</c>) run as a separate operating-system process from the
/// test's output folder, with its output captured, for tests that need real processes: several silos, kill -9,
/// exit codes and messages.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();

    private NodeProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _stdout.Enqueue(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _stderr.Enqueue(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>Whether it has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Its exit code (after it exited).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Standard output so far.</summary>
    public string StandardOutput => string.Join('\n', _stdout);

    /// <summary>Standard error so far.</summary>
    public string StandardError => string.Join('\n', _stderr);

    /// <summary>
    /// Starts <paramref name="assemblyName"/> (e.g. <c>cocoon-node</c>) from the test's output folder with
    /// <c>dotnet</c>, so it runs exactly the code the test was built with.
    /// </summary>
    public static NodeProcess Start(string assemblyName, IEnumerable<string> arguments, IDictionary<string, string?>? environment = null)
    {
        var baseDir = AppContext.BaseDirectory;
        var dll = Path.Combine(baseDir, assemblyName + ".dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{dll} is not in the test output; reference the project that builds it.");
        }

        if (!File.Exists(Path.Combine(baseDir, assemblyName + ".runtimeconfig.json")))
        {
            throw new FileNotFoundException($"{assemblyName}.runtimeconfig.json is not in the test output; reference the executable project.");
        }

        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = baseDir,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(dll);
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        // A child must not inherit settings meant for the test host.
        start.Environment.Remove("DOTNET_ENVIRONMENT");
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }
        }

        return new NodeProcess(Process.Start(start) ?? throw new InvalidOperationException($"could not start {assemblyName}"));
    }

    /// <summary>Waits until a line of standard output or error contains <paramref name="text"/>; fails with the output on time-out or exit.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!_stdout.Any(l => l.Contains(text, StringComparison.Ordinal)) && !_stderr.Any(l => l.Contains(text, StringComparison.Ordinal)))
        {
            if (_process.HasExited)
            {
                await Task.Delay(200);
                throw new InvalidOperationException($"the process exited with {_process.ExitCode} before printing '{text}'.\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no '{text}' within {timeout}.\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Waits for the process to exit and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the process did not exit within {timeout}.\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}");
        }

        // Let the asynchronous readers drain.
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Sends a POSIX signal (SIGTERM = 15, SIGINT = 2, SIGKILL = 9).</summary>
    public void Signal(int signal)
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", $"-{signal} {_process.Id}") { UseShellExecute = false })!;
            kill.WaitForExit();
        }
    }

    /// <summary>kill -9: the process dies at once, with no chance to clean up.</summary>
    public void KillHard() => Signal(9);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
