namespace Cocoon.Node.Security;

/// <summary>
/// The outgoing grain call filter every silo runs: stamps each call the silo makes to a grain with the silo marker
/// (<see cref="CallerCredentials.SiloMarkerKey"/>), so <see cref="ClientCallGuard"/> on the receiving silo lets it
/// through, and drops an operator token a client's call context carried in, so it travels no further than the grain
/// the operator called. Calls to a client (observers) carry neither: the marker never leaves the silos.
/// </summary>
public sealed class SiloCallMarker(CallerCredentials credentials) : IOutgoingGrainCallFilter
{
    /// <inheritdoc />
    // Async on purpose: request context changes made inside an async method stay inside it, so the marker is on this one
    // call's message and never in the calling grain's own context (whose response to a client exports its context).
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        RequestContext.Remove(CallerCredentials.OperatorTokenKey);
        if (context.TargetId.IsClient())
        {
            RequestContext.Remove(CallerCredentials.SiloMarkerKey);
        }
        else
        {
            RequestContext.Set(CallerCredentials.SiloMarkerKey, credentials.SiloMarker);
        }

        await context.Invoke();
    }
}
