using System.Globalization;
using System.Text;

namespace Cocoon.Observability.Tests.Support;

/// <summary>One sample of a Prometheus text exposition: <c>name{labels} value</c>.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    /// <summary>Whether every given label has the given value.</summary>
    public bool Has(params (string Key, string Value)[] labels) =>
        labels.All(l => Labels.TryGetValue(l.Key, out var v) && v == l.Value);
}

/// <summary>A parsed scrape of <c>/metrics</c> (Prometheus text format 0.0.4).</summary>
public sealed class PrometheusText
{
    private PrometheusText(IReadOnlyList<PrometheusSample> samples, string raw)
    {
        Samples = samples;
        Raw = raw;
    }

    /// <summary>Every sample.</summary>
    public IReadOnlyList<PrometheusSample> Samples { get; }

    /// <summary>The text as scraped.</summary>
    public string Raw { get; }

    /// <summary>Every series name present.</summary>
    public IReadOnlySet<string> Names => Samples.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>The sum of <paramref name="name"/> over the samples that carry every given label.</summary>
    public double Sum(string name, params (string Key, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && s.Has(labels)).Sum(s => s.Value);

    /// <summary>Samples of <paramref name="name"/>.</summary>
    public IEnumerable<PrometheusSample> Of(string name) => Samples.Where(s => s.Name == name);

    /// <summary>Parses exposition text; a malformed line throws naming it.</summary>
    public static PrometheusText Parse(string text)
    {
        var samples = new List<PrometheusSample>();
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var i = 0;
            while (i < line.Length && line[i] != '{' && line[i] != ' ')
            {
                i++;
            }

            var name = line[..i];
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (i < line.Length && line[i] == '{')
            {
                i++;
                while (line[i] != '}')
                {
                    var eq = line.IndexOf('=', i);
                    var key = line[i..eq].Trim(',', ' ');
                    if (line[eq + 1] != '"')
                    {
                        throw new FormatException($"label value not quoted in: {line}");
                    }

                    var value = new StringBuilder();
                    var j = eq + 2;
                    for (; line[j] != '"'; j++)
                    {
                        if (line[j] == '\\')
                        {
                            j++;
                            value.Append(line[j] switch { 'n' => '\n', var c => c });
                        }
                        else
                        {
                            value.Append(line[j]);
                        }
                    }

                    labels[key] = value.ToString();
                    i = j + 1;
                    if (line[i] == ',')
                    {
                        i++;
                    }
                }

                i++;
            }

            var parts = line[i..].Trim().Split(' ');
            var number = parts[0] switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                var v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
            samples.Add(new PrometheusSample(name, labels, number));
        }

        return new PrometheusText(samples, text);
    }

    /// <summary>GETs and parses <c>/metrics</c> of an admin server.</summary>
    public static async Task<PrometheusText> ScrapeAsync(Uri admin)
    {
        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri(admin, "/metrics"), TestContext.Current.CancellationToken);
        return Parse(text);
    }
}
