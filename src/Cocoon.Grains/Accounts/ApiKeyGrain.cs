using Cocoon.Grains.Placement;
using Microsoft.Extensions.DependencyInjection;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Accounts;

namespace Cocoon.Grains.Accounts;

[GenerateSerializer, Alias("cocoon.accounts.ApiKeyState")]
public sealed class ApiKeyState
{
    [Id(0)] public string? AccountId { get; set; }
    [Id(1)] public string Label { get; set; } = "";
    [Id(2)] public DateTimeOffset CreatedAt { get; set; }
    [Id(3)] public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>An API key's binding to its account; see <see cref="IApiKeyGrain"/>. Keyed by the key's hash only.</summary>
[ProxyRole]
public sealed class ApiKeyGrain(
    [PersistentState("apikey", CocoonNames.StorageName)] IPersistentState<ApiKeyState> state,
    [FromKeyedServices(CocoonGrainsExtensions.ClockKey)] TimeProvider time) : Grain, IApiKeyGrain
{
    /// <inheritdoc />
    public async Task<ApiKeyInfo> CreateAsync(string accountId, string label)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(accountId);
        if (state.State.AccountId is { } existing)
        {
            if (existing != accountId)
            {
                throw new CocoonApiException(409, "key_in_use", "This API key already belongs to another account.");
            }

            if (state.State.RevokedAt is not null)
            {
                throw new CocoonApiException(409, "key_revoked", "This API key was revoked; create a new one.");
            }

            return Info();
        }

        state.State.AccountId = accountId;
        state.State.Label = label;
        state.State.CreatedAt = time.GetUtcNow();
        await state.WriteStateAsync();
        return Info();
    }

    /// <inheritdoc />
    public Task<ApiKeyInfo?> ResolveAsync() =>
        Task.FromResult(state.State.AccountId is null || state.State.RevokedAt is not null ? null : Info());

    /// <inheritdoc />
    public async Task RevokeAsync()
    {
        if (state.State.AccountId is null || state.State.RevokedAt is not null)
        {
            return;
        }

        state.State.RevokedAt = time.GetUtcNow();
        await state.WriteStateAsync();
    }

    private ApiKeyInfo Info() => new(state.State.AccountId!, state.State.Label, state.State.CreatedAt);
}
