using Cocoon.Node.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Node.Chain;

/// <summary>Registers the proxy key and, when an endpoint is configured, the chain services settlement uses.</summary>
public static class ChainWiring
{
    /// <summary>Loads the proxy key (refusing a Production proxy without one) and registers what settlement needs.</summary>
    /// <exception cref="CocoonConfigurationException">No proxy key in Production, or a bad chain setting.</exception>
    public static void Register(IServiceCollection services, NodeSettings settings, Action<string>? progress)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        var signer = settings.Chain.LoadProxyKey(settings, progress);
        services.AddSingleton(_ => signer);
        services.AddSingleton(settings.Chain.Settlement);
    }
}
