using System.Diagnostics;
using Cocoon.Grains.Inference;
using Cocoon.Grains.Ledger;
using Cocoon.Node.Configuration;
using Cocoon.Node.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Cocoon.Node.Observability;

/// <summary>The state of one readiness check.</summary>
public enum ReadinessState
{
    /// <summary>The part works.</summary>
    Ready,

    /// <summary>The part does not work: the node must not take traffic.</summary>
    NotReady,
}

/// <summary>What one check found: its state and a short detail for the operator (never secrets, never client data).</summary>
/// <param name="State">Ready or not.</param>
/// <param name="Detail">One line saying what was checked or what failed.</param>
public sealed record ReadinessResult(ReadinessState State, string Detail)
{
    /// <summary>A ready result.</summary>
    public static ReadinessResult Ready(string detail) => new(ReadinessState.Ready, detail);

    /// <summary>A not-ready result.</summary>
    public static ReadinessResult NotReady(string detail) => new(ReadinessState.NotReady, detail);
}

/// <summary>
/// One part a node needs before it takes traffic (storage, the cluster, models, attestation, the chain endpoint). Other
/// parts add theirs by registering an implementation: <c>services.AddSingleton&lt;IReadinessCheck, MyCheck&gt;()</c>;
/// <c>/readyz</c> runs them all.
/// </summary>
public interface IReadinessCheck
{
    /// <summary>The check's name in the <c>/readyz</c> body (<c>storage</c>, <c>chain</c>...).</summary>
    string Name { get; }

    /// <summary>Checks; an exception counts as not ready with its type and message.</summary>
    Task<ReadinessResult> CheckAsync(CancellationToken cancellationToken);
}

/// <summary>A check as reported by <c>/readyz</c>.</summary>
/// <param name="Name">The check.</param>
/// <param name="State"><c>ready</c> or <c>not_ready</c>.</param>
/// <param name="Detail">What it found.</param>
/// <param name="Seconds">How long it took.</param>
public sealed record ReadinessReportEntry(string Name, string State, string Detail, double Seconds);

/// <summary>Every check's outcome.</summary>
/// <param name="Ready">Whether every check is ready.</param>
/// <param name="Checks">The checks, in registration order.</param>
public sealed record ReadinessReport(bool Ready, IReadOnlyList<ReadinessReportEntry> Checks);

/// <summary>Runs every registered <see cref="IReadinessCheck"/> at once, each bounded by a timeout.</summary>
public sealed class ReadinessService(IEnumerable<IReadinessCheck> checks)
{
    /// <summary>How long one check may take before it counts as not ready.</summary>
    public static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(5);

    private readonly IReadinessCheck[] _checks = [.. checks];

    /// <summary>The registered checks' names.</summary>
    public IReadOnlyList<string> Names => [.. _checks.Select(c => c.Name)];

    /// <summary>Runs every check.</summary>
    public async Task<ReadinessReport> CheckAsync(CancellationToken cancellationToken)
    {
        var entries = await Task.WhenAll(_checks.Select(c => RunAsync(c, cancellationToken)));
        return new ReadinessReport(entries.All(e => e.State == "ready"), entries);
    }

    private static async Task<ReadinessReportEntry> RunAsync(IReadinessCheck check, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        ReadinessResult result;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CheckTimeout);
        try
        {
            result = await check.CheckAsync(timeout.Token).WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            result = ReadinessResult.NotReady($"no answer within {CheckTimeout.TotalSeconds:0} s");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            result = ReadinessResult.NotReady($"{e.GetType().Name}: {e.Message}");
        }

        return new ReadinessReportEntry(check.Name, result.State == ReadinessState.Ready ? "ready" : "not_ready", result.Detail,
            Math.Round(Stopwatch.GetElapsedTime(start).TotalSeconds, 4));
    }
}

/// <summary>Storage: the cluster's PostgreSQL answers a query on a fresh connection (memory storage is always ready).</summary>
internal sealed class StorageReadinessCheck(NodeSettings settings) : IReadinessCheck
{
    // A fresh, unpooled connection each time: a pooled one could answer from a socket opened before the database died.
    private readonly string? _connectionString = settings.ConnectionString is { } cs
        ? new NpgsqlConnectionStringBuilder(cs) { Pooling = false, Timeout = 3, CommandTimeout = 3 }.ConnectionString
        : null;

    public string Name => "storage";

    public async Task<ReadinessResult> CheckAsync(CancellationToken cancellationToken)
    {
        if (settings.Storage == StorageProvider.Memory || _connectionString is null)
        {
            return ReadinessResult.Ready("memory storage (devnet)");
        }

        try
        {
            await using var connection = new NpgsqlConnection(_connectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(cancellationToken);
            return ReadinessResult.Ready($"postgresql {connection.Host}:{connection.Port} answers");
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException)
        {
            // The message names host and port at most; the connection string (and its password) never appears.
            return ReadinessResult.NotReady($"postgresql unreachable: {e.GetType().Name}: {e.Message}");
        }
    }
}

/// <summary>Cluster: this silo is an active member.</summary>
internal sealed class ClusterReadinessCheck(IServiceProvider services) : IReadinessCheck
{
    public string Name => "cluster";

    public Task<ReadinessResult> CheckAsync(CancellationToken cancellationToken)
    {
        var membership = services.GetService<IClusterMembershipService>();
        var local = services.GetService<ILocalSiloDetails>();
        if (membership is null || local is null)
        {
            return Task.FromResult(ReadinessResult.NotReady("the silo is not built yet"));
        }

        var status = membership.CurrentSnapshot.GetSiloStatus(local.SiloAddress);
        return Task.FromResult(status == SiloStatus.Active
            ? ReadinessResult.Ready($"silo {local.Name} is active in a cluster of {membership.CurrentSnapshot.Members.Count(m => m.Value.Status == SiloStatus.Active)}")
            : ReadinessResult.NotReady($"silo {local.Name} is {status}"));
    }
}

/// <summary>Models: every model this worker silo serves has a loaded engine.</summary>
internal sealed class ModelsReadinessCheck(NodeSettings settings, LocalWorkers workers) : IReadinessCheck
{
    public string Name => "models";

    public Task<ReadinessResult> CheckAsync(CancellationToken cancellationToken)
    {
        var loaded = workers.All.Select(w => w.Registration.Model).ToHashSet(StringComparer.Ordinal);
        var missing = settings.WorkerModels.Where(m => !loaded.Contains(m)).ToList();
        return Task.FromResult(missing.Count == 0
            ? ReadinessResult.Ready($"loaded: {string.Join(", ", settings.WorkerModels)}")
            : ReadinessResult.NotReady($"not loaded: {string.Join(", ", missing)}"));
    }
}

/// <summary>Attestation: the RA-TLS certificate (and its quote) exists and is within its validity.</summary>
internal sealed class AttestationReadinessCheck(NodeAttestation attestation, TimeProvider time) : IReadinessCheck
{
    public string Name => "attestation";

    public Task<ReadinessResult> CheckAsync(CancellationToken cancellationToken)
    {
        var certificate = attestation.Rotator.Current;
        var now = time.GetUtcNow();
        if (certificate is null)
        {
            return Task.FromResult(ReadinessResult.NotReady("no RA-TLS certificate yet"));
        }

        return Task.FromResult(certificate.NotAfter.ToUniversalTime() > now.UtcDateTime && certificate.NotBefore.ToUniversalTime() <= now.UtcDateTime
            ? ReadinessResult.Ready($"RA-TLS certificate {attestation.Rotator.Generation} valid until {certificate.NotAfter.ToUniversalTime():O}")
            : ReadinessResult.NotReady($"RA-TLS certificate expired at {certificate.NotAfter.ToUniversalTime():O}: quote renewal is failing"));
    }
}

/// <summary>Chain: the configured TON endpoint answers for the proxy's wallet (proxy silos with <c>Cocoon:Chain:Endpoint</c>).</summary>
internal sealed class ChainReadinessCheck(ProxyChain? chain) : IReadinessCheck
{
    public string Name => "chain";

    public async Task<ReadinessResult> CheckAsync(CancellationToken cancellationToken)
    {
        if (chain is null)
        {
            return ReadinessResult.Ready("no chain endpoint configured (Cocoon:Chain:Endpoint): settlement is off");
        }

        try
        {
            await chain.Client.GetAddressInformationAsync(chain.Wallet.Address, cancellationToken);
            return ReadinessResult.Ready($"TON endpoint answers for the proxy wallet {chain.Wallet.Address}");
        }
        catch (Exception e) when (e is HttpRequestException or Cocoon.Ton.Toncenter.ToncenterException or TimeoutException)
        {
            return ReadinessResult.NotReady($"TON endpoint unreachable: {e.GetType().Name}: {e.Message}");
        }
    }
}

/// <summary>
/// Ledger: the stored money state is trusted (not found older than the proxy's commit on chain). Not ready names the gap
/// (local seq &lt; committed seq) until an operator restores the newest state.
/// </summary>
internal sealed class LedgerReadinessCheck(LedgerIntegrity? integrity) : IReadinessCheck
{
    public string Name => "ledger";

    public Task<ReadinessResult> CheckAsync(CancellationToken cancellationToken) => Task.FromResult(integrity?.FrozenReason is { } reason
        ? ReadinessResult.NotReady(reason)
        : ReadinessResult.Ready(integrity is null ? "no money state on this silo" : "not found older than the proxy's commit on chain"));
}
