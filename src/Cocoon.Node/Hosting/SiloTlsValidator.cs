using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Cocoon.Attestation.Collateral;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.RaTls;
using Cocoon.Attestation.Verification;
using Cocoon.Node.Configuration;
using Microsoft.Extensions.Logging;

namespace Cocoon.Node.Hosting;

/// <summary>
/// The remote-certificate check of silo TLS (<c>Cocoon:Attestation:SiloTls</c>): the peer's RA-TLS certificate must
/// decode, bind its key and claims into REPORTDATA, carry a quote that verifies (simulated quotes only in Devnet mode,
/// under the devnet authority's root), satisfy the TD attribute checks of <see cref="AttestationPolicy.Production"/>,
/// have an image hash on the <see cref="ImageAllowList"/> (fed by the root contract, see <see cref="RootImageAllowList"/>),
/// and, when collateral for its platform is configured (<c>Cocoon:Attestation:CollateralPath</c>), a TCB status no
/// worse than the minimum. The allow-list is read at every handshake, so a hash removed on chain refuses the next
/// connection. A refused peer is logged once per peer and failing step, without secrets; the connection is refused.
/// </summary>
public sealed partial class SiloTlsValidator
{
    private const int MaxRemembered = 1024;
    private readonly QuoteVerifier _verifier;
    private readonly AttestationPolicy _policy;
    private readonly CollateralStore? _collateral;
    private readonly ConcurrentDictionary<string, byte> _logged = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _lastAdmitted = new(StringComparer.Ordinal);

    /// <param name="mode">Production refuses every simulated quote, whatever the allow-list says.</param>
    /// <param name="allowedImageHashes">Image hashes (hex) a peer must attest to; must not be empty.</param>
    /// <param name="simulatedRoot">The devnet authority's root, trusted only in Devnet mode.</param>
    /// <param name="timeProvider">The clock (tests).</param>
    public SiloTlsValidator(NodeMode mode, IReadOnlyCollection<string> allowedImageHashes, X509Certificate2? simulatedRoot, TimeProvider? timeProvider = null)
        : this(mode, FixedList(allowedImageHashes, timeProvider), simulatedRoot, timeProvider: timeProvider)
    {
    }

    /// <param name="mode">Production refuses every simulated quote, whatever the allow-list says.</param>
    /// <param name="allowList">The image hashes admitted, read at every handshake; empty admits nobody.</param>
    /// <param name="simulatedRoot">The devnet authority's root, trusted only in Devnet mode.</param>
    /// <param name="policy">
    /// TD attribute, measurement and TCB requirements (its <see cref="AttestationPolicy.AllowedImageHashes"/> is replaced by
    /// the allow-list); null: <see cref="AttestationPolicy.Production"/>.
    /// </param>
    /// <param name="collateral">Collateral for real quotes' platforms; with it, the policy's minimum TCB status is enforced.</param>
    /// <param name="timeProvider">The clock (tests).</param>
    public SiloTlsValidator(NodeMode mode, ImageAllowList allowList, X509Certificate2? simulatedRoot, AttestationPolicy? policy = null,
        CollateralStore? collateral = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(allowList);
        Mode = mode;
        AllowList = allowList;
        _policy = policy ?? AttestationPolicy.Production;
        _collateral = collateral;
        _verifier = new QuoteVerifier(new QuoteVerifierOptions
        {
            Mode = mode == NodeMode.Devnet ? AttestationMode.Devnet : AttestationMode.Production,
            SimulatedRoot = mode == NodeMode.Devnet ? simulatedRoot : null,
            TimeProvider = timeProvider ?? TimeProvider.System,
        });
    }

    /// <summary>The mode the quotes are verified for.</summary>
    public NodeMode Mode { get; }

    /// <summary>The allow-list read at each handshake.</summary>
    public ImageAllowList AllowList { get; }

    /// <summary>The image hashes admitted now.</summary>
    public IReadOnlyCollection<string> AllowedImageHashes => AllowList.Current.Hashes;

    /// <summary>The thumbprint of the certificate last admitted per peer silo name (its <c>silo</c> claim), for diagnostics.</summary>
    public IReadOnlyDictionary<string, string> LastAdmitted => _lastAdmitted;

    /// <summary>Where refusals are logged; null: not logged.</summary>
    public ILogger? Logger { get; set; }

    /// <summary>
    /// The validator for a node: <paramref name="allowList"/> (the root contract's, with the configured hashes as the
    /// bootstrap fallback), the configured TD attribute and TCB requirements, and the collateral store if any.
    /// </summary>
    public static SiloTlsValidator For(NodeSettings settings, NodeAttestation attestation, ImageAllowList allowList, CollateralStore? collateral) =>
        new(settings.Mode, allowList, attestation.SimulatedRoot, settings.PeerPolicy, collateral);

    /// <summary>Validates a peer's certificate completely.</summary>
    public RaTlsValidationResult Validate(X509Certificate2 certificate)
    {
        var snapshot = AllowList.Current;
        var result = snapshot.Hashes.Count == 0
            ? new RaTlsValidationResult
            {
                FailedStep = VerificationStep.Policy,
                Message = $"Policy: no image hash is allowed (allow-list from {snapshot.Source}, read {snapshot.ReadAt:O} is empty)",
            }
            : new RaTlsCertificateValidator(_verifier, _policy with { AllowedImageHashes = snapshot.Hashes }, _collateral is null ? null : _collateral.Find)
                .Validate(certificate);
        if (result.IsValid && result.Quote?.Quote is { } quote &&
            snapshot.RoleRefusal(Convert.ToHexStringLower(ImageHash.Compute(quote.Body)), result.Claims?.Values.GetValueOrDefault("role")) is { } refusal)
        {
            result = result with { FailedStep = VerificationStep.Policy, Message = "Policy: " + refusal };
        }
        if (result.IsValid && result.Claims?.Values.GetValueOrDefault("silo") is { } admitted && (_lastAdmitted.Count < MaxRemembered || _lastAdmitted.ContainsKey(admitted)))
        {
            _lastAdmitted[admitted] = certificate.Thumbprint;
        }

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

    private static ImageAllowList FixedList(IReadOnlyCollection<string> hashes, TimeProvider? time)
    {
        if (hashes.Count == 0)
        {
            // An empty allow-list allows any image in AttestationPolicy: never what silo TLS means.
            throw new ArgumentException("silo TLS needs at least one allowed image hash", nameof(hashes));
        }

        return new ImageAllowList(hashes, "configuration", (time ?? TimeProvider.System).GetUtcNow());
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo TLS refused {Peer} at step {Step}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string peer, string step, string reason);
}
