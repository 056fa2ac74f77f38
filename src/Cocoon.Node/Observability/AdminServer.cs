using System.Text.Json;
using Cocoon.Node.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using Orleans.Dashboard;

namespace Cocoon.Node.Observability;

/// <summary>
/// The node's admin HTTP server (<c>Cocoon:Admin</c>), on its own Kestrel port, loopback unless configured:
/// <c>/metrics</c> (Prometheus), <c>/healthz</c> (the process is alive), <c>/readyz</c> (every
/// <see cref="IReadinessCheck"/>; 200 or 503 with a JSON body naming each check) and the Orleans Dashboard at
/// <c>/dashboard/</c>. It shows cluster internals and counts, never client data; keep it off public interfaces.
/// </summary>
public sealed class AdminServer(NodeSettings settings, IServiceProvider silo, ILoggerFactory loggerFactory) : IHostedService, IAsyncDisposable
{
    /// <summary>Where the Orleans Dashboard is mounted.</summary>
    public const string DashboardPath = "/dashboard";

    private WebApplication? _app;

    /// <summary>The base URL the admin server listens on, once started (the real port when 0 was configured).</summary>
    public Uri? BoundUrl { get; private set; }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var observability = settings.Observability;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        // As the gateway: the silo's host owns logging and the process lifetime. Services the silo registered (the
        // meter provider, the dashboard's grain services) are found through the silo's container.
        builder.Host.UseServiceProviderFactory(new SiloServiceFallbackFactory(silo));
        builder.Services.AddSingleton(loggerFactory);
        // The silo's meter factory: OpenTelemetry only listens to meters of its own container's factory.
        builder.Services.AddSingleton(silo.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        builder.Services.AddSingleton<IHostLifetime, Hosting.EmbeddedLifetime>();
        builder.Services.AddRouting();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(observability.AdminEndpoint);
        });

        _app = builder.Build();
        // Request services come from the admin container's own scopes (its HttpContextFactory holds the inner scope
        // factory): let them fall back to the silo too, for endpoints that ask for silo services per request.
        _app.Use((context, next) =>
        {
            context.RequestServices = new SiloServiceFallback(context.RequestServices, silo, ownsInner: false);
            return next(context);
        });
        _app.MapGet("/healthz", WriteHealthAsync);
        _app.MapGet("/readyz", WriteReadinessAsync);
        _app.MapPrometheusScrapingEndpoint("/metrics", silo.GetRequiredService<MeterProvider>(), null, null);
        if (observability.Dashboard)
        {
            _app.MapOrleansDashboard(routePrefix: DashboardPath);
        }

        await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BoundUrl = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal));
    }

    private static async Task WriteHealthAsync(HttpContext context)
    {
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync("{\"status\":\"alive\"}", context.RequestAborted).ConfigureAwait(false);
    }

    private async Task WriteReadinessAsync(HttpContext context)
    {
        var report = await silo.GetRequiredService<ReadinessService>().CheckAsync(context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = report.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        await using var json = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("status", report.Ready ? "ready" : "not_ready");
        json.WriteString("silo", settings.SiloName);
        json.WriteString("roles", settings.RoleNames);
        json.WriteStartArray("checks");
        foreach (var check in report.Checks)
        {
            json.WriteStartObject();
            json.WriteString("name", check.Name);
            json.WriteString("status", check.State);
            json.WriteString("detail", check.Detail);
            json.WriteNumber("seconds", check.Seconds);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted).ConfigureAwait(false);
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
