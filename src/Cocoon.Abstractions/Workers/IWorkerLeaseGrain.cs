namespace Cocoon.Abstractions.Workers;

/// <summary>
/// A worker's registration (DESIGN section 3), keyed by worker id: which silo runs it, which model, its capacity and
/// coefficient, and a lease that expires unless the worker's silo renews it.
/// </summary>
[Alias("cocoon.workers.IWorkerLeaseGrain")]
public interface IWorkerLeaseGrain : IGrainWithStringKey
{
    /// <summary>Registers or renews the worker; returns the lease with its new expiry.</summary>
    [Alias("Renew")]
    Task<WorkerLease> RenewAsync(WorkerRegistration registration, TimeSpan leaseTime);

    /// <summary>The lease, or null when the worker never registered.</summary>
    [Alias("Get")]
    Task<WorkerLease?> GetAsync();

    /// <summary>Ends the lease now (the worker is shutting down).</summary>
    [Alias("Release")]
    Task ReleaseAsync();

    /// <summary>
    /// Publishes the worker's receipt key and current attestation document (its RA-TLS certificate, quote and claims),
    /// so a client can check a receipt's key back to the quote; called at registration and whenever the certificate
    /// rotates.
    /// </summary>
    [Alias("PublishAttestation")]
    Task PublishAttestationAsync(WorkerAttestation attestation);

    /// <summary>The worker's published receipt key and attestation, or null.</summary>
    [Alias("GetAttestation")]
    Task<WorkerAttestation?> GetAttestationAsync();
}

/// <summary>A worker's receipt key and the attestation that binds it (<c>GET /v1/attestation/workers/{id}</c>).</summary>
/// <param name="ReceiptKey">The Ed25519 public key receipts are signed with (hex); also the <c>receipt-key</c> claim.</param>
/// <param name="Document">
/// The attestation document, the JSON <c>GET /v1/attestation</c> serves, of the worker's current RA-TLS certificate;
/// empty when the worker runs without attestation (<c>Cocoon:Attestation:Provider=None</c>).
/// </param>
[GenerateSerializer, Immutable, Alias("cocoon.workers.WorkerAttestation")]
public sealed record WorkerAttestation([property: Id(0)] string ReceiptKey, [property: Id(1)] string Document);

/// <summary>What a worker says about itself when it registers.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.workers.WorkerRegistration")]
public sealed record WorkerRegistration
{
    /// <summary>The model it serves.</summary>
    [Id(0)] public required string Model { get; init; }

    /// <summary>SHA-256 of the model file it loaded.</summary>
    [Id(1)] public required string ModelHash { get; init; }

    /// <summary>The Orleans address of the silo it runs in (<c>SiloAddress.ToParsableString()</c>).</summary>
    [Id(2)] public required string SiloAddress { get; init; }

    /// <summary>At most this many requests run at once (<c>max_active_requests</c>).</summary>
    [Id(3)] public required int Capacity { get; init; }

    /// <summary>Price coefficient, 1000 = 1.0x (DESIGN section 5).</summary>
    [Id(4)] public long Coefficient { get; init; } = 1000;

    /// <summary>TON address the worker is paid to; empty on a devnet.</summary>
    [Id(5)] public string OwnerAddress { get; init; } = "";

    /// <summary>Execution provider the model runs on (<c>CPU</c>, <c>CUDA</c>).</summary>
    [Id(6)] public string ExecutionProvider { get; init; } = "";
}

/// <summary>A worker's registration with its lease.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.workers.WorkerLease")]
public sealed record WorkerLease(
    [property: Id(0)] string WorkerId,
    [property: Id(1)] WorkerRegistration Registration,
    [property: Id(2)] DateTimeOffset RegisteredAt,
    [property: Id(3)] DateTimeOffset ExpiresAt);
