using Cocoon.Abstractions.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Cocoon.Gateway;

/// <summary>The gateway's HTTP endpoints.</summary>
public static class GatewayEndpoints
{
    private static readonly TimeSpan HealthTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Maps the gateway. For now: <c>GET /healthz</c>, which answers 200 with the serving silo's identity when a grain
    /// call through the cluster succeeds, and 503 when it does not.
    /// </summary>
    public static IEndpointRouteBuilder MapCocoonGateway(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", async (IGrainFactory grains, CancellationToken cancellationToken) =>
        {
            try
            {
                var info = await grains.GetGrain<INodeInfoGrain>("healthz").GetInfoAsync().WaitAsync(HealthTimeout, cancellationToken);
                return Results.Json(new HealthResponse("ok", info.SiloName, info.Roles, info.Version));
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                return Results.Json(new HealthResponse("unavailable", null, null, null), statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });
        return endpoints;
    }

    private sealed record HealthResponse(string Status, string? Silo, string? Roles, string? Version);
}
