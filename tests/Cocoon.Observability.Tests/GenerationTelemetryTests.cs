using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Cocoon.Abstractions.Telemetry;
using Cocoon.Gateway.Tests;
using Cocoon.Observability.Tests.Support;

namespace Cocoon.Observability.Tests;

/// <summary>A streamed chat request: one trace end to end, time to first token and tokens by class.</summary>
[Collection(ObservabilityCollection.Name)]
public sealed class GenerationTelemetryTests(GatewayCluster cluster)
{
    private static readonly ActivitySource ClientSource = new("Cocoon.Observability.Tests.Generation");

    private static (string, string) L(string key, string value) => (key.Replace('.', '_'), value);

    [Fact]
    public async Task A_streamed_chat_request_is_one_trace_and_records_time_to_first_token_and_completion_tokens()
    {
        ClusterObservation.Attach(cluster);
        var (key, _) = await cluster.CreateFundedKeyAsync();
        var before = await PrometheusText.ScrapeAsync(cluster.Proxy.AdminUrl!);

        string body;
        ActivityTraceId traceId;
        using (var client = ClientSource.StartActivity("client chat", ActivityKind.Client))
        {
            Assert.NotNull(client);
            traceId = client.TraceId;
            using var http = new HttpClient();
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(cluster.Gateway, "/v1/chat/completions"))
            {
                Content = new StringContent(
                    $$$"""{"model":"{{{GatewayCluster.TextModel}}}","messages":[{"role":"user","content":"hello there"}],"max_tokens":6,"stream":true,"stream_options":{"include_usage":true}}""",
                    Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
            body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        }

        Assert.Contains("data: [DONE]", body, StringComparison.Ordinal);

        // Metrics: one chat request, served, with one time-to-first-token observation and completion tokens.
        var after = await PrometheusText.ScrapeAsync(cluster.Proxy.AdminUrl!);
        double Delta(string name, params (string, string)[] labels) => after.Sum(name, labels) - before.Sum(name, labels);
        var model = L(CocoonTelemetry.ModelTag, GatewayCluster.TextModel);
        Assert.Equal(1, Delta("cocoon_requests_total", L(CocoonTelemetry.OperationTag, CocoonTelemetry.Operations.Chat), model, L(CocoonTelemetry.StatusTag, "200")));
        Assert.Equal(1, Delta("cocoon_time_to_first_token_seconds_count", model));
        Assert.InRange(Delta("cocoon_time_to_first_token_seconds_sum", model), 1e-6, 120);
        Assert.InRange(Delta("cocoon_tokens_total", model, L(CocoonTelemetry.TokenClassTag, CocoonTelemetry.TokenClasses.Completion)), 1, 6);
        Assert.True(Delta("cocoon_tokens_total", model, L(CocoonTelemetry.TokenClassTag, CocoonTelemetry.TokenClasses.Prompt)) > 0);

        // Trace: the gateway's span, the service's request span, escrow, routing and the worker's inference span.
        IReadOnlyList<Activity> trace = [];
        for (var i = 0; i < 50 && !trace.Any(s => s.OperationName == "cocoon.escrow.settle" && trace.Any(g => g.Kind == ActivityKind.Server && g.Source.Name == "Microsoft.AspNetCore")); i++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
            trace = [.. SpanCapture.Snapshot().Where(s => s.TraceId == traceId).DistinctBy(s => s.SpanId)];
        }

        var gateway = Assert.Single(trace, s => s.Kind == ActivityKind.Server && s.Source.Name == "Microsoft.AspNetCore");
        Assert.Equal("/v1/chat/completions", gateway.GetTagItem("url.path"));
        var served = Assert.Single(trace, s => s.OperationName == "cocoon.request");
        Assert.Equal(CocoonTelemetry.Operations.Chat, served.GetTagItem(CocoonTelemetry.OperationTag));
        Assert.Equal("200", served.GetTagItem(CocoonTelemetry.StatusTag));
        Assert.Contains(served.Events, e => e.Name == "first_token");
        foreach (var name in new[] { "cocoon.escrow.reserve", "cocoon.route", "cocoon.inference", "cocoon.escrow.settle" })
        {
            Assert.Contains(trace, s => s.OperationName == name);
        }

        Assert.Equal(served.GetTagItem(CocoonTelemetry.WorkerTag), trace.First(s => s.OperationName == "cocoon.inference").GetTagItem(CocoonTelemetry.WorkerTag));
    }
}
