using Cocoon.Attestation.Providers;
using Cocoon.Attestation.RaTls;
using Cocoon.Gateway;
using Cocoon.Node.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Node.Hosting;

/// <summary>
/// A proxy silo's attestation (DESIGN sections 2 and 7): a quote provider (<c>Cocoon:Attestation:Provider</c>), and an
/// RA-TLS certificate rotator whose claims name the cluster, the silo, its role and the mode. The first certificate
/// is made before Orleans starts, so a node that cannot produce a quote stops with one message naming the setting;
/// afterwards a background loop renews it ahead of expiry so the TLS certificate selector never waits.
/// </summary>
public sealed partial class NodeAttestation : IHostedService, IDisposable
{
    /// <summary>The default measurements' image name of devnet (simulated) quotes (<c>Cocoon:Attestation:SimulatedImage</c>).</summary>
    public const string SimulatedImage = "cocoon-devnet";

    private const string ProviderSetting = "Cocoon:Attestation:Provider";
    private static readonly TimeSpan CheckInterval = TimeSpan.FromMinutes(1);

    private readonly IQuoteProvider _provider;
    private readonly SimulatedAttestationAuthority? _authority;
    private ILogger? _logger;
    private readonly BackgroundLoop _loop = new();
    private int _disposed;

    private NodeAttestation(IQuoteProvider provider, SimulatedAttestationAuthority? authority, RaTlsCertificateRotator rotator, NodeSettings settings)
    {
        _provider = provider;
        _authority = authority;
        Rotator = rotator;
        Source = new GatewayAttestationSource(rotator, settings.Mode.ToString(), authority?.RootCertificate);
    }

    /// <summary>The certificate rotator.</summary>
    public RaTlsCertificateRotator Rotator { get; }

    /// <summary>What the gateway serves at <c>/v1/attestation</c> and presents over TLS.</summary>
    public GatewayAttestationSource Source { get; }

    /// <summary>The devnet authority's root certificate (simulated quotes), or null for real quotes.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? SimulatedRoot => _authority?.RootCertificate;

    /// <summary>This silo's own image hash (lower-case hex), read from its first certificate's quote.</summary>
    public string ImageHash { get; private set; } = "";

    /// <summary>The claims of this silo's RA-TLS certificates.</summary>
    public static RaTlsClaims ClaimsFor(NodeSettings settings, string? receiptKey = null)
    {
        var claims = new Dictionary<string, string>
        {
            ["cluster"] = settings.ClusterId,
            ["mode"] = settings.Mode.ToString(),
            ["role"] = settings.RoleNames,
            ["service"] = settings.ServiceId,
            ["silo"] = settings.SiloName,
        };

        // A worker's receipt key (Cocoon.Grains.Inference.ReceiptSigner): the quote's REPORTDATA covers the claims, so
        // a receipt signed with it is bound to this attested image.
        if (receiptKey is not null)
        {
            claims[Cocoon.Grains.Inference.ReceiptSigner.ClaimName] = receiptKey;
        }

        return new RaTlsClaims(claims);
    }

    /// <summary>
    /// Creates the provider and the first certificate, or returns null for <see cref="AttestationProviderKind.None"/>.
    /// </summary>
    /// <exception cref="CocoonConfigurationException">The provider cannot produce a quote here (e.g. no TDX).</exception>
    public static async Task<NodeAttestation?> CreateAsync(NodeSettings settings, CancellationToken cancellationToken = default) =>
        await CreateAsync(settings, null, cancellationToken).ConfigureAwait(false);

    /// <summary>As <see cref="CreateAsync(NodeSettings, CancellationToken)"/>, with a worker's receipt key in the claims.</summary>
    public static async Task<NodeAttestation?> CreateAsync(NodeSettings settings, string? receiptKey, CancellationToken cancellationToken = default)
    {
        SimulatedAttestationAuthority? authority = null;
        IQuoteProvider provider;
        switch (settings.AttestationProvider)
        {
            case AttestationProviderKind.None:
                return null;
            case AttestationProviderKind.Simulated:
                authority = settings.SimulatedAuthorityFile is { } file ? LoadOrCreateAuthority(file) : SimulatedAttestationAuthority.Create(DateTimeOffset.UtcNow);
                provider = new SimulatedQuoteProvider(authority, SimulatedTdMeasurements.ForImage(settings.SimulatedImage));
                break;
            default:
                provider = new ConfigFsTsmQuoteProvider(settings.ConfigFsTsmPath);
                break;
        }

        var rotator = new RaTlsCertificateRotator(new RaTlsCertificateFactory(provider), ClaimsFor(settings, receiptKey), TimeSpan.FromMinutes(15));
        var attestation = new NodeAttestation(provider, authority, rotator, settings);
        try
        {
            var first = await rotator.GetCertificateAsync(cancellationToken).ConfigureAwait(false);
            attestation.ImageHash = ImageHashOf(first);
            return attestation;
        }
        catch (QuoteProviderException e)
        {
            attestation.Dispose();
            throw new CocoonConfigurationException(ProviderSetting,
                $"'{settings.AttestationProvider}' could not produce a quote: {e.Message}. A gateway must not serve unattested: " +
                "run it in a TDX guest, or use 'Simulated' in Devnet mode.", e);
        }
    }

    /// <summary>The image hash of the quote inside an RA-TLS certificate.</summary>
    public static string ImageHashOf(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
    {
        var extension = certificate.Extensions[RaTlsOids.Quote]
            ?? throw new ArgumentException("not an RA-TLS certificate", nameof(certificate));
        var quoteBytes = System.Formats.Asn1.AsnDecoder.ReadOctetString(extension.RawData, System.Formats.Asn1.AsnEncodingRules.DER, out _);
        if (!Cocoon.Attestation.Quotes.TdxQuote.TryParse(quoteBytes, out var quote, out var error))
        {
            throw new ArgumentException("RA-TLS quote does not parse: " + error!.Message, nameof(certificate));
        }

        return Convert.ToHexStringLower(Cocoon.Attestation.Policy.ImageHash.Compute(quote!.Body));
    }

    /// <summary>
    /// Loads the devnet authority from <paramref name="file"/>, or creates it there (atomically: the first node of a
    /// machine writes it, the others load the same), so devnet silos verify each other's simulated quotes.
    /// </summary>
    private static SimulatedAttestationAuthority LoadOrCreateAuthority(string file)
    {
        if (!File.Exists(file))
        {
            using var fresh = SimulatedAttestationAuthority.Create(DateTimeOffset.UtcNow);
            var (certificatePem, keyPem) = fresh.ExportRootPem();
            var temporary = file + "." + Guid.NewGuid().ToString("N") + ".tmp";
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
            File.WriteAllText(temporary, certificatePem + "\n" + keyPem);
            try
            {
                File.Move(temporary, file, overwrite: false);
            }
            catch (IOException) when (File.Exists(file))
            {
                // Another node wrote it first: use theirs.
                File.Delete(temporary);
            }
        }

        var pem = File.ReadAllText(file);
        return SimulatedAttestationAuthority.FromPem(pem, pem);
    }

    /// <summary>Where renewal failures are logged.</summary>
    internal ILogger? Logger
    {
        get => _logger;
        set => _logger = value;
    }

    /// <summary>Starts the renewal loop.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop.Start(RenewLoopAsync);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => _loop.StopAsync(cancellationToken);

    private async Task RenewLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(CheckInterval);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await Rotator.GetCertificateAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (QuoteProviderException e)
            {
                Cocoon.Abstractions.Telemetry.CocoonTelemetry.AttestationFailed("renewal", "quote");
                if (_logger is not null)
                {
                    LogRenewalFailed(_logger, e.Message);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not renew the RA-TLS certificate ({Error}); retrying in a minute")]
    private static partial void LogRenewalFailed(ILogger logger, string error);

    /// <inheritdoc />
    public void Dispose()
    {
        // The container may dispose it twice (as a singleton and as a hosted service): only the first counts.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _loop.Dispose();
        Rotator.Dispose();
        (_provider as IDisposable)?.Dispose();
        _authority?.Dispose();
    }
}
