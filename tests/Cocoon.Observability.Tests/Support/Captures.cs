using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Cocoon.Observability.Tests.Support;

/// <summary>
/// Every span the process starts, from every source (Cocoon, Orleans, ASP.NET Core, HttpClient...), through
/// OpenTelemetry's in-memory exporter: one tracer provider for the test process, sampling everything.
/// </summary>
public static class SpanCapture
{
    private static readonly List<Activity> Exported = [];
    private static readonly TracerProvider Provider = Sdk.CreateTracerProviderBuilder()
        .AddSource("*")
        .SetSampler(new AlwaysOnSampler())
        .AddInMemoryExporter(Exported)
        .Build();

    /// <summary>Starts capturing (idempotent).</summary>
    public static void Start() => _ = Provider;

    /// <summary>A copy of what was exported so far.</summary>
    public static IReadOnlyList<Activity> Snapshot()
    {
        Provider.ForceFlush();
        lock (Exported)
        {
            return [.. Exported];
        }
    }

    /// <summary>Every text a span carries: name, tags, status, events with their tags, links' tags, baggage.</summary>
    public static IEnumerable<string> Texts(Activity span)
    {
        yield return span.DisplayName;
        yield return span.OperationName;
        yield return span.StatusDescription ?? "";
        foreach (var tag in span.TagObjects)
        {
            yield return tag.Key + "=" + Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture);
        }

        foreach (var e in span.Events)
        {
            yield return e.Name;
            foreach (var tag in e.Tags)
            {
                yield return tag.Key + "=" + Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        foreach (var item in span.Baggage)
        {
            yield return item.Key + "=" + item.Value;
        }

        yield return span.TraceStateString ?? "";
    }
}

/// <summary>A logger provider that keeps every formatted line, its structured values, scopes and exceptions.</summary>
public sealed class LogCapture : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<string> _lines = new();
    private IExternalScopeProvider? _scopes;

    /// <summary>Everything logged so far.</summary>
    public IReadOnlyList<string> Lines => [.. _lines];

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <inheritdoc />
    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes?.Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = new StringBuilder().Append(logLevel).Append(' ').Append(category).Append(": ").Append(formatter(state, exception));
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
            {
                foreach (var (key, value) in values)
                {
                    line.Append(" |").Append(key).Append('=').Append(value);
                }
            }

            owner._scopes?.ForEachScope((scope, b) => b.Append(" |scope=").Append(scope), line);
            if (exception is not null)
            {
                line.Append(" |exception=").Append(exception);
            }

            owner._lines.Enqueue(line.ToString());
        }
    }
}
