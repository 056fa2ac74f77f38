using System.Security.Cryptography.X509Certificates;

namespace Cocoon.Attestation.Verification;

/// <summary>Settings of a <see cref="QuoteVerifier"/>.</summary>
public sealed record QuoteVerifierOptions
{
    /// <summary>Production (default) or devnet.</summary>
    public AttestationMode Mode { get; init; } = AttestationMode.Production;

    /// <summary>The clock; tests inject a fixed one.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Trust anchor for real quotes; the pinned Intel SGX Root CA unless a test replaces it.</summary>
    public X509Certificate2? TrustedRoot { get; init; }

    /// <summary>Trust anchor of simulated quotes (the devnet authority's certificate); used only in devnet mode.</summary>
    public X509Certificate2? SimulatedRoot { get; init; }
}
