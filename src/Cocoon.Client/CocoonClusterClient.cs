using System.Net;
using System.Security.Cryptography.X509Certificates;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.RaTls;
using Cocoon.Attestation.Verification;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace Cocoon.Client;

/// <summary>How an app backend finds and joins a Cocoon cluster as an Orleans client.</summary>
public sealed record CocoonClientOptions
{
    /// <summary>The cluster id the silos were started with.</summary>
    public string ClusterId { get; init; } = "cocoon";

    /// <summary>The service id the silos were started with.</summary>
    public string ServiceId { get; init; } = "cocoon";

    /// <summary>Find gateways in the cluster's membership table (Npgsql connection string); or use <see cref="Gateways"/>.</summary>
    public string? MembershipConnectionString { get; init; }

    /// <summary>Fixed silo client-gateway endpoints, when the membership database is not reachable from the client.</summary>
    public IReadOnlyList<IPEndPoint> Gateways { get; init; } = [];

    /// <summary>Where the client logs; null for nowhere.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }

    /// <summary>
    /// TLS to silos that run with <c>Cocoon:Attestation:SiloTls</c>: the client talks only to a silo whose RA-TLS
    /// certificate passes <see cref="CocoonClientTls"/>. Null: plain TCP (silos without silo TLS).
    /// </summary>
    public CocoonClientTls? Tls { get; init; }

    /// <summary>
    /// The operator token, for operator tools (<c>cocoon</c>): sent with every call (under
    /// <see cref="OperatorTokenKey"/> in the request context) so the silos let it reach the operator-only interfaces in
    /// <c>Cocoon.Abstractions.Operations</c>; the cluster knows only its SHA-256 (<c>Cocoon:Operators:TokenSha256</c>).
    /// Null for an app backend, which may call only the public interfaces.
    /// </summary>
    public string? OperatorToken { get; init; }

    /// <summary>The request context key the operator token travels under.</summary>
    public const string OperatorTokenKey = "cocoon.operator-token";
}

/// <summary>What a silo's RA-TLS certificate must prove before the client talks to it (the silos' own rules).</summary>
public sealed record CocoonClientTls
{
    /// <summary>Production (default) refuses every simulated quote; Devnet accepts those under <see cref="SimulatedRoot"/>.</summary>
    public AttestationMode Mode { get; init; } = AttestationMode.Production;

    /// <summary>Image hashes (hex) a silo must attest to; at least one.</summary>
    public IReadOnlyCollection<string> AllowedImageHashes { get; init; } = [];

    /// <summary>The devnet authority's root certificate; used only in <see cref="AttestationMode.Devnet"/>.</summary>
    public X509Certificate2? SimulatedRoot { get; init; }

    /// <summary>The validator these rules describe.</summary>
    /// <exception cref="ArgumentException">No image hash is allowed.</exception>
    public RaTlsCertificateValidator CreateValidator()
    {
        if (AllowedImageHashes.Count == 0)
        {
            // An empty allow-list admits any image in AttestationPolicy: never what a TLS client means.
            throw new ArgumentException("TLS to the silos needs at least one allowed image hash.", nameof(AllowedImageHashes));
        }

        var verifier = new QuoteVerifier(new QuoteVerifierOptions
        {
            Mode = Mode,
            SimulatedRoot = Mode == AttestationMode.Devnet ? SimulatedRoot : null,
        });
        return new RaTlsCertificateValidator(verifier, new AttestationPolicy { AllowedImageHashes = AllowedImageHashes });
    }
}

/// <summary>
/// A connected Orleans client to a Cocoon cluster: typed grain interfaces from <c>Cocoon.Abstractions</c> through
/// <see cref="Grains"/>. Dispose it to disconnect.
/// </summary>
public sealed class CocoonClusterClient : IAsyncDisposable
{
    private static readonly Type[] ProviderFactories = [typeof(NpgsqlFactory)];
    private readonly IHost _host;

    private CocoonClusterClient(IHost host)
    {
        _host = host;
        Grains = host.Services.GetRequiredService<IClusterClient>();
    }

    /// <summary>The cluster's grains.</summary>
    public IClusterClient Grains { get; }

    /// <summary>Connects, retrying until <paramref name="cancellationToken"/> while no gateway answers.</summary>
    public static async Task<CocoonClusterClient> ConnectAsync(CocoonClientOptions options, CancellationToken cancellationToken = default)
    {
        _ = ProviderFactories;
        if (options.MembershipConnectionString is null && options.Gateways.Count == 0)
        {
            throw new ArgumentException("Give either MembershipConnectionString or at least one gateway endpoint.", nameof(options));
        }

        var validator = options.Tls?.CreateValidator();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        options.ConfigureLogging?.Invoke(builder.Logging);
        builder.UseOrleansClient(client =>
        {
            // The app's current trace (W3C trace context) continues into the silos' spans (DESIGN section 10).
            client.AddActivityPropagation();
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = options.ClusterId;
                o.ServiceId = options.ServiceId;
            });
            if (options.MembershipConnectionString is { } connectionString)
            {
                client.UseAdoNetClustering(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = connectionString;
                });
            }
            else
            {
                client.UseStaticClustering(options.Gateways.ToArray());
            }

            if (options.OperatorToken is { Length: > 0 } operatorToken)
            {
                // Async, so the token is set for the call's message only and not left in the caller's request context.
                client.AddOutgoingGrainCallFilter(async context =>
                {
                    RequestContext.Set(CocoonClientOptions.OperatorTokenKey, operatorToken);
                    await context.Invoke();
                });
            }

            if (validator is not null)
            {
                // No client certificate: silos admit clients without attestation, over TLS; the client checks the silo.
                client.UseTls(o =>
                {
                    o.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
                    o.ClientCertificateMode = RemoteCertificateMode.NoCertificate;
                    o.RemoteCertificateValidation = (certificate, _, _) => certificate is not null && validator.Validate(certificate).IsValid;
                });
            }
        });

        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return new CocoonClusterClient(host);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        finally
        {
            _host.Dispose();
        }
    }
}
