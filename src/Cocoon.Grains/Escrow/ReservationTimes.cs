namespace Cocoon.Grains.Escrow;

/// <summary>
/// How long a request's reservation may hold an account's money before the expiry reminder releases it
/// (<c>Cocoon:Escrow:ReservationSeconds</c>, <c>Cocoon:Escrow:GenerationReservationSeconds</c>). A reservation normally
/// ends at once with the request's settle or release; the lifetime only bounds what a proxy that died mid-request leaves
/// held. It must outlast the slowest request: a settle after the expiry finds no reservation to settle.
/// </summary>
/// <param name="Embeddings">Embeddings requests.</param>
/// <param name="Generation">Chat and text completions, which stream for longer.</param>
public sealed record ReservationTimes(TimeSpan Embeddings, TimeSpan Generation)
{
    /// <summary>5 minutes for embeddings, 30 for generation.</summary>
    public static ReservationTimes Default { get; } = new(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30));
}
