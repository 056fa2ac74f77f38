using System.Diagnostics;
using System.Diagnostics.Metrics;
using Cocoon.Abstractions.Telemetry;
using Cocoon.Grains.Telemetry;
using Cocoon.Node.Configuration;
using Cocoon.Node.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Orleans.Dashboard;

namespace Cocoon.Node.Observability;

/// <summary>
/// Wires DESIGN section 10 into a node: OpenTelemetry metrics (the <c>Cocoon</c> and <c>Microsoft.Orleans</c>
/// meters, ASP.NET Core, HttpClient, .NET runtime) and traces (the <c>Cocoon</c> source, Orleans's application grain
/// calls with activity propagation, ASP.NET Core, HttpClient), a Prometheus exporter, OTLP export when
/// <c>Cocoon:Telemetry:OtlpEndpoint</c> is set, the readiness checks and the admin server.
/// </summary>
public static class NodeObservability
{
    /// <summary>Orleans's activity source for application grain calls.</summary>
    public const string OrleansApplicationSource = "Microsoft.Orleans.Application";

    /// <summary>Orleans's meter.</summary>
    public const string OrleansMeter = "Microsoft.Orleans";

    /// <summary>Adds telemetry, readiness and (when enabled) the admin server to a node's host.</summary>
    public static void AddCocoonObservability(this IHostApplicationBuilder builder, NodeSettings settings)
    {
        var observability = settings.Observability;
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r
                .AddService("cocoon-node", serviceInstanceId: settings.SiloName)
                .AddAttributes(
                [
                    new("cocoon.cluster", settings.ClusterId),
                    new("cocoon.roles", settings.RoleNames),
                ]))
            .WithMetrics(m =>
            {
                m.AddMeter(CocoonTelemetry.Name, OrleansMeter)
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation()
                    // No response cache: every scrape sees the counters as they are (Prometheus scrapes every 15 s anyway).
                    .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
                ((IDeferredMeterProviderBuilder)m).Configure((services, builder) =>
                {
                    // Meters made by a container's IMeterFactory (Orleans, ASP.NET Core) belong to that host: with
                    // several silos in one process (tests, embedding), each node reports only its own, and one host's
                    // shutdown never completes the metrics another host reports under the same name.
                    var own = services.GetRequiredService<IMeterFactory>();
                    builder.AddView(instrument => instrument.Meter.Scope is { } scope && !ReferenceEquals(scope, own)
                        ? MetricStreamConfiguration.Drop
                        : null);
                });
                if (observability.OtlpEndpoint is not null)
                {
                    m.AddOtlpExporter(o => Otlp(o, observability));
                }
            })
            .WithTracing(t =>
            {
                t.AddSource(CocoonTelemetry.Name, OrleansApplicationSource)
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddProcessor(new GrainIdScrubber());
                if (observability.OtlpEndpoint is not null)
                {
                    t.AddOtlpExporter(o => Otlp(o, observability));
                }
            });
        _ = telemetry;

        builder.Services.AddSingleton<ReadinessService>();
        builder.Services.AddSingleton<IReadinessCheck, ClusterReadinessCheck>();
        builder.Services.AddSingleton<IReadinessCheck, StorageReadinessCheck>();
        if (settings.Roles.HasFlag(SiloRoles.Worker) && settings.WorkerModels.Count > 0)
        {
            builder.Services.AddSingleton<IReadinessCheck, ModelsReadinessCheck>();
        }

        builder.Services.AddSingleton<IReadinessCheck>(sp => new ChainReadinessCheck(sp.GetService<Cocoon.Grains.Ledger.ProxyChain>()));
        builder.Services.AddSingleton<IReadinessCheck>(sp => new LedgerReadinessCheck(sp.GetService<Cocoon.Grains.Ledger.LedgerIntegrity>()));
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IReadinessCheck>(sp => sp.GetService<NodeAttestation>() is { } attestation
            ? new AttestationReadinessCheck(attestation, sp.GetRequiredService<TimeProvider>())
            : new NoAttestationCheck());

        if (observability.AdminEnabled)
        {
            builder.Services.AddSingleton<AdminServer>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<AdminServer>());
        }
    }

    /// <summary>The silo side: activity propagation across grain calls, request metrics, the dashboard's grain services.</summary>
    public static void ConfigureSilo(ISiloBuilder silo, NodeSettings settings)
    {
        silo.AddActivityPropagation();
        silo.AddIncomingGrainCallFilter<RequestTelemetryFilter>();
        if (settings.Observability.Dashboard)
        {
            silo.AddDashboard();
        }
    }

    private static void Otlp(OtlpExporterOptions options, ObservabilitySettings settings)
    {
        options.Endpoint = settings.OtlpEndpoint!;
        options.Protocol = settings.OtlpHttp ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
    }

    /// <summary>Without attestation (<c>Cocoon:Attestation:Provider=None</c>, or a worker without silo TLS) there is nothing to be fresh.</summary>
    private sealed class NoAttestationCheck : IReadinessCheck
    {
        public string Name => "attestation";

        public Task<ReadinessResult> CheckAsync(CancellationToken cancellationToken) =>
            Task.FromResult(ReadinessResult.Ready("not attesting (Cocoon:Attestation:Provider=None or no silo TLS)"));
    }

    /// <summary>
    /// Orleans tags its grain-call spans with the target and source grain ids; Cocoon's escrow and API-key grains are
    /// keyed by account id and key hash, which identify clients, so those tags are dropped before any export.
    /// </summary>
    private sealed class GrainIdScrubber : BaseProcessor<Activity>
    {
        public override void OnEnd(Activity data)
        {
            foreach (var tag in data.TagObjects.ToList())
            {
                if (tag.Key.EndsWith("_id", StringComparison.Ordinal) && tag.Key.StartsWith("rpc.orleans.", StringComparison.Ordinal))
                {
                    data.SetTag(tag.Key, null);
                }
            }
        }
    }
}
