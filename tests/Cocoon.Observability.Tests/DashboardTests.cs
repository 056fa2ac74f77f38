using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cocoon.Abstractions.Telemetry;
using Cocoon.Gateway.Tests;
using Cocoon.Observability.Tests.Support;

namespace Cocoon.Observability.Tests;

/// <summary>A dashboard can never silently show nothing: every metric a panel queries is one the code emits.</summary>
[Collection(ObservabilityCollection.Name)]
public sealed partial class DashboardTests(GatewayCluster cluster)
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "dashboards");

    public static TheoryData<string> Dashboards() => [.. Directory.GetFiles(Folder, "*.json").Select(f => Path.GetFileName(f))];

    [Fact]
    public void There_are_dashboards_for_traffic_workers_money_and_the_cluster()
    {
        var titles = Directory.GetFiles(Folder, "*.json")
            .Select(f => JsonDocument.Parse(File.ReadAllText(f)).RootElement.GetProperty("title").GetString()!)
            .ToList();
        foreach (var topic in new[] { "traffic", "workers", "escrow", "attestation" })
        {
            Assert.Contains(titles, t => t.Contains(topic, StringComparison.OrdinalIgnoreCase));
        }
    }

    [Theory]
    [MemberData(nameof(Dashboards))]
    public async Task Every_metric_a_panel_queries_is_emitted_by_the_code(string file)
    {
        var emitted = await EmittedAsync();
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, file)));
        var root = document.RootElement;
        Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("uid").GetString()));

        var queries = new List<(string Where, string Expr)>();
        foreach (var panel in Panels(root.GetProperty("panels")))
        {
            var title = panel.GetProperty("title").GetString();
            if (panel.GetProperty("type").GetString() == "row")
            {
                continue;
            }

            var targets = panel.GetProperty("targets").EnumerateArray().ToList();
            Assert.True(targets.Count > 0, $"{file}: panel '{title}' has no query");
            queries.AddRange(targets.Select(t => ($"panel '{title}'", t.GetProperty("expr").GetString()!)));
        }

        foreach (var variable in root.GetProperty("templating").GetProperty("list").EnumerateArray())
        {
            if (variable.GetProperty("type").GetString() == "query")
            {
                queries.Add(($"variable {variable.GetProperty("name")}", variable.GetProperty("definition").GetString()!));
            }
        }

        Assert.NotEmpty(queries);
        var missing = new List<string>();
        foreach (var (where, expr) in queries)
        {
            var names = MetricNames(expr);
            Assert.True(names.Count > 0, $"{file}: {where} queries no metric: {expr}");
            missing.AddRange(names.Where(n => !emitted.Contains(n)).Select(n => $"{where}: {n}"));
        }

        Assert.True(missing.Count == 0, $"{file} queries metrics the code does not emit:\n{string.Join('\n', missing)}");
    }

    [Fact]
    public void The_query_parser_finds_metrics_and_skips_functions_labels_and_variables()
    {
        Assert.Equal(["a_bucket", "b_total"], MetricNames(
            "histogram_quantile(0.95, sum by (le, cocoon_model) (rate(a_bucket{x=~\"$model\",y=\"2 or 3\"}[$__rate_interval]))) / clamp_min(sum without (z) (b_total offset 5m), 1e-9) > bool 0"));
        Assert.Equal(["cocoon_requests_total"], MetricNames("label_values(cocoon_requests_total, cocoon_model)"));
    }

    // Series names the code emits: a scrape of every silo after real traffic, plus the instruments the telemetry class
    // declares as appearing only once their event happens (derived from the class, not typed here).
    private async Task<HashSet<string>> EmittedAsync()
    {
        var (key, _) = await cluster.CreateFundedKeyAsync();
        Assert.Equal(HttpStatusCode.OK, (await Traffic.EmbedAsync(cluster.Gateway, key, GatewayCluster.Model, ["dashboards"])).Status);
        var emitted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in new[] { cluster.Proxy, cluster.WorkerA, cluster.WorkerB })
        {
            emitted.UnionWith((await PrometheusText.ScrapeAsync(node.AdminUrl!)).Names);
        }

        emitted.UnionWith(CocoonTelemetry.ConditionalPrometheusNames.SelectMany(n => n.Series));
        return emitted;
    }

    private static IEnumerable<JsonElement> Panels(JsonElement panels)
    {
        foreach (var panel in panels.EnumerateArray())
        {
            yield return panel;
            if (panel.TryGetProperty("panels", out var nested))
            {
                foreach (var inner in Panels(nested))
                {
                    yield return inner;
                }
            }
        }
    }

    /// <summary>The metric names a PromQL expression (or a Grafana <c>label_values</c> query) reads.</summary>
    internal static List<string> MetricNames(string expr)
    {
        var text = LabelValues().Replace(expr, "$1");
        text = StringLiteral().Replace(text, "\"\"");
        text = Matchers().Replace(text, " ");
        text = Ranges().Replace(text, " ");
        text = Grouping().Replace(text, " ");
        text = Variable().Replace(text, " ");
        var names = new List<string>();
        foreach (Match m in Identifier().Matches(text))
        {
            var name = m.Value;
            var rest = text[(m.Index + m.Length)..].TrimStart();
            if (rest.StartsWith('(') || Keywords.Contains(name) || names.Contains(name))
            {
                continue;
            }

            names.Add(name);
        }

        return names;
    }

    private static readonly HashSet<string> Keywords = ["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan"];

    [GeneratedRegex(@"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,[^)]*\)")]
    private static partial Regex LabelValues();

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Matchers();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Ranges();

    [GeneratedRegex(@"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Grouping();

    [GeneratedRegex(@"\$\{[^}]*\}|\$[a-zA-Z_]\w*")]
    private static partial Regex Variable();

    [GeneratedRegex(@"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex Identifier();
}
