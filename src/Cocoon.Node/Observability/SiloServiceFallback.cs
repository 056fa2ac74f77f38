using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Node.Observability;

/// <summary>
/// The admin web server's container: its own services first, then the silo's. The Orleans Dashboard and the
/// Prometheus exporter are registered in the silo (they need its grain factory, membership and meter provider) but
/// serve from the admin server's endpoints, which resolve through this provider.
/// </summary>
internal sealed class SiloServiceFallbackFactory(IServiceProvider silo) : IServiceProviderFactory<IServiceCollection>
{
    public IServiceCollection CreateBuilder(IServiceCollection services) => services;

    public IServiceProvider CreateServiceProvider(IServiceCollection containerBuilder) =>
        new SiloServiceFallback(containerBuilder.BuildServiceProvider(), silo, ownsInner: true);
}

internal sealed class SiloServiceFallback(IServiceProvider own, IServiceProvider silo, bool ownsInner)
    : IKeyedServiceProvider, IServiceScopeFactory, IServiceProviderIsKeyedService, IDisposable, IAsyncDisposable
{
    public object? GetService(Type serviceType)
    {
        if (serviceType == typeof(IServiceProvider) || serviceType == typeof(IServiceScopeFactory) || serviceType == typeof(IKeyedServiceProvider)
            || serviceType == typeof(IServiceProviderIsService) || serviceType == typeof(IServiceProviderIsKeyedService))
        {
            return this;
        }

        return own.GetService(serviceType) ?? silo.GetService(serviceType);
    }

    public object? GetKeyedService(Type serviceType, object? serviceKey) =>
        (own as IKeyedServiceProvider)?.GetKeyedService(serviceType, serviceKey) ?? (silo as IKeyedServiceProvider)?.GetKeyedService(serviceType, serviceKey);

    public object GetRequiredKeyedService(Type serviceType, object? serviceKey) =>
        GetKeyedService(serviceType, serviceKey) ?? throw new InvalidOperationException($"No service for type '{serviceType}' with key '{serviceKey}'.");

    public bool IsService(Type serviceType) =>
        serviceType == typeof(IServiceProvider) || serviceType == typeof(IServiceScopeFactory)
        || own.GetService<IServiceProviderIsService>()?.IsService(serviceType) == true
        || silo.GetService<IServiceProviderIsService>()?.IsService(serviceType) == true;

    public bool IsKeyedService(Type serviceType, object? serviceKey) =>
        own.GetService<IServiceProviderIsKeyedService>()?.IsKeyedService(serviceType, serviceKey) == true
        || silo.GetService<IServiceProviderIsKeyedService>()?.IsKeyedService(serviceType, serviceKey) == true;

    public IServiceScope CreateScope() => new Scope(own.CreateScope(), silo);

    public void Dispose()
    {
        if (ownsInner)
        {
            (own as IDisposable)?.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (ownsInner && own is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }
    }

    private sealed class Scope(IServiceScope inner, IServiceProvider silo) : IServiceScope, IAsyncDisposable
    {
        public IServiceProvider ServiceProvider { get; } = new SiloServiceFallback(inner.ServiceProvider, silo, ownsInner: false);

        public void Dispose() => inner.Dispose();

        public ValueTask DisposeAsync() => inner is IAsyncDisposable a ? a.DisposeAsync() : ValueTask.CompletedTask;
    }
}
