using Cocoon.Gateway;
using Cocoon.Node.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Node.Hosting;

/// <summary>
/// Runs the HTTP gateway of a proxy silo as its own Kestrel server inside the silo's host, started after the silo
/// (so the first request finds the cluster up) and stopped before it. It reaches the cluster through the silo's own
/// <see cref="IGrainFactory"/>.
/// </summary>
/// <remarks>
/// With attestation, <c>/v1/attestation</c> serves the silo's RA-TLS certificate, and an https gateway URL serves TLS
/// with that certificate, read from the rotator at every handshake, so renewal needs no restart.
/// </remarks>
public sealed class GatewayServer(NodeSettings settings, IGrainFactory grains, ILoggerFactory loggerFactory, IServiceProvider silo, NodeAttestation? attestation = null) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    /// <summary>The base URL the gateway listens on, once started (the real port when 0 was configured).</summary>
    public Uri? BoundUrl { get; private set; }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        // The silo's host owns logging and process signals; the embedded web server uses its logger factory and
        // must not install a second console lifetime of its own.
        builder.Services.AddSingleton(loggerFactory);
        // The silo's meter factory, so OpenTelemetry (registered in the silo) sees the gateway's ASP.NET Core metrics.
        builder.Services.AddSingleton(silo.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        builder.Services.AddSingleton<IHostLifetime, EmbeddedLifetime>();
        builder.Services.AddSingleton(grains);
        if (attestation is not null)
        {
            builder.Services.AddSingleton(attestation.Source);
        }
        builder.WebHost.UseUrls(settings.GatewayUrl!.GetLeftPart(UriPartial.Authority));
        if (settings.GatewayUrl.Scheme == Uri.UriSchemeHttps)
        {
            // The slim builder leaves https out unless asked; the certificate comes from the selector below.
            builder.WebHost.UseKestrelHttpsConfiguration();
        }

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 8L * 1024 * 1024;
            // Slow or stalled clients (a body that never finishes) are cut off instead of holding a connection forever: headers
            // within 10 s, and the body at 240 bytes/s or more after a 5 s grace (Kestrel's defaults, stated so they stay).
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            k.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(240, TimeSpan.FromSeconds(5));
            if (attestation is not null)
            {
                var rotator = attestation.Rotator;
                k.ConfigureHttpsDefaults(https => https.ServerCertificateSelector = (_, _) => rotator.Current);
            }
        });
        _app = builder.Build();
        _app.MapCocoonGateway();
        await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BoundUrl = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>A host lifetime that leaves start and stop to the enclosing host.</summary>
internal sealed class EmbeddedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
