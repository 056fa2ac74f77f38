using System.Diagnostics;
using System.Net;
using Cocoon.Gateway.Tests;
using Cocoon.Observability.Tests.Support;

namespace Cocoon.Observability.Tests;

/// <summary>A request is one trace from the gateway through the grains to the inference host.</summary>
[Collection(ObservabilityCollection.Name)]
public sealed class TraceTests(GatewayCluster cluster)
{
    private static readonly ActivitySource ClientSource = new("Cocoon.Observability.Tests");

    [Fact]
    public async Task One_embeddings_request_is_one_trace_with_gateway_escrow_routing_and_inference_spans()
    {
        ClusterObservation.Attach(cluster);
        var (key, _) = await cluster.CreateFundedKeyAsync();
        // The client's own span: the HTTP call, and so the whole request, joins its trace (W3C traceparent).
        EmbeddingAnswer answer;
        ActivityTraceId traceId;
        using (var client = ClientSource.StartActivity("client call", ActivityKind.Client))
        {
            Assert.NotNull(client);
            traceId = client.TraceId;
            answer = await Traffic.EmbedAsync(cluster.Gateway, key, GatewayCluster.Model, ["trace me"]);
        }

        Assert.Equal(HttpStatusCode.OK, answer.Status);

        // The host span ends after the response is written: wait for it to be exported.
        IReadOnlyList<Activity> trace = [];
        for (var i = 0; i < 50 && !trace.Any(s => s.Kind == ActivityKind.Server && s.Source.Name == "Microsoft.AspNetCore"); i++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
            trace = [.. SpanCapture.Snapshot().Where(s => s.TraceId == traceId).DistinctBy(s => s.SpanId)];
        }

        var gateway = Assert.Single(trace, s => s.Kind == ActivityKind.Server && s.Source.Name == "Microsoft.AspNetCore");
        Assert.Equal("/v1/embeddings", gateway.GetTagItem("url.path"));
        var request = Assert.Single(trace, s => s.OperationName == "cocoon.request");
        var reserve = Assert.Single(trace, s => s.OperationName == "cocoon.escrow.reserve");
        var route = Assert.Single(trace, s => s.OperationName == "cocoon.route");
        var inference = Assert.Single(trace, s => s.OperationName == "cocoon.inference");
        var settle = Assert.Single(trace, s => s.OperationName == "cocoon.escrow.settle");

        // Joined: every Cocoon span descends from the gateway's server span, through Orleans's grain-call spans.
        var byId = trace.ToDictionary(s => s.SpanId);
        foreach (var span in new[] { request, reserve, route, inference, settle })
        {
            Assert.True(DescendsFrom(span, gateway, byId), $"{span.OperationName} is not under the gateway span");
        }

        Assert.True(DescendsFrom(inference, request, byId));
        Assert.True(DescendsFrom(reserve, request, byId));
        Assert.Contains(trace, s => s.Source.Name == "Microsoft.Orleans.Application" && s.DisplayName.Contains("IInferenceHostGrain", StringComparison.Ordinal));

        // Bounded tags: model, worker, status; the worker that served it.
        Assert.Equal(GatewayCluster.Model, request.GetTagItem("cocoon.model"));
        Assert.Equal(answer.Worker, request.GetTagItem("cocoon.worker"));
        Assert.Equal("200", request.GetTagItem("cocoon.status"));
        Assert.Equal(answer.Worker, route.GetTagItem("cocoon.worker"));
        Assert.Equal(answer.Worker, inference.GetTagItem("cocoon.worker"));
    }

    private static bool DescendsFrom(Activity span, Activity ancestor, Dictionary<ActivitySpanId, Activity> byId)
    {
        var current = span;
        for (var depth = 0; depth < 64; depth++)
        {
            if (current.ParentSpanId == ancestor.SpanId)
            {
                return true;
            }

            if (!byId.TryGetValue(current.ParentSpanId, out var parent))
            {
                return false;
            }

            current = parent;
        }

        return false;
    }
}
