using Cocoon.Grains.Placement;
using Microsoft.Extensions.DependencyInjection;
using Cocoon.Abstractions;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Operations;

namespace Cocoon.Grains.Accounts;

[GenerateSerializer, Alias("cocoon.accounts.ApiKeyState")]
public sealed class ApiKeyState
{
    [Id(0)] public string? AccountId { get; set; }
    [Id(1)] public string Label { get; set; } = "";
    [Id(2)] public DateTimeOffset CreatedAt { get; set; }
    [Id(3)] public DateTimeOffset? RevokedAt { get; set; }
    [Id(4)] public long SpendLimitNanoTon { get; set; }
    [Id(5)] public int RequestsPerMinute { get; set; }
    [Id(6)] public long SpentNanoTon { get; set; }

    /// <summary>Open holds against the spend limit by request id.</summary>
    [Id(7)] public Dictionary<string, KeySpendHold> Holds { get; set; } = [];
}

/// <summary>Part of a key's spend limit held for one running request.</summary>
[GenerateSerializer, Immutable, Alias("cocoon.accounts.KeySpendHold")]
public sealed record KeySpendHold([property: Id(0)] long NanoTon, [property: Id(1)] DateTimeOffset ExpiresAt);

/// <summary>
/// An API key's binding to its account, its limits and what was charged through it; see <see cref="IApiKeyGrain"/>
/// and <see cref="IApiKeyAdminGrain"/>. Keyed by the key's hash only.
/// </summary>
[ProxyRole]
public sealed class ApiKeyGrain(
    [PersistentState("apikey", CocoonNames.StorageName)] IPersistentState<ApiKeyState> state,
    [FromKeyedServices(CocoonGrainsExtensions.ClockKey)] TimeProvider time) : Grain, IApiKeyGrain, IApiKeyAdminGrain
{
    // Charges through a key without a spend limit are statistics: written at most this often (and on deactivation),
    // not once per request. With a limit, every charge is written before the call returns.
    private static readonly TimeSpan SpentFlushInterval = TimeSpan.FromSeconds(10);

    private bool _listed;
    private bool _spentDirty;
    private IGrainTimer? _flush;
    private double _bucket = double.NaN;
    private DateTimeOffset _bucketAt;

    // Requests settled lately (a repeated settle adds nothing), newest last; bounded.
    private readonly Queue<string> _recentSettled = new();
    private readonly HashSet<string> _recentSettledSet = new(StringComparer.Ordinal);
    private const int RecentSettledCapacity = 1024;

    /// <inheritdoc />
    public Task<ApiKeyInfo> CreateAsync(string accountId, string label) => CreateCoreAsync(accountId, label, null);

    /// <inheritdoc />
    async Task<ApiKeyDetails> IApiKeyAdminGrain.CreateAsync(string accountId, string label, ApiKeyLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (limits.SpendLimitNanoTon < 0 || limits.RequestsPerMinute < 0)
        {
            throw new CocoonApiException(400, "invalid_limits", "Key limits are zero (none) or positive.");
        }

        await CreateCoreAsync(accountId, label, limits);
        return Details()!;
    }

    /// <inheritdoc />
    public Task<ApiKeyDetails?> GetDetailsAsync() => Task.FromResult(Details());

    /// <inheritdoc />
    public Task<ApiKeyInfo?> ResolveAsync()
    {
        var s = state.State;
        if (s.AccountId is null || s.RevokedAt is not null)
        {
            return Task.FromResult<ApiKeyInfo?>(null);
        }

        if (s.SpendLimitNanoTon > 0 && s.SpentNanoTon >= s.SpendLimitNanoTon)
        {
            throw new CocoonApiException(402, "key_spend_limit_reached",
                $"This API key has reached its spend limit of {s.SpendLimitNanoTon} nanoTON; use another key or ask for a higher limit.");
        }

        if (s.RequestsPerMinute > 0)
        {
            TakeFromBucket(s.RequestsPerMinute);
        }

        return Task.FromResult<ApiKeyInfo?>(Info());
    }

    /// <inheritdoc />
    public async Task RecordChargeAsync(long nanoTon)
    {
        if (nanoTon < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(nanoTon), "A charge is never negative.");
        }

        if (nanoTon == 0 || state.State.AccountId is null)
        {
            return;
        }

        state.State.SpentNanoTon = checked(state.State.SpentNanoTon + nanoTon);
        if (state.State.SpendLimitNanoTon > 0)
        {
            await state.WriteStateAsync();
            _spentDirty = false;
            return;
        }

        _spentDirty = true;
        _flush ??= this.RegisterGrainTimer(FlushSpentAsync, SpentFlushInterval, SpentFlushInterval);
    }

    /// <inheritdoc />
    public async Task HoldAsync(string requestId, long nanoTon, TimeSpan timeToLive)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(requestId);
        ArgumentOutOfRangeException.ThrowIfNegative(nanoTon);
        var s = state.State;
        if (s.AccountId is null || s.SpendLimitNanoTon <= 0 || s.Holds.ContainsKey(requestId))
        {
            return;
        }

        var now = time.GetUtcNow();
        var expired = s.Holds.Where(h => h.Value.ExpiresAt <= now).Select(h => h.Key).ToList();
        foreach (var id in expired)
        {
            s.Holds.Remove(id);
        }

        long held = 0;
        foreach (var hold in s.Holds.Values)
        {
            held = checked(held + hold.NanoTon);
        }

        if (checked(s.SpentNanoTon + held + nanoTon) > s.SpendLimitNanoTon)
        {
            if (expired.Count > 0)
            {
                await state.WriteStateAsync();
            }

            throw new CocoonApiException(402, "key_spend_limit_reached",
                $"This request could cost up to {nanoTon} nanoTON; with {s.SpentNanoTon} nanoTON spent and {held} held for running requests, " +
                $"that would pass this API key's spend limit of {s.SpendLimitNanoTon} nanoTON. Use another key or ask for a higher limit.");
        }

        s.Holds[requestId] = new KeySpendHold(nanoTon, now + timeToLive);
        await state.WriteStateAsync();
        _spentDirty = false;
    }

    /// <inheritdoc />
    public async Task SettleHoldAsync(string requestId, long chargedNanoTon)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(requestId);
        ArgumentOutOfRangeException.ThrowIfNegative(chargedNanoTon);
        if (!_recentSettledSet.Add(requestId))
        {
            return;
        }

        _recentSettled.Enqueue(requestId);
        if (_recentSettled.Count > RecentSettledCapacity)
        {
            _recentSettledSet.Remove(_recentSettled.Dequeue());
        }

        if (!state.State.Holds.Remove(requestId))
        {
            await RecordChargeAsync(chargedNanoTon);
            return;
        }

        state.State.SpentNanoTon = checked(state.State.SpentNanoTon + chargedNanoTon);
        await state.WriteStateAsync();
        _spentDirty = false;
    }

    /// <inheritdoc />
    public async Task ReleaseHoldAsync(string requestId)
    {
        if (state.State.Holds.Remove(requestId))
        {
            await state.WriteStateAsync();
            _spentDirty = false;
        }
    }

    /// <inheritdoc />
    public async Task RevokeAsync()
    {
        if (state.State.AccountId is null || state.State.RevokedAt is not null)
        {
            return;
        }

        state.State.RevokedAt = time.GetUtcNow();
        await state.WriteStateAsync();
        _spentDirty = false;
    }

    /// <inheritdoc />
    async Task<ApiKeyDetails> IApiKeyAdminGrain.RevokeAsync()
    {
        if (state.State.AccountId is null)
        {
            throw new CocoonApiException(404, "key_not_found", "No API key has this id.");
        }

        await RevokeAsync();
        return Details()!;
    }

    /// <inheritdoc />
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await FlushSpentAsync(cancellationToken);
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    private async Task<ApiKeyInfo> CreateCoreAsync(string accountId, string label, ApiKeyLimits? limits)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(accountId);
        var s = state.State;
        if (s.AccountId is { } existing)
        {
            if (existing != accountId)
            {
                throw new CocoonApiException(409, "key_in_use", "This API key already belongs to another account.");
            }

            if (s.RevokedAt is not null)
            {
                throw new CocoonApiException(409, "key_revoked", "This API key was revoked; create a new one.");
            }

            if (limits is not null && (s.Label != label || s.SpendLimitNanoTon != limits.SpendLimitNanoTon || s.RequestsPerMinute != limits.RequestsPerMinute))
            {
                s.Label = label;
                s.SpendLimitNanoTon = limits.SpendLimitNanoTon;
                s.RequestsPerMinute = limits.RequestsPerMinute;
                _bucket = double.NaN;
                await state.WriteStateAsync();
                _spentDirty = false;
            }
        }
        else
        {
            s.AccountId = accountId;
            s.Label = label;
            s.CreatedAt = time.GetUtcNow();
            s.SpendLimitNanoTon = limits?.SpendLimitNanoTon ?? 0;
            s.RequestsPerMinute = limits?.RequestsPerMinute ?? 0;
            await state.WriteStateAsync();
        }

        if (!_listed)
        {
            // Idempotent; once per activation, so keys created before the directory existed are listed too.
            var hash = this.GetPrimaryKeyString();
            await GrainFactory.GetGrain<IApiKeyDirectoryGrain>(IApiKeyDirectoryGrain.Key)
                .AddAsync(new ApiKeyDirectoryEntry(ApiKeyIds.FromHash(hash), hash, accountId));
            _listed = true;
        }

        return Info();
    }

    // A token bucket holding a minute's worth of requests, refilled continuously by the keyed clock.
    private void TakeFromBucket(int perMinute)
    {
        var now = time.GetUtcNow();
        var perSecond = perMinute / 60.0;
        _bucket = double.IsNaN(_bucket)
            ? perMinute
            : Math.Min(perMinute, _bucket + (Math.Max(0, (now - _bucketAt).TotalSeconds) * perSecond));
        _bucketAt = now;
        if (_bucket >= 1)
        {
            _bucket -= 1;
            return;
        }

        var wait = (int)Math.Ceiling((1 - _bucket) / perSecond);
        throw new CocoonApiException(429, "rate_limit_exceeded",
            $"This API key is limited to {perMinute} requests per minute; retry in {wait} s.")
        {
            RetryAfterSeconds = Math.Max(1, wait),
        };
    }

    private async Task FlushSpentAsync(CancellationToken cancellationToken)
    {
        if (_spentDirty)
        {
            _spentDirty = false;
            await state.WriteStateAsync(cancellationToken);
        }
    }

    private ApiKeyInfo Info() => new(state.State.AccountId!, state.State.Label, state.State.CreatedAt) { SpendLimitNanoTon = state.State.SpendLimitNanoTon };

    private ApiKeyDetails? Details()
    {
        var s = state.State;
        return s.AccountId is null
            ? null
            : new ApiKeyDetails
            {
                KeyId = ApiKeyIds.FromHash(this.GetPrimaryKeyString()),
                AccountId = s.AccountId,
                Label = s.Label,
                CreatedAt = s.CreatedAt,
                RevokedAt = s.RevokedAt,
                Limits = new ApiKeyLimits { SpendLimitNanoTon = s.SpendLimitNanoTon, RequestsPerMinute = s.RequestsPerMinute },
                SpentNanoTon = s.SpentNanoTon,
            };
    }
}
