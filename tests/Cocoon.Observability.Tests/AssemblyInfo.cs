namespace Cocoon.Observability.Tests;

/// <summary>
/// The tests read process-wide counters before and after their own traffic, so they run one at a time: every class is
/// in this collection, which runs alone.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ObservabilityCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "observability";
}
