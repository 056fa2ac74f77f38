using System.Net;
using System.Net.Sockets;
using Cocoon.Node.Storage;

namespace Cocoon.Node.Tests;

/// <summary>Ports for test silos and devnets: free, distinct, and not from the range outgoing connections draw from.</summary>
public sealed class FreePortTests
{
    [Fact]
    public void Free_ports_are_distinct_bindable_and_below_the_ephemeral_range()
    {
        var ephemeralLow = File.Exists("/proc/sys/net/ipv4/ip_local_port_range")
            ? int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)[0], System.Globalization.CultureInfo.InvariantCulture)
            : 32768;
        var ports = Enumerable.Range(0, 50).Select(_ => PostgresServer.FreeLoopbackPort()).ToList();

        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, p => Assert.InRange(p, 1024, ephemeralLow - 1));
        foreach (var port in ports.Take(5))
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
    }
}
