using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.RaTls;
using Cocoon.Attestation.Verification;
using Cocoon.Node.Configuration;
using Microsoft.Extensions.Logging;

namespace Cocoon.Node.Hosting;

/// <summary>
/// The remote-certificate check of silo TLS (<c>Cocoon:Attestation:SiloTls</c>): the peer's RA-TLS certificate must
/// decode, bind its key and claims into REPORTDATA, carry a quote that verifies (simulated quotes only in Devnet mode,
/// under the devnet authority's root) and satisfy the <see cref="AttestationPolicy"/> with the allowed image hashes.
/// A refused peer is logged once per peer and failing step, without secrets; the connection is refused.
/// </summary>
public sealed partial class SiloTlsValidator
{
    private const int MaxRemembered = 1024;
    private readonly RaTlsCertificateValidator _validator;
    private readonly ConcurrentDictionary<string, byte> _logged = new(StringComparer.Ordinal);

    /// <param name="mode">Production refuses every simulated quote, whatever the allow-list says.</param>
    /// <param name="allowedImageHashes">Image hashes (hex) a peer must attest to; must not be empty.</param>
    /// <param name="simulatedRoot">The devnet authority's root, trusted only in Devnet mode.</param>
    /// <param name="timeProvider">The clock (tests).</param>
    public SiloTlsValidator(NodeMode mode, IReadOnlyCollection<string> allowedImageHashes, X509Certificate2? simulatedRoot, TimeProvider? timeProvider = null)
    {
        if (allowedImageHashes.Count == 0)
        {
            // An empty allow-list allows any image in AttestationPolicy: never what silo TLS means.
            throw new ArgumentException("silo TLS needs at least one allowed image hash", nameof(allowedImageHashes));
        }

        Mode = mode;
        AllowedImageHashes = allowedImageHashes;
        var verifier = new QuoteVerifier(new QuoteVerifierOptions
        {
            Mode = mode == NodeMode.Devnet ? AttestationMode.Devnet : AttestationMode.Production,
            SimulatedRoot = mode == NodeMode.Devnet ? simulatedRoot : null,
            TimeProvider = timeProvider ?? TimeProvider.System,
        });
        _validator = new RaTlsCertificateValidator(verifier, new AttestationPolicy { AllowedImageHashes = allowedImageHashes });
    }

    /// <summary>The mode the quotes are verified for.</summary>
    public NodeMode Mode { get; }

    /// <summary>The image hashes admitted.</summary>
    public IReadOnlyCollection<string> AllowedImageHashes { get; }

    /// <summary>Where refusals are logged; null: not logged.</summary>
    public ILogger? Logger { get; set; }

    /// <summary>The validator for a node: its allow-list, or in Devnet with none set, its own image hash only.</summary>
    public static SiloTlsValidator For(NodeSettings settings, NodeAttestation attestation) =>
        new(settings.Mode, settings.AllowedImageHashes.Count > 0 ? settings.AllowedImageHashes : [attestation.ImageHash], attestation.SimulatedRoot);

    /// <summary>Validates a peer's certificate completely.</summary>
    public RaTlsValidationResult Validate(X509Certificate2 certificate)
    {
        var result = _validator.Validate(certificate);
        if (!result.IsValid)
        {
            Cocoon.Abstractions.Telemetry.CocoonTelemetry.AttestationFailed("silo_tls", result.FailedStep?.ToString() ?? "unknown");
        }

        if (!result.IsValid && Logger is { } logger)
        {
            var peer = result.Claims?.Values.GetValueOrDefault("silo") is { } silo ? "silo " + silo : "certificate " + certificate.Thumbprint;
            var key = peer + "|" + result.FailedStep;
            if (_logged.Count < MaxRemembered && _logged.TryAdd(key, 0))
            {
                LogRefused(logger, peer, result.FailedStep?.ToString() ?? "", result.Message);
            }
        }

        return result;
    }

    /// <summary>The Orleans <c>TlsOptions.RemoteCertificateValidation</c> callback: the platform's chain verdict is ignored (RA-TLS certificates are self-signed).</summary>
    public bool RemoteCertificateValidation(X509Certificate2? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        certificate is not null && Validate(certificate).IsValid;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo TLS refused {Peer} at step {Step}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string peer, string step, string reason);
}
