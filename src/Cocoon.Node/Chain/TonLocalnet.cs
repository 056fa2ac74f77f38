using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Crypto;

namespace Cocoon.Node.Chain;

/// <summary>How to run the local TON chain (<c>infra/ton-localnet</c>).</summary>
public sealed record TonLocalnetOptions
{
    /// <summary>
    /// Folder for the chain state (<c>chain.json</c>) and the root owner's key (<c>root-owner-key.json</c>); a localnet
    /// started again on the same folder keeps its balances, contracts and transactions.
    /// </summary>
    public required string DataDirectory { get; init; }

    /// <summary>The <c>infra/ton-localnet</c> folder; null: found by walking up from the program's folder.</summary>
    public string? InfraDirectory { get; init; }

    /// <summary>Port to listen on; 0 (the default) lets the service pick a free one.</summary>
    public int Port { get; init; }

    /// <summary>The Node.js program.</summary>
    public string NodeExecutable { get; init; } = "node";

    /// <summary>The npm program (run as <c>npm ci</c> when <c>node_modules</c> is missing).</summary>
    public string NpmExecutable { get; init; } = "npm";

    /// <summary>How long to wait for the ready line (the first start deploys the root contract).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How long <c>npm ci</c> may take.</summary>
    public TimeSpan InstallTimeout { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>Why the local chain could not be installed, started or used.</summary>
public sealed class TonLocalnetException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TonLocalnetException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public TonLocalnetException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public TonLocalnetException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>What the faucet sent.</summary>
/// <param name="Address">The address funded.</param>
/// <param name="Amount">nanoTON sent.</param>
/// <param name="TransactionLt">Logical time of the receiving transaction.</param>
/// <param name="TransactionHash">Hash of the receiving transaction.</param>
public sealed record FaucetTransfer(TonAddress Address, BigInteger Amount, ulong TransactionLt, byte[] TransactionHash);

/// <summary>
/// The local TON chain as a child process: <c>node infra/ton-localnet/server.js</c> (an @ton/sandbox chain behind the
/// toncenter v2 API subset <c>Cocoon.Ton.Toncenter.ToncenterClient</c> uses, with a faucet and the root contract
/// deployed at first start). Runs <c>npm ci</c> first when the service's packages are missing, waits for its ready
/// line, and stops it on dispose. Used by <c>cocoon devnet</c> and by tests.
/// </summary>
public sealed class TonLocalnet : IAsyncDisposable
{
    private static readonly SemaphoreSlim InstallGate = new(1, 1);
    private readonly Process _process;
    private readonly StringBuilder _stderr;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private int _stopped;

    private TonLocalnet(Process process, StringBuilder stderr, JsonObject ready, string dataDirectory)
    {
        _process = process;
        _stderr = stderr;
        DataDirectory = dataDirectory;
        Port = ready["port"]!.GetValue<int>();
        Endpoint = new Uri(ready["endpoint"]!.GetValue<string>());
        BaseUri = new Uri(Endpoint, "/");
        RootAddress = TonAddress.Parse(ready["root_raw"]!.GetValue<string>());
        OwnerWallet = TonAddress.Parse(ready["owner_wallet_raw"]!.GetValue<string>());
        OwnerPublicKey = Convert.FromHexString(ready["owner_public_key"]!.GetValue<string>());
        OwnerKeyFile = ready["owner_key_file"]!.GetValue<string>();
        FaucetAddress = TonAddress.Parse(ready["faucet"]!.GetValue<string>());
        RootCodeHash = ready["root_code_hash"]!.GetValue<string>();
        Restored = ready["restored"]?.GetValue<bool>() ?? false;
        StateFile = ready["state_file"]!.GetValue<string>();
    }

    /// <summary>The toncenter v2 base URL (<c>http://127.0.0.1:PORT/api/v2/</c>) for <c>ToncenterOptions.Endpoint</c>.</summary>
    public Uri Endpoint { get; }

    /// <summary>The service's root URL (faucet, advance, info).</summary>
    public Uri BaseUri { get; }

    /// <summary>The loopback port.</summary>
    public int Port { get; }

    /// <summary>The data folder.</summary>
    public string DataDirectory { get; }

    /// <summary>The chain state file.</summary>
    public string StateFile { get; }

    /// <summary>The root contract.</summary>
    public TonAddress RootAddress { get; }

    /// <summary>Representation hash of the root contract's code (hex).</summary>
    public string RootCodeHash { get; }

    /// <summary>The root owner's wallet v5r1 (mainnet global id, workchain 0, subwallet 0).</summary>
    public TonAddress OwnerWallet { get; }

    /// <summary>The root owner's Ed25519 public key.</summary>
    public byte[] OwnerPublicKey { get; }

    /// <summary>The file holding the root owner's seed (<c>{"seedHex": …}</c>, owner-only permissions).</summary>
    public string OwnerKeyFile { get; }

    /// <summary>The faucet's address (a sandbox treasury).</summary>
    public TonAddress FaucetAddress { get; }

    /// <summary>True when the chain was loaded from an existing state file rather than created.</summary>
    public bool Restored { get; }

    /// <summary>Whether the service process is still running.</summary>
    public bool IsRunning => Volatile.Read(ref _stopped) == 0 && !_process.HasExited;

    /// <summary>What the service wrote to standard error so far.</summary>
    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Environment variable naming the <c>infra/ton-localnet</c> folder, for programs run outside the repository.</summary>
    public const string InfraDirectoryVariable = "COCOON_TON_LOCALNET_DIR";

    /// <summary>
    /// The <c>infra/ton-localnet</c> folder: <see cref="InfraDirectoryVariable"/> when set, else found by walking up from
    /// <paramref name="start"/> (default: the program's folder).
    /// </summary>
    /// <exception cref="TonLocalnetException">No such folder above it.</exception>
    public static string FindInfraDirectory(string? start = null)
    {
        if (Environment.GetEnvironmentVariable(InfraDirectoryVariable) is { Length: > 0 } configured)
        {
            return configured;
        }

        for (var d = new DirectoryInfo(start ?? AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "infra", "ton-localnet");
            if (File.Exists(Path.Combine(candidate, "server.js")) && File.Exists(Path.Combine(candidate, "package.json")))
            {
                return candidate;
            }
        }

        throw new TonLocalnetException($"cannot find infra/ton-localnet/server.js above {start ?? AppContext.BaseDirectory}; set {InfraDirectoryVariable} or TonLocalnetOptions.InfraDirectory.");
    }

    /// <summary>Installs the service's packages if needed, starts it and waits until it is ready.</summary>
    /// <exception cref="TonLocalnetException">Node or npm is missing, the install failed, or the service did not start; the message says why.</exception>
    public static async Task<TonLocalnet> StartAsync(TonLocalnetOptions options, Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        progress ??= _ => { };
        var infra = Path.GetFullPath(options.InfraDirectory ?? FindInfraDirectory());
        if (!File.Exists(Path.Combine(infra, "server.js")))
        {
            throw new TonLocalnetException($"{infra} has no server.js: not the infra/ton-localnet folder.");
        }

        await EnsureInstalledAsync(infra, options, progress, cancellationToken).ConfigureAwait(false);

        var data = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(data);
        var psi = new ProcessStartInfo(options.NodeExecutable)
        {
            WorkingDirectory = infra,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        psi.ArgumentList.Add(Path.Combine(infra, "server.js"));
        psi.ArgumentList.Add("--port");
        psi.ArgumentList.Add(options.Port.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add("--state");
        psi.ArgumentList.Add(Path.Combine(data, "chain.json"));
        psi.ArgumentList.Add("--owner-key");
        psi.ArgumentList.Add(Path.Combine(data, "root-owner-key.json"));

        // The service exits when its standard input closes, so it never outlives a launcher that was killed.
        psi.Environment["COCOON_LOCALNET_EXIT_ON_STDIN_CLOSE"] = "1";

        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new TonLocalnetException($"could not start {options.NodeExecutable}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new TonLocalnetException($"`{options.NodeExecutable}` is not installed or not on PATH; the local TON chain needs Node.js 20 ({e.Message})", e);
        }

        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();

        TonLocalnet localnet;
        try
        {
            var ready = await ReadReadyLineAsync(process, stderr, options.StartTimeout, cancellationToken).ConfigureAwait(false);
            localnet = new TonLocalnet(process, stderr, ready, data);
        }
        catch
        {
            process.Dispose();
            throw;
        }

        // Keep draining standard output so the service never blocks on a full pipe.
        _ = Task.Run(async () =>
        {
            try
            {
                while (await process.StandardOutput.ReadLineAsync(CancellationToken.None).ConfigureAwait(false) is not null)
                {
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }, CancellationToken.None);

        progress($"local TON chain {(localnet.Restored ? "restored from" : "created in")} {localnet.StateFile}, toncenter API at {localnet.Endpoint}, root {localnet.RootAddress.ToFriendlyString()}");
        return localnet;
    }

    /// <summary>Sends <paramref name="nanoton"/> from the faucet to <paramref name="address"/> (non-bouncing, so it may be undeployed).</summary>
    public async Task<FaucetTransfer> FaucetAsync(TonAddress address, BigInteger nanoton, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        var result = await PostAsync("faucet", new JsonObject
        {
            ["address"] = address.ToFriendlyString(),
            ["amount"] = nanoton.ToString(CultureInfo.InvariantCulture),
        }, cancellationToken).ConfigureAwait(false);
        var tx = result["transaction_id"];
        return new FaucetTransfer(
            address,
            nanoton,
            tx is null ? 0 : ulong.Parse(tx["lt"]!.GetValue<string>(), CultureInfo.InvariantCulture),
            tx is null ? [] : Convert.FromBase64String(tx["hash"]!.GetValue<string>()));
    }

    /// <summary>Moves the chain's clock forward (it otherwise follows the wall clock), e.g. past a close delay.</summary>
    /// <returns>The chain's time afterwards.</returns>
    public async Task<DateTimeOffset> AdvanceTimeAsync(TimeSpan by, CancellationToken cancellationToken = default)
    {
        var seconds = (long)Math.Ceiling(by.TotalSeconds);
        if (seconds <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(by), "advance by at least one second");
        }

        var result = await PostAsync("advance", new JsonObject { ["seconds"] = seconds }, cancellationToken).ConfigureAwait(false);
        return DateTimeOffset.FromUnixTimeSeconds(result["now"]!.GetValue<long>());
    }

    /// <summary>Loads the root owner's key from <see cref="OwnerKeyFile"/> (the caller disposes it).</summary>
    public Ed25519KeyPair LoadOwnerKey()
    {
        var json = JsonNode.Parse(File.ReadAllText(OwnerKeyFile)) ?? throw new TonLocalnetException($"{OwnerKeyFile} is empty");
        var seed = Convert.FromHexString(json["seedHex"]?.GetValue<string>() ?? throw new TonLocalnetException($"{OwnerKeyFile} has no seedHex"));
        return Ed25519KeyPair.FromSeed(seed);
    }

    /// <summary>Stops the service (SIGTERM by closing its input, then a kill if it lingers). The state file stays.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        try
        {
            if (!_process.HasExited)
            {
                // Closing stdin makes the service exit (COCOON_LOCALNET_EXIT_ON_STDIN_CLOSE); its state is already on disk.
                _process.StandardInput.Close();
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        finally
        {
            _process.Dispose();
            _http.Dispose();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private async Task<JsonNode> PostAsync(string path, JsonObject body, CancellationToken cancellationToken)
    {
        using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        HttpResponseMessage response;
        try
        {
            response = await _http.PostAsync(new Uri(BaseUri, path), content, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new TonLocalnetException($"localnet {path}: {e.Message}{(IsRunning ? string.Empty : " (the service has exited: " + StandardError.Trim() + ")")}", e);
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            JsonNode? json;
            try
            {
                json = JsonNode.Parse(text);
            }
            catch (JsonException e)
            {
                throw new TonLocalnetException($"localnet {path}: HTTP {(int)response.StatusCode}, not JSON: {text}", e);
            }

            if (json?["ok"]?.GetValue<bool>() != true)
            {
                throw new TonLocalnetException($"localnet {path}: {json?["error"]?.GetValue<string>() ?? text}");
            }

            return json["result"] ?? throw new TonLocalnetException($"localnet {path}: answer without result");
        }
    }

    private static async Task EnsureInstalledAsync(string infra, TonLocalnetOptions options, Action<string> progress, CancellationToken cancellationToken)
    {
        static bool Installed(string dir) => File.Exists(Path.Combine(dir, "node_modules", "@ton", "sandbox", "package.json"))
            && File.Exists(Path.Combine(dir, "node_modules", "@ton", "core", "package.json"))
            && File.Exists(Path.Combine(dir, "node_modules", "@ton", "crypto", "package.json"));

        if (Installed(infra))
        {
            return;
        }

        // One install at a time, in this process and across processes (two test runs may start localnets together).
        await InstallGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var fileLock = await AcquireFileLockAsync(Path.Combine(infra, ".npm-ci.lock"), options.InstallTimeout, cancellationToken).ConfigureAwait(false);
            if (Installed(infra))
            {
                return;
            }

            progress($"installing the local TON chain's packages (npm ci in {infra}) ...");
            var psi = new ProcessStartInfo(options.NpmExecutable)
            {
                WorkingDirectory = infra,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { "ci", "--no-audit", "--no-fund" })
            {
                psi.ArgumentList.Add(a);
            }

            Process npm;
            try
            {
                npm = Process.Start(psi) ?? throw new TonLocalnetException($"could not start {options.NpmExecutable}");
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new TonLocalnetException($"`{options.NpmExecutable}` is not installed or not on PATH; the local TON chain needs Node.js 20 and npm ({e.Message})", e);
            }

            using (npm)
            {
                var stdout = npm.StandardOutput.ReadToEndAsync(cancellationToken);
                var stderr = npm.StandardError.ReadToEndAsync(cancellationToken);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(options.InstallTimeout);
                try
                {
                    await npm.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    npm.Kill(entireProcessTree: true);
                    if (cancellationToken.IsCancellationRequested)
                    {
                        throw;
                    }

                    throw new TonLocalnetException($"npm ci in {infra} did not finish within {options.InstallTimeout}");
                }

                if (npm.ExitCode != 0 || !Installed(infra))
                {
                    throw new TonLocalnetException($"npm ci in {infra} failed (exit {npm.ExitCode}):\n{await stdout.ConfigureAwait(false)}{await stderr.ConfigureAwait(false)}");
                }
            }

            progress("local TON chain packages installed");
        }
        finally
        {
            InstallGate.Release();
        }
    }

    private static async Task<FileStream> AcquireFileLockAsync(string path, TimeSpan within, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task<JsonObject> ReadReadyLineAsync(Process process, StringBuilder stderr, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(cts.Token).ConfigureAwait(false);
                if (line is null)
                {
                    await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                    string err;
                    lock (stderr)
                    {
                        err = stderr.ToString().Trim();
                    }

                    throw new TonLocalnetException($"the local TON chain exited (code {process.ExitCode}) before it was ready: {err}");
                }

                if (line.StartsWith('{'))
                {
                    JsonNode? node;
                    try
                    {
                        node = JsonNode.Parse(line);
                    }
                    catch (JsonException)
                    {
                        continue;
                    }

                    if (node is JsonObject o && o["event"]?.GetValue<string>() == "ready")
                    {
                        return o;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TonLocalnetException($"the local TON chain was not ready within {timeout}");
        }
        catch
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            throw;
        }
    }
}
