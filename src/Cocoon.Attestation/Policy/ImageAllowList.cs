using System.Collections.Frozen;

namespace Cocoon.Attestation.Policy;

/// <summary>One published state of an <see cref="ImageAllowList"/>: the allowed image hashes, where they came from and when.</summary>
/// <param name="Hashes">Allowed image hashes, lower-case hex (all roles).</param>
/// <param name="Source">Where they were read (e.g. <c>root contract EQ…</c> or <c>configuration</c>), for messages.</param>
/// <param name="ReadAt">When they were read.</param>
public sealed record ImageAllowListSnapshot(FrozenSet<string> Hashes, string Source, DateTimeOffset ReadAt)
{
    /// <summary>
    /// Per role (e.g. <c>proxy</c>, <c>worker</c>), the hashes a peer claiming that role must have; empty: no role
    /// restriction (any hash of <see cref="Hashes"/>).
    /// </summary>
    public IReadOnlyDictionary<string, FrozenSet<string>> ByRole { get; init; } = FrozenDictionary<string, FrozenSet<string>>.Empty;

    /// <summary>
    /// Why <paramref name="imageHash"/> may not serve <paramref name="roles"/> (comma-separated role names, from the
    /// peer's attested claims), or null when it may.
    /// </summary>
    public string? RoleRefusal(string imageHash, string? roles)
    {
        if (ByRole.Count == 0)
        {
            return null;
        }

        var hash = imageHash.ToLowerInvariant();
        var claimed = (roles ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (claimed.Length == 0)
        {
            return "the peer claims no role, and the allow-list is per role";
        }

        foreach (var role in claimed)
        {
            if (!ByRole.TryGetValue(role.ToLowerInvariant(), out var allowed) || !allowed.Contains(hash))
            {
                return $"image hash {hash} is not allowed for role {role} (allow-list from {Source})";
            }
        }

        return null;
    }
}

/// <summary>
/// The image hashes peers must attest to, as a snapshot that a refresher (e.g. a poller of the root contract) replaces
/// atomically while TLS callbacks read it without locks. An empty list admits nobody: unlike
/// <see cref="AttestationPolicy.AllowedImageHashes"/>, where empty means "any", an allow-list that is empty because
/// nothing has been read yet must never admit every image.
/// </summary>
public sealed class ImageAllowList
{
    private ImageAllowListSnapshot _current;

    /// <summary>Starts with <paramref name="hashes"/> (may be empty) from <paramref name="source"/>.</summary>
    public ImageAllowList(IEnumerable<string> hashes, string source, DateTimeOffset readAt) => _current = Snapshot(hashes, source, readAt);

    /// <summary>The current snapshot.</summary>
    public ImageAllowListSnapshot Current => Volatile.Read(ref _current);

    /// <summary>Raised after a replacement changed the set of hashes (not on a re-read of the same set).</summary>
    public event Action<ImageAllowListSnapshot>? Changed;

    /// <summary>Whether <paramref name="imageHashHex"/> (any case) is allowed now.</summary>
    public bool Contains(string imageHashHex) => Current.Hashes.Contains(imageHashHex.ToLowerInvariant());

    /// <summary>Replaces the list with <paramref name="hashes"/>; returns whether the set of hashes changed.</summary>
    /// <exception cref="FormatException">A hash is not 64 hex characters (nothing changes).</exception>
    public bool Replace(IEnumerable<string> hashes, string source, DateTimeOffset readAt) => Publish(Snapshot(hashes, source, readAt));

    /// <summary>
    /// Replaces the list with per-role lists (a peer must be on the list of every role it claims); the admitted set
    /// is their union. Returns whether anything changed.
    /// </summary>
    /// <exception cref="FormatException">A hash is not 64 hex characters (nothing changes).</exception>
    public bool Replace(IReadOnlyDictionary<string, IEnumerable<string>> byRole, string source, DateTimeOffset readAt)
    {
        ArgumentNullException.ThrowIfNull(byRole);
        var roles = byRole.ToDictionary(r => r.Key.ToLowerInvariant(), r => Snapshot(r.Value, source, readAt).Hashes, StringComparer.Ordinal);
        var next = Snapshot(roles.Values.SelectMany(h => h), source, readAt) with { ByRole = roles.ToFrozenDictionary(StringComparer.Ordinal) };
        return Publish(next);
    }

    private bool Publish(ImageAllowListSnapshot next)
    {
        var previous = Interlocked.Exchange(ref _current, next);
        var changed = !previous.Hashes.SetEquals(next.Hashes) || !SameRoles(previous, next);
        if (changed)
        {
            Changed?.Invoke(next);
        }

        return changed;
    }

    private static bool SameRoles(ImageAllowListSnapshot a, ImageAllowListSnapshot b) =>
        a.ByRole.Count == b.ByRole.Count && a.ByRole.All(r => b.ByRole.TryGetValue(r.Key, out var other) && other.SetEquals(r.Value));

    private static ImageAllowListSnapshot Snapshot(IEnumerable<string> hashes, string source, DateTimeOffset readAt)
    {
        ArgumentNullException.ThrowIfNull(hashes);
        ArgumentNullException.ThrowIfNull(source);
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var hash in hashes)
        {
            if (hash is not { Length: 64 } || !hash.All(Uri.IsHexDigit))
            {
                throw new FormatException($"'{hash}' is not an image hash (64 hex characters)");
            }

            set.Add(hash.ToLowerInvariant());
        }

        return new ImageAllowListSnapshot(set.ToFrozenSet(StringComparer.Ordinal), source, readAt);
    }
}
