using Cocoon.Abstractions;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Inference;
using Cocoon.Abstractions.Models;
using Cocoon.Abstractions.Operations;
using Cocoon.Abstractions.Workers;
using Cocoon.Abstractions.Cluster;
using Orleans.Core.Internal;

namespace Cocoon.Security.Tests;

/// <summary>
/// An Orleans client reaches only the public interfaces, operator interfaces only with the operator token, and only its
/// own account through its key (issue 10 item 4), on a real two-silo cluster.
/// </summary>
public sealed class GrainAccessTests(SecurityCluster cluster)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static void AssertForbidden(CocoonApiException refusal, string interfaceName)
    {
        Assert.Equal(403, refusal.Status);
        Assert.Equal("forbidden", refusal.Code);
        Assert.Equal("permission_error", refusal.Type);
        Assert.Contains(interfaceName, refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_cannot_deposit_into_an_escrow_and_the_balance_is_unchanged()
    {
        var (_, account) = await cluster.CreateFundedKeyAsync(5_000);
        var before = await cluster.LedgerAsync(account);
        await using var client = await cluster.ConnectAsync();

        var refusal = await Assert.ThrowsAsync<CocoonApiException>(() =>
            client.Grains.GetGrain<IEscrowAccountGrain>(account).DepositAsync("free-money", 1_000_000_000_000));
        var reserve = await Assert.ThrowsAsync<CocoonApiException>(() =>
            client.Grains.GetGrain<IEscrowAccountGrain>(account).ReserveAsync("r1", 1_000, TimeSpan.FromMinutes(5)));
        var read = await Assert.ThrowsAsync<CocoonApiException>(() => client.Grains.GetGrain<IEscrowAccountGrain>(account).GetBalanceAsync());

        AssertForbidden(refusal, "IEscrowAccountGrain.DepositAsync");
        AssertForbidden(reserve, "IEscrowAccountGrain.ReserveAsync");
        AssertForbidden(read, "IEscrowAccountGrain.GetBalanceAsync");
        Assert.Equal(before, await cluster.LedgerAsync(account));
    }

    [Fact]
    public async Task A_client_cannot_make_itself_a_key_for_another_account()
    {
        var (_, victim) = await cluster.CreateFundedKeyAsync();
        var stolenKey = ApiKeys.Generate();
        await using var client = await cluster.ConnectAsync();

        var refusal = await Assert.ThrowsAsync<CocoonApiException>(() =>
            client.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(stolenKey)).CreateAsync(victim, "mine now"));

        AssertForbidden(refusal, "IApiKeyGrain.CreateAsync");
        Assert.Null(await cluster.Proxy.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(stolenKey)).ResolveAsync());
        var denied = await Assert.ThrowsAsync<CocoonApiException>(() => client.Grains.GetGrain<IInferenceServiceGrain>(0)
            .EmbedAsync(stolenKey, new EmbeddingRequest { Model = SecurityCluster.Model, Inputs = ["x"] }, Token));
        Assert.Equal(401, denied.Status);
    }

    [Fact]
    public async Task A_client_cannot_call_a_worker_host_directly_neither_plain_nor_streaming()
    {
        var workerId = "worker." + SecurityCluster.Model;
        await using var client = await cluster.ConnectAsync();
        var host = client.Grains.GetGrain<IInferenceHostGrain>(workerId);

        var embed = await Assert.ThrowsAsync<CocoonApiException>(() =>
            host.EmbedAsync(new EmbeddingRequest { Model = SecurityCluster.Model, Inputs = ["unpaid"] }, Token));
        var generate = await Assert.ThrowsAsync<CocoonApiException>(async () =>
        {
            await foreach (var _ in host.GenerateAsync(new GenerationRequest { Model = SecurityCluster.Model, Prompt = "unpaid" }, Token))
            {
            }
        });

        AssertForbidden(embed, "IInferenceHostGrain.EmbedAsync");
        // A streaming method travels inside Orleans's IAsyncEnumerableGrainExtension; the request inside is what is judged.
        AssertForbidden(generate, "IInferenceHostGrain.GenerateAsync");
    }

    [Fact]
    public async Task A_client_cannot_touch_leases_deployments_or_reminders()
    {
        var workerId = "worker." + SecurityCluster.Model;
        var lease = await cluster.Proxy.Grains.GetGrain<IWorkerLeaseGrain>(workerId).GetAsync();
        var deployment = await cluster.Proxy.Grains.GetGrain<IModelDeploymentGrain>(SecurityCluster.Model).GetAsync();
        await using var client = await cluster.ConnectAsync();

        var release = await Assert.ThrowsAsync<CocoonApiException>(() => client.Grains.GetGrain<IWorkerLeaseGrain>(workerId).ReleaseAsync());
        var detach = await Assert.ThrowsAsync<CocoonApiException>(() =>
            client.Grains.GetGrain<IModelDeploymentGrain>(SecurityCluster.Model).DetachWorkerAsync(workerId));
        var deploy = await Assert.ThrowsAsync<CocoonApiException>(() =>
            client.Grains.GetGrain<IModelDeploymentGrain>(SecurityCluster.Model).DeployAsync(deployment! with { Enabled = false }));
        // Reminders are Orleans's IRemindable: a client firing an escrow's reservation-expiry reminder is refused too.
        var reminder = await Assert.ThrowsAsync<CocoonApiException>(() =>
            client.Grains.GetGrain<IEscrowAccountGrain>("acct-any").AsReference<IRemindable>().ReceiveReminder("reservation", default, Token));

        AssertForbidden(release, "IWorkerLeaseGrain.ReleaseAsync");
        AssertForbidden(detach, "IModelDeploymentGrain.DetachWorkerAsync");
        AssertForbidden(deploy, "IModelDeploymentGrain.DeployAsync");
        AssertForbidden(reminder, "IRemindable.ReceiveReminder");
        Assert.NotNull(lease);
        Assert.NotNull(await cluster.Proxy.Grains.GetGrain<IWorkerLeaseGrain>(workerId).GetAsync());
        Assert.True((await cluster.Proxy.Grains.GetGrain<IModelDeploymentGrain>(SecurityCluster.Model).GetAsync())!.Enabled);
    }

    [Fact]
    public async Task A_client_cannot_pose_as_a_silo_by_setting_the_marker_itself()
    {
        var (_, account) = await cluster.CreateFundedKeyAsync(5_000);
        var before = await cluster.LedgerAsync(account);
        await using var client = await cluster.ConnectAsync();

        foreach (var forged in new[] { new string('0', 64), "", cluster.OperatorToken })
        {
            RequestContext.Set("cocoon.silo", forged);
            try
            {
                var refusal = await Assert.ThrowsAsync<CocoonApiException>(() =>
                    client.Grains.GetGrain<IEscrowAccountGrain>(account).DepositAsync("forged", 1_000_000));
                AssertForbidden(refusal, "IEscrowAccountGrain.DepositAsync");
            }
            finally
            {
                RequestContext.Remove("cocoon.silo");
            }
        }

        Assert.Equal(before, await cluster.LedgerAsync(account));
    }

    [Fact]
    public async Task A_key_spends_only_its_own_account()
    {
        var (keyA, accountA) = await cluster.CreateFundedKeyAsync();
        var (_, accountB) = await cluster.CreateFundedKeyAsync();
        var bBefore = await cluster.LedgerAsync(accountB);
        await using var client = await cluster.ConnectAsync();

        var paid = await client.Grains.GetGrain<IInferenceServiceGrain>(0)
            .EmbedAsync(keyA, new EmbeddingRequest { Model = SecurityCluster.Model, Inputs = ["whose money is this"] }, Token);

        var a = await cluster.LedgerAsync(accountA);
        Assert.True(paid.CostNanoTon > 0);
        Assert.Equal(paid.CostNanoTon, a.Balance.Charged);
        Assert.Equal(bBefore, await cluster.LedgerAsync(accountB));
        // Silo-to-silo calls are untouched: the proxy silo reached the worker silo's host grain for this answer.
        Assert.Equal("worker." + SecurityCluster.Model, paid.Result.WorkerId);
        Assert.Equal(384, paid.Result.Vectors[0].Length);
    }

    [Fact]
    public async Task Operator_interfaces_need_the_operator_token()
    {
        await using var app = await cluster.ConnectAsync();
        await using var wrong = await cluster.ConnectAsync("not-the-token");
        await using var operatorClient = await cluster.ConnectAsync(cluster.OperatorToken);
        var (_, account) = await cluster.CreateFundedKeyAsync();

        var none = await Assert.ThrowsAsync<CocoonApiException>(() => app.Grains.GetGrain<IClusterAdminGrain>(0).ListModelsAsync());
        var bad = await Assert.ThrowsAsync<CocoonApiException>(() => wrong.Grains.GetGrain<IClusterAdminGrain>(0).ListModelsAsync());
        var keyByApp = ApiKeys.Generate();
        var create = await Assert.ThrowsAsync<CocoonApiException>(() =>
            app.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(keyByApp)).CreateAsync(account, "app", new ApiKeyLimits()));
        var models = await operatorClient.Grains.GetGrain<IClusterAdminGrain>(0).ListModelsAsync();
        var keyByOperator = ApiKeys.Generate();
        var created = await operatorClient.Grains.GetGrain<IApiKeyAdminGrain>(ApiKeys.Hash(keyByOperator)).CreateAsync(account, "operator", new ApiKeyLimits());
        // The operator's token does not open the internal interfaces (except the deployment read `models deploy` uses).
        var internalCall = await Assert.ThrowsAsync<CocoonApiException>(() =>
            operatorClient.Grains.GetGrain<IEscrowAccountGrain>(account).DepositAsync("operator-mint", 1));
        var deployment = await operatorClient.Grains.GetGrain<IModelDeploymentGrain>(SecurityCluster.Model).GetAsync();
        // ... and the ledger reads `cocoon accounts show` makes, which an app backend without the token cannot make.
        var ledger = await operatorClient.Grains.GetGrain<IEscrowAccountGrain>(account).GetLedgerAsync();
        var appLedger = await Assert.ThrowsAsync<CocoonApiException>(() => app.Grains.GetGrain<IEscrowAccountGrain>(account).GetLedgerAsync());

        AssertForbidden(none, "IClusterAdminGrain.ListModelsAsync");
        Assert.Contains("operator token", none.Message, StringComparison.Ordinal);
        AssertForbidden(bad, "IClusterAdminGrain.ListModelsAsync");
        Assert.Contains("wrong", bad.Message, StringComparison.Ordinal);
        AssertForbidden(create, "IApiKeyAdminGrain.CreateAsync");
        Assert.Null(await cluster.Proxy.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(keyByApp)).ResolveAsync());
        Assert.Contains(models, m => m.Deployment.Name == SecurityCluster.Model);
        Assert.Equal(account, created.AccountId);
        Assert.Equal(account, (await cluster.Proxy.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(keyByOperator)).ResolveAsync())!.AccountId);
        AssertForbidden(internalCall, "IEscrowAccountGrain.DepositAsync");
        Assert.Equal(SecurityCluster.Model, deployment!.Name);
        Assert.Equal(await cluster.LedgerAsync(account), ledger);
        AssertForbidden(appLedger, "IEscrowAccountGrain.GetLedgerAsync");
    }

    [Fact]
    public async Task A_client_cannot_reach_the_management_grain_or_grain_management_but_still_works()
    {
        await using var app = await cluster.ConnectAsync();
        await using var operatorClient = await cluster.ConnectAsync(cluster.OperatorToken);

        // The management grain acts on the whole cluster (hosts, forced GC, activation counts): operators only.
        var hosts = await Assert.ThrowsAsync<CocoonApiException>(() => app.Grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true, cancellationToken: Token));
        var gc = await Assert.ThrowsAsync<CocoonApiException>(() => app.Grains.GetGrain<IManagementGrain>(0).ForceGarbageCollection(null!, cancellationToken: Token));
        // The grain management extension deactivates or moves any activation (here the public identity probe): silos only.
        var info = app.Grains.GetGrain<INodeInfoGrain>("sec-mgmt");
        var before = await info.GetInfoAsync();
        var deactivate = await Assert.ThrowsAsync<CocoonApiException>(() =>
            info.AsReference<IGrainManagementExtension>().DeactivateOnIdle(Token).AsTask());
        var operatorDeactivate = await Assert.ThrowsAsync<CocoonApiException>(() =>
            operatorClient.Grains.GetGrain<INodeInfoGrain>("sec-mgmt").AsReference<IGrainManagementExtension>().MigrateOnIdle(Token).AsTask());

        AssertForbidden(hosts, "IManagementGrain.GetHosts");
        AssertForbidden(gc, "IManagementGrain.ForceGarbageCollection");
        AssertForbidden(deactivate, "IGrainManagementExtension.DeactivateOnIdle");
        AssertForbidden(operatorDeactivate, "IGrainManagementExtension.MigrateOnIdle");
        // The refused client still works (type manifest, public calls), and the operator may read the hosts.
        Assert.Equal(before.SiloAddress, (await info.GetInfoAsync()).SiloAddress);
        Assert.Equal(2, (await operatorClient.Grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true, cancellationToken: Token)).Count);
    }
}
