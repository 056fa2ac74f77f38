using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cocoon.Abstractions.Telemetry;
using Cocoon.Gateway.Tests;
using Cocoon.Node.Configuration;
using Cocoon.Node.Hosting;
using Cocoon.Observability.Tests.Support;

namespace Cocoon.Observability.Tests;

/// <summary>DESIGN section 10: after real embedding traffic, <c>/metrics</c> shows every instrument with the right counts.</summary>
[Collection(ObservabilityCollection.Name)]
public sealed class MetricsTests(GatewayCluster cluster)
{
    private const string Model = GatewayCluster.Model;

    private static (string, string) L(string key, string value) => (key.Replace('.', '_'), value);

    [Fact]
    public async Task Metrics_after_embedding_traffic_show_every_instrument_with_counts_equal_to_the_requests_sent()
    {
        var admin = cluster.Proxy.AdminUrl!;
        var (key, _) = await cluster.CreateFundedKeyAsync();
        var before = await PrometheusText.ScrapeAsync(admin);

        var answers = new List<EmbeddingAnswer>();
        for (var i = 0; i < 3; i++)
        {
            var answer = await Traffic.EmbedAsync(cluster.Gateway, key, Model, [$"first text {i}", "a second, slightly longer text to embed"]);
            Assert.Equal(HttpStatusCode.OK, answer.Status);
            answers.Add(answer);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await Traffic.EmbedAsync(cluster.Gateway, "sk-not-a-key", Model, ["x"])).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Traffic.EmbedAsync(cluster.Gateway, key, "no-such-model-" + Guid.NewGuid().ToString("N"), ["x"])).Status);

        var after = await PrometheusText.ScrapeAsync(admin);
        double Delta(string name, params (string, string)[] labels) => after.Sum(name, labels) - before.Sum(name, labels);

        // Every instrument of the telemetry class is there, except those whose event has not happened.
        var conditional = CocoonTelemetry.ConditionalPrometheusNames.Select(n => n.Name).ToHashSet();
        foreach (var instrument in CocoonTelemetry.PrometheusNames.Where(n => !conditional.Contains(n.Name)))
        {
            foreach (var series in instrument.Series)
            {
                Assert.Contains(series, after.Names);
            }
        }

        // Requests: exactly the three served, the unknown key and the unknown model (whose name is not a tag value).
        var embeddings = L(CocoonTelemetry.OperationTag, CocoonTelemetry.Operations.Embeddings);
        Assert.Equal(3, Delta("cocoon_requests_total", embeddings, L(CocoonTelemetry.ModelTag, Model), L(CocoonTelemetry.StatusTag, "200")));
        Assert.Equal(1, Delta("cocoon_requests_total", embeddings, L(CocoonTelemetry.ModelTag, CocoonTelemetry.None), L(CocoonTelemetry.StatusTag, "401")));
        Assert.Equal(1, Delta("cocoon_requests_total", embeddings, L(CocoonTelemetry.ModelTag, CocoonTelemetry.None), L(CocoonTelemetry.StatusTag, "404")));
        Assert.DoesNotContain(after.Samples, s => s.Labels.Values.Any(v => v.StartsWith("no-such-model-", StringComparison.Ordinal)));
        foreach (var worker in answers.GroupBy(a => a.Worker))
        {
            Assert.Equal(worker.Count(), Delta("cocoon_requests_total", L(CocoonTelemetry.WorkerTag, worker.Key), L(CocoonTelemetry.StatusTag, "200")));
        }

        // Latency: one observation per request, each a positive time, in buckets that add up.
        var ok = new[] { embeddings, L(CocoonTelemetry.ModelTag, Model), L(CocoonTelemetry.StatusTag, "200") };
        Assert.Equal(3, Delta("cocoon_request_duration_seconds_count", ok));
        var seconds = Delta("cocoon_request_duration_seconds_sum", ok);
        Assert.InRange(seconds, 1e-6, 3 * 120);
        Assert.Equal(3, Delta("cocoon_request_duration_seconds_bucket", [.. ok, ("le", "+Inf")]));

        // Tokens, by class: exactly what the responses reported as usage; nothing generated.
        Assert.Equal(answers.Sum(a => a.PromptTokens), Delta("cocoon_tokens_total", L(CocoonTelemetry.ModelTag, Model), L(CocoonTelemetry.TokenClassTag, CocoonTelemetry.TokenClasses.Prompt)));
        Assert.Equal(0, Delta("cocoon_tokens_total", L(CocoonTelemetry.TokenClassTag, CocoonTelemetry.TokenClasses.Completion)));

        // Money: charged is exactly the costs the responses reported; each reservation covered its charge.
        var charged = Delta("cocoon_escrow_charged_total");
        Assert.Equal(answers.Sum(a => a.CostNanoTon), charged);
        Assert.True(Delta("cocoon_escrow_reserved_total") >= charged && charged > 0, $"reserved {Delta("cocoon_escrow_reserved_total")} < charged {charged}");

        // Capacity and leases: both workers live with the capacity they registered (2); nothing running now.
        var capacity = after.Of("cocoon_worker_capacity").Where(s => s.Has(L(CocoonTelemetry.ModelTag, Model))).ToList();
        Assert.Equal(2, capacity.Count);
        Assert.All(capacity, s => Assert.Equal(2, s.Value));
        Assert.Contains(capacity, s => s.Has(L(CocoonTelemetry.WorkerTag, answers[0].Worker)));
        Assert.Equal(2, after.Sum("cocoon_worker_leases", L(CocoonTelemetry.ModelTag, Model), L(CocoonTelemetry.LeaseStateTag, CocoonTelemetry.LeaseStates.Live)));
        Assert.All(after.Of("cocoon_requests_active"), s => Assert.Equal(0, s.Value));
        Assert.Contains(after.Of("cocoon_requests_active"), s => s.Has(L(CocoonTelemetry.WorkerTag, answers[0].Worker)));

        // Settlement has nothing pending on a node without a chain.
        Assert.Equal(0, after.Sum("cocoon_settlement_backlog"));
        Assert.Equal(0, after.Sum("cocoon_settlement_age_seconds"));

        // The engine's own instruments, Orleans, ASP.NET Core and the runtime are on the same endpoint.
        Assert.True(Delta("cocoon_inference_tokens_total", L(CocoonTelemetry.ModelTag, Model)) >= answers.Sum(a => a.PromptTokens));
        Assert.Contains(after.Names, n => n.StartsWith("orleans_", StringComparison.Ordinal));
        Assert.Contains("http_server_request_duration_seconds_bucket", after.Names);
        Assert.Contains(after.Names, n => n.StartsWith("dotnet_", StringComparison.Ordinal) || n.StartsWith("process_runtime_dotnet_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_silo_certificate_refused_by_silo_tls_counts_an_attestation_failure_at_its_step()
    {
        var admin = cluster.Proxy.AdminUrl!;
        var before = await PrometheusText.ScrapeAsync(admin);

        // A plain self-signed certificate (no quote) offered as a silo's RA-TLS certificate: refused.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = new CertificateRequest("CN=not-attested", key, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(10));
        var validator = new SiloTlsValidator(NodeMode.Production, [new string('a', 64)], simulatedRoot: null);
        var result = validator.Validate(certificate);
        Assert.False(result.IsValid);

        var after = await PrometheusText.ScrapeAsync(admin);
        var labels = new[] { L(CocoonTelemetry.AttestationSourceTag, "silo_tls"), L(CocoonTelemetry.AttestationStepTag, result.FailedStep!.Value.ToString()) };
        Assert.Equal(1, after.Sum("cocoon_attestation_failures_total", labels) - before.Sum("cocoon_attestation_failures_total", labels));
    }
}
