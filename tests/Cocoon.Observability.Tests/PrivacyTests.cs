using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Cocoon.Gateway.Tests;
using Cocoon.Observability.Tests.Support;
using Npgsql;

namespace Cocoon.Observability.Tests;

/// <summary>DESIGN section 2: prompts never reach a log line, a metric, a span or a database row.</summary>
[Collection(ObservabilityCollection.Name)]
public sealed partial class PrivacyTests(GatewayCluster cluster)
{
    [Fact]
    public async Task A_marker_in_the_input_appears_in_no_log_line_metric_span_or_database_row()
    {
        ClusterObservation.Attach(cluster);
        var marker = Traffic.Marker();
        var (key, _) = await cluster.CreateFundedKeyAsync();

        // Served requests, with the marker in the inputs and as the end-user id.
        for (var i = 0; i < 3; i++)
        {
            var ok = await Traffic.EmbedAsync(cluster.Gateway, key, GatewayCluster.Model, [$"{marker} the input {i}", $"another {marker}"], user: marker);
            Assert.Equal(HttpStatusCode.OK, ok.Status);
        }

        // Generation: a chat (streamed and not) and a completion with the marker in the messages, the prompt and the user.
        using (var http = new HttpClient())
        {
            foreach (var (path, json) in new[]
            {
                ("/v1/chat/completions", $$"""{"model":"{{GatewayCluster.TextModel}}","messages":[{"role":"user","content":"{{marker}} say something"}],"max_tokens":4,"user":"{{marker}}"}"""),
                ("/v1/chat/completions", $$"""{"model":"{{GatewayCluster.TextModel}}","messages":[{"role":"system","content":"{{marker}}"},{"role":"user","content":"{{marker}}"}],"max_tokens":4,"stream":true}"""),
                ("/v1/completions", $$"""{"model":"{{GatewayCluster.TextModel}}","prompt":"{{marker}} once upon","max_tokens":4}"""),
            })
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(cluster.Gateway, path)) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
                using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
                var answer = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
                Assert.True(response.StatusCode == HttpStatusCode.OK, answer);
            }
        }

        // Requests that fail on the way (input too long for the model, unknown key), which take the error paths.
        var tooLong = await Traffic.EmbedAsync(cluster.Gateway, key, GatewayCluster.Model, [string.Join(' ', Enumerable.Repeat(marker, 400))]);
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Traffic.EmbedAsync(cluster.Gateway, "sk-wrong", GatewayCluster.Model, [marker])).Status);

        // Logs: every line at every level since the capture started (the capture itself is shown to work).
        await Task.Delay(200, TestContext.Current.CancellationToken);
        var logs = ClusterObservation.Logs.Lines;
        Assert.NotEmpty(logs);
        Assert.DoesNotContain(logs, l => l.Contains(marker, StringComparison.Ordinal));

        // Metrics: every series and label of every silo's /metrics.
        foreach (var node in new[] { cluster.Proxy, cluster.WorkerA, cluster.WorkerB })
        {
            var scrape = await PrometheusText.ScrapeAsync(node.AdminUrl!);
            Assert.Contains("cocoon_requests_total", scrape.Names);
            Assert.DoesNotContain(marker, scrape.Raw, StringComparison.Ordinal);
        }

        // Spans: names, tags, events, baggage of every span any source in the process exported.
        var spans = SpanCapture.Snapshot();
        Assert.Contains(spans, s => s.OperationName == "cocoon.inference");
        Assert.DoesNotContain(spans.SelectMany(SpanCapture.Texts), t => t.Contains(marker, StringComparison.Ordinal));

        // Database: every row of every table as text, and every binary value decoded.
        var (rows, hits) = await DumpAndSearchAsync(cluster.ConnectionString, marker);
        Assert.True(rows > 0, "the database dump read no rows");
        Assert.Empty(hits);
    }

    private static async Task<(int Rows, List<string> Hits)> DumpAndSearchAsync(string connectionString, string marker)
    {
        var needle = Encoding.UTF8.GetBytes(marker);
        var hits = new List<string>();
        var rows = 0;
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        var tables = new List<(string Schema, string Name)>();
        await using (var list = new NpgsqlCommand(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')", connection))
        await using (var reader = await list.ExecuteReaderAsync(TestContext.Current.CancellationToken))
        {
            while (await reader.ReadAsync(TestContext.Current.CancellationToken))
            {
                tables.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        Assert.NotEmpty(tables);
        foreach (var (schema, name) in tables)
        {
            await using var dump = new NpgsqlCommand($"SELECT t::text FROM \"{schema}\".\"{name}\" t", connection);
            await using var reader = await dump.ExecuteReaderAsync(TestContext.Current.CancellationToken);
            while (await reader.ReadAsync(TestContext.Current.CancellationToken))
            {
                rows++;
                var text = reader.GetString(0);
                if (text.Contains(marker, StringComparison.Ordinal))
                {
                    hits.Add($"{schema}.{name}: text");
                }

                // bytea columns print as \x followed by hex: decode them and look for the UTF-8 bytes.
                foreach (Match hex in HexRun().Matches(text))
                {
                    var bytes = Convert.FromHexString(hex.Groups[1].Value.Length % 2 == 0 ? hex.Groups[1].Value : hex.Groups[1].Value[..^1]);
                    if (bytes.AsSpan().IndexOf(needle) >= 0)
                    {
                        hits.Add($"{schema}.{name}: bytea");
                    }
                }
            }
        }

        return (rows, hits);
    }

    [GeneratedRegex(@"\\\\?x([0-9a-fA-F]{8,})")]
    private static partial Regex HexRun();
}
