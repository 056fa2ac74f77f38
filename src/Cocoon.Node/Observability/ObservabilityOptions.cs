using System.Net;
using Cocoon.Node.Configuration;

namespace Cocoon.Node.Observability;

/// <summary>The admin HTTP server (<c>Cocoon:Admin</c>): metrics, health, readiness and the Orleans Dashboard.</summary>
public sealed class AdminOptions
{
    /// <summary>The port Prometheus and operators reach by default (the OpenTelemetry Prometheus exporter's usual port).</summary>
    public const int DefaultPort = 9464;

    /// <summary>Whether the node serves the admin port at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The address the admin port binds to; loopback unless set (it shows cluster internals).</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>The admin port; 0 picks a free one (reported by <see cref="AdminServer.BoundUrl"/>).</summary>
    public int Port { get; set; } = DefaultPort;

    /// <summary>Whether the Orleans Dashboard is mounted at <c>/dashboard</c> on the admin port.</summary>
    public bool Dashboard { get; set; } = true;
}

/// <summary>Telemetry export (<c>Cocoon:Telemetry</c>).</summary>
public sealed class TelemetryOptions
{
    /// <summary>An OpenTelemetry collector's OTLP endpoint (e.g. <c>http://collector:4317</c>); unset: no OTLP export.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>grpc</c> (default, port 4317) or <c>http/protobuf</c> (port 4318).</summary>
    public string OtlpProtocol { get; set; } = "grpc";
}

/// <summary>The validated admin and telemetry settings of a node.</summary>
public sealed record ObservabilitySettings
{
    /// <summary>What a node gets when nothing is configured.</summary>
    public static ObservabilitySettings Default { get; } = From(new AdminOptions(), new TelemetryOptions());

    /// <summary>Whether the admin port is served.</summary>
    public required bool AdminEnabled { get; init; }

    /// <summary>Where the admin port listens.</summary>
    public required IPEndPoint AdminEndpoint { get; init; }

    /// <summary>Whether the Orleans Dashboard is on the admin port.</summary>
    public required bool Dashboard { get; init; }

    /// <summary>The OTLP endpoint, or null for none.</summary>
    public required Uri? OtlpEndpoint { get; init; }

    /// <summary>Whether OTLP goes over HTTP/protobuf rather than gRPC.</summary>
    public required bool OtlpHttp { get; init; }

    /// <summary>Validates <paramref name="admin"/> and <paramref name="telemetry"/>, naming the first bad setting.</summary>
    /// <exception cref="CocoonConfigurationException">A setting is wrong.</exception>
    public static ObservabilitySettings From(AdminOptions admin, TelemetryOptions telemetry)
    {
        if (!IPAddress.TryParse(admin.BindAddress, out var address))
        {
            throw new CocoonConfigurationException("Cocoon:Admin:BindAddress", $"'{admin.BindAddress}' is not an IP address (e.g. 127.0.0.1, or 0.0.0.0 for every interface).");
        }

        if (admin.Port is < 0 or > 65535)
        {
            throw new CocoonConfigurationException("Cocoon:Admin:Port", $"{admin.Port} is not a valid TCP port.");
        }

        Uri? otlp = null;
        if (!string.IsNullOrWhiteSpace(telemetry.OtlpEndpoint)
            && (!Uri.TryCreate(telemetry.OtlpEndpoint, UriKind.Absolute, out otlp) || (otlp.Scheme != Uri.UriSchemeHttp && otlp.Scheme != Uri.UriSchemeHttps)))
        {
            throw new CocoonConfigurationException("Cocoon:Telemetry:OtlpEndpoint", $"'{telemetry.OtlpEndpoint}' is not an http(s) URL like http://collector:4317.");
        }

        var http = telemetry.OtlpProtocol.Trim().ToLowerInvariant() switch
        {
            "grpc" => false,
            "http/protobuf" or "http" => true,
            _ => throw new CocoonConfigurationException("Cocoon:Telemetry:OtlpProtocol", $"'{telemetry.OtlpProtocol}': use grpc or http/protobuf."),
        };

        return new ObservabilitySettings
        {
            AdminEnabled = admin.Enabled,
            AdminEndpoint = new IPEndPoint(address, admin.Port),
            Dashboard = admin.Dashboard,
            OtlpEndpoint = otlp,
            OtlpHttp = http,
        };
    }
}
