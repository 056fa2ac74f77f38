using Cocoon.Abstractions;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Operations;
using Cocoon.Abstractions.Workers;

namespace Cocoon.Grains.Tests;

/// <summary>
/// Issue 8 items 2-3 at the grain level: several keys per account with revocation, per-key spend and request-rate
/// limits on the keyed clock, and worker leases that operators drain, disable, enable and re-price, as routing sees
/// them through the deployment's live set.
/// </summary>
public sealed class OperatorKeyAndLeaseTests(GrainCluster cluster)
{
    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private async Task<(string Key, ApiKeyDetails Details)> CreateKeyAsync(string account, ApiKeyLimits limits)
    {
        var key = ApiKeys.Generate();
        var details = await cluster.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(key)).CreateAsync(account, "test", limits);
        return (key, details);
    }

    [Fact]
    public async Task An_account_has_several_keys_and_a_revoked_one_stops_resolving_while_the_other_works()
    {
        var account = Unique("acct");
        var (first, firstDetails) = await CreateKeyAsync(account, ApiKeyLimits.None);
        var (second, _) = await CreateKeyAsync(account, ApiKeyLimits.None);
        var directory = cluster.Grains.GetGrain<IApiKeyDirectoryGrain>(IApiKeyDirectoryGrain.Key);

        var listed = await directory.ListAsync(account);
        Assert.Equal(2, listed.Count);
        Assert.Contains(listed, e => e.KeyId == firstDetails.KeyId && e.KeyHash == ApiKeys.Hash(first));
        Assert.Equal(ApiKeys.Hash(first), (await directory.FindAsync(firstDetails.KeyId))!.KeyHash);
        Assert.DoesNotContain(await directory.ListAsync(Unique("other")), e => e.AccountId == account);

        var revoked = await cluster.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(first)).RevokeAsync();

        Assert.NotNull(revoked.RevokedAt);
        Assert.Null(await cluster.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(first)).ResolveAsync());
        Assert.Equal(account, (await cluster.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(second)).ResolveAsync())!.AccountId);
        var again = await Assert.ThrowsAsync<CocoonApiException>(() => cluster.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(first)).CreateAsync(account, "again", ApiKeyLimits.None));
        Assert.Equal("key_revoked", again.Code);
        var unknown = await Assert.ThrowsAsync<CocoonApiException>(() => cluster.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(ApiKeys.Generate())).RevokeAsync());
        Assert.Equal(404, unknown.Status);
    }

    [Fact]
    public async Task The_request_rate_limit_is_a_token_bucket_on_the_keyed_clock_with_a_retry_after()
    {
        // 60 a minute: a bucket of 60, one more each second.
        var (key, _) = await CreateKeyAsync(Unique("rate"), new ApiKeyLimits { RequestsPerMinute = 60 });
        var grain = cluster.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(key));
        for (var i = 0; i < 60; i++)
        {
            Assert.NotNull(await grain.ResolveAsync());
        }

        var refused = await Assert.ThrowsAsync<CocoonApiException>(grain.ResolveAsync);
        Assert.Equal(429, refused.Status);
        Assert.Equal("rate_limit_exceeded", refused.Code);
        Assert.Equal(1, refused.RetryAfterSeconds);

        cluster.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.NotNull(await grain.ResolveAsync());
        await Assert.ThrowsAsync<CocoonApiException>(grain.ResolveAsync);
    }

    [Fact]
    public async Task The_spend_limit_refuses_the_key_once_what_was_charged_through_it_reaches_the_limit()
    {
        var (key, _) = await CreateKeyAsync(Unique("spend"), new ApiKeyLimits { SpendLimitNanoTon = 100 });
        var grain = cluster.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(key));

        Assert.NotNull(await grain.ResolveAsync());
        await grain.RecordChargeAsync(60);
        Assert.NotNull(await grain.ResolveAsync());
        await grain.RecordChargeAsync(60);
        var refused = await Assert.ThrowsAsync<CocoonApiException>(grain.ResolveAsync);

        Assert.Equal(402, refused.Status);
        Assert.Equal("key_spend_limit_reached", refused.Code);
        var details = await cluster.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(key)).GetDetailsAsync();
        Assert.Equal(120, details!.SpentNanoTon);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => grain.RecordChargeAsync(-1));

        // Raising the limit lets the key in again; negative limits are refused and change nothing.
        var admin = cluster.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(key));
        var bad = await Assert.ThrowsAsync<CocoonApiException>(() => admin.CreateAsync(details.AccountId, "test", new ApiKeyLimits { SpendLimitNanoTon = -5 }));
        Assert.Equal(400, bad.Status);
        Assert.Equal(100, (await admin.GetDetailsAsync())!.Limits.SpendLimitNanoTon);
        await admin.CreateAsync(details.AccountId, "test", new ApiKeyLimits { SpendLimitNanoTon = 1_000 });
        Assert.NotNull(await grain.ResolveAsync());
    }

    [Fact]
    public async Task Drain_disable_enable_and_coefficient_changes_reach_the_deployments_live_set()
    {
        var model = Unique("lease-model");
        var hash = new string('a', 64);
        await cluster.Grains.GetGrain<IModelAdminGrain>(model).DeployAsync(new ModelDeployment
        {
            Name = model, Kind = ModelKind.Embedding, ModelHash = hash, ContextLength = 128,
        });
        var (a, b) = (model + ".a", model + ".b");
        WorkerRegistration Registration(string silo) => new() { Model = model, ModelHash = hash, SiloAddress = silo, Capacity = 2 };
        await cluster.Grains.GetGrain<IWorkerLeaseGrain>(a).RenewAsync(Registration("127.0.0.1:1@1"), TimeSpan.FromHours(1));
        await cluster.Grains.GetGrain<IWorkerLeaseGrain>(b).RenewAsync(Registration("127.0.0.1:2@1"), TimeSpan.FromHours(1));
        var deployment = cluster.Grains.GetGrain<IModelDeploymentGrain>(model);
        async Task<string[]> LiveAsync() => [.. (await deployment.GetRoutesAsync()).Workers.Select(w => w.WorkerId)];
        Assert.Equal([a, b], await LiveAsync());
        var directory = await cluster.Grains.GetGrain<IWorkerDirectoryGrain>(IWorkerDirectoryGrain.Key).ListAsync();
        Assert.Contains(a, directory);
        Assert.Contains(b, directory);

        // Drain: out of the live set, also across renewals with the same registration...
        var admin = cluster.Grains.GetGrain<IWorkerAdminGrain>(a);
        var drained = await admin.SetStateAsync(WorkerAdminState.Draining);
        Assert.Equal(WorkerAdminState.Draining, drained.AdminState);
        Assert.False(drained.Routable);
        Assert.Equal([b], await LiveAsync());
        await cluster.Grains.GetGrain<IWorkerLeaseGrain>(a).RenewAsync(Registration("127.0.0.1:1@1"), TimeSpan.FromHours(1));
        Assert.Equal([b], await LiveAsync());

        // ...until the worker registers anew (its silo restarted: a new generation).
        await cluster.Grains.GetGrain<IWorkerLeaseGrain>(a).RenewAsync(Registration("127.0.0.1:1@2"), TimeSpan.FromHours(1));
        Assert.Equal(WorkerAdminState.Enabled, (await admin.GetDetailsAsync())!.AdminState);
        Assert.Equal([a, b], await LiveAsync());

        // Disable outlasts a new registration; enable brings it back.
        await admin.SetStateAsync(WorkerAdminState.Disabled);
        await cluster.Grains.GetGrain<IWorkerLeaseGrain>(a).RenewAsync(Registration("127.0.0.1:1@3"), TimeSpan.FromHours(1));
        Assert.Equal([b], await LiveAsync());
        await admin.SetStateAsync(WorkerAdminState.Enabled);
        Assert.Equal([a, b], await LiveAsync());

        // The coefficient routing prices with follows the operator, through renewals, and back on reset.
        var priced = await cluster.Grains.GetGrain<IWorkerAdminGrain>(b).SetCoefficientAsync(1500);
        Assert.Equal(1500, priced.Coefficient);
        await cluster.Grains.GetGrain<IWorkerLeaseGrain>(b).RenewAsync(Registration("127.0.0.1:2@1"), TimeSpan.FromHours(1));
        Assert.Equal(1500, (await deployment.GetRoutesAsync()).Workers.Single(w => w.WorkerId == b).Registration.Coefficient);
        Assert.Equal(1000, (await cluster.Grains.GetGrain<IWorkerLeaseGrain>(b).GetAsync())!.Registration.Coefficient);
        await cluster.Grains.GetGrain<IWorkerAdminGrain>(b).SetCoefficientAsync(null);
        Assert.Equal(1000, (await deployment.GetRoutesAsync()).Workers.Single(w => w.WorkerId == b).Registration.Coefficient);

        // Bad input is refused and changes nothing.
        Assert.Equal(400, (await Assert.ThrowsAsync<CocoonApiException>(() => admin.SetStateAsync("paused"))).Status);
        Assert.Equal(400, (await Assert.ThrowsAsync<CocoonApiException>(() => admin.SetCoefficientAsync(0))).Status);
        Assert.Equal(404, (await Assert.ThrowsAsync<CocoonApiException>(() => cluster.Grains.GetGrain<IWorkerAdminGrain>(Unique("nobody")).SetStateAsync(WorkerAdminState.Draining))).Status);
        Assert.Equal([a, b], await LiveAsync());
    }

    [Fact]
    public async Task A_new_model_hash_drops_workers_that_loaded_another_and_a_disabled_model_stays_disabled_on_redeploy()
    {
        var model = Unique("redeploy");
        var admin = cluster.Grains.GetGrain<IModelAdminGrain>(model);
        var first = new ModelDeployment { Name = model, Kind = ModelKind.TextGeneration, ModelHash = new string('b', 64), ContextLength = 512 };
        await admin.DeployAsync(first);
        await cluster.Grains.GetGrain<IWorkerLeaseGrain>(model + ".w").RenewAsync(
            new WorkerRegistration { Model = model, ModelHash = first.ModelHash, SiloAddress = "127.0.0.1:3@1", Capacity = 1 }, TimeSpan.FromHours(1));
        Assert.Single((await cluster.Grains.GetGrain<IModelDeploymentGrain>(model).GetRoutesAsync()).Workers);

        Assert.False((await admin.SetEnabledAsync(false)).Enabled);
        var second = await admin.DeployAsync(first with { ModelHash = new string('c', 64) });

        Assert.False(second.Enabled);
        Assert.Empty((await cluster.Grains.GetGrain<IModelDeploymentGrain>(model).GetRoutesAsync()).Workers);
        Assert.Equal(400, (await Assert.ThrowsAsync<CocoonApiException>(() => admin.DeployAsync(first with { ModelHash = "xyz" }))).Status);
        Assert.Equal(new string('c', 64), (await admin.SetEnabledAsync(true)).ModelHash);
        Assert.Equal(404, (await Assert.ThrowsAsync<CocoonApiException>(() => cluster.Grains.GetGrain<IModelAdminGrain>(Unique("none")).SetEnabledAsync(true))).Status);
    }
}
