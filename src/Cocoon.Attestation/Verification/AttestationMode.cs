namespace Cocoon.Attestation.Verification;

/// <summary>Whether the verifier runs for a production network or a devnet (DESIGN.md section 2).</summary>
public enum AttestationMode
{
    /// <summary>Only genuine Intel-signed quotes; simulated quotes are always refused.</summary>
    Production,

    /// <summary>Also accepts quotes from the simulated provider, signed under <see cref="QuoteVerifierOptions.SimulatedRoot"/>.</summary>
    Devnet,
}
