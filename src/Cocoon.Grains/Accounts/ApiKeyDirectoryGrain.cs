using Cocoon.Abstractions;
using Cocoon.Abstractions.Operations;
using Cocoon.Grains.Placement;

namespace Cocoon.Grains.Accounts;

[GenerateSerializer, Alias("cocoon.operations.ApiKeyDirectoryState")]
public sealed class ApiKeyDirectoryState
{
    [Id(0)] public SortedDictionary<string, ApiKeyDirectoryEntry> Keys { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>The operators' index of API keys; see <see cref="IApiKeyDirectoryGrain"/>.</summary>
[ProxyRole]
public sealed class ApiKeyDirectoryGrain(
    [PersistentState("keys", CocoonNames.StorageName)] IPersistentState<ApiKeyDirectoryState> state) : Grain, IApiKeyDirectoryGrain
{
    /// <inheritdoc />
    public async Task AddAsync(ApiKeyDirectoryEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (state.State.Keys.TryGetValue(entry.KeyId, out var known) && known == entry)
        {
            return;
        }

        if (known is not null && known.KeyHash != entry.KeyHash)
        {
            // Two keys whose hashes share 64 bits: not expected in the life of the universe, but never overwrite one.
            throw new CocoonApiException(409, "key_id_collision", $"Key id {entry.KeyId} is already another key's; make a new key.");
        }

        state.State.Keys[entry.KeyId] = entry;
        await state.WriteStateAsync();
    }

    /// <inheritdoc />
    public Task<ApiKeyDirectoryEntry?> FindAsync(string keyId) => Task.FromResult(state.State.Keys.GetValueOrDefault(keyId));

    /// <inheritdoc />
    public Task<IReadOnlyList<ApiKeyDirectoryEntry>> ListAsync(string? accountId) =>
        Task.FromResult<IReadOnlyList<ApiKeyDirectoryEntry>>([.. state.State.Keys.Values.Where(e => accountId is null || e.AccountId == accountId)]);
}
