using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Node.Security;

/// <summary>Adds the call guard (<see cref="ClientCallGuard"/> and <see cref="SiloCallMarker"/>) to a silo.</summary>
public static class CallGuardWiring
{
    /// <summary>Registers both filters with <paramref name="credentials"/> (from <see cref="CallerCredentials.From"/>).</summary>
    public static void Register(ISiloBuilder silo, CallerCredentials credentials, Action<string>? progress)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.Services.AddSingleton(credentials);
        silo.AddIncomingGrainCallFilter<ClientCallGuard>();
        silo.AddOutgoingGrainCallFilter<SiloCallMarker>();
        progress?.Invoke($"call guard: clients may call the public interfaces; operator interfaces {(credentials.HasOperator ? "with the operator token" : "refused (no Cocoon:Operators:TokenSha256)")}; silo secret {credentials.SiloSecretSource}");
    }
}
