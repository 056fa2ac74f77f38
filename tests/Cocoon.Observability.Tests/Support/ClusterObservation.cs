using Cocoon.Gateway.Tests;
using Cocoon.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cocoon.Observability.Tests.Support;

/// <summary>What the tests watch on the shared <see cref="GatewayCluster"/>: every log line of its silos, every span.</summary>
public static class ClusterObservation
{
    private static readonly Lock Gate = new();
    private static readonly HashSet<CocoonTestNode> Attached = [];

    /// <summary>The log lines of every silo the tests attached to.</summary>
    public static LogCapture Logs { get; } = new();

    /// <summary>
    /// Captures every log line of the cluster's silos from now on, at every level (the test nodes log Warning and above by
    /// default; the filter is lowered to Trace through the configuration, as an operator would), and every span.
    /// </summary>
    public static void Attach(GatewayCluster cluster)
    {
        SpanCapture.Start();
        lock (Gate)
        {
            foreach (var node in new[] { cluster.Proxy, cluster.WorkerA, cluster.WorkerB })
            {
                if (!Attached.Add(node))
                {
                    continue;
                }

                var configuration = (IConfigurationRoot)node.Host.Services.GetRequiredService<IConfiguration>();
                foreach (var key in configuration.AsEnumerable().Where(kv => kv.Key.StartsWith("Logging:LogLevel:", StringComparison.Ordinal)).Select(kv => kv.Key).ToList())
                {
                    configuration[key] = "Trace";
                }

                configuration.Reload();
                node.Host.Services.GetRequiredService<ILoggerFactory>().AddProvider(Logs);
            }
        }
    }
}
