using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Settlement;
using Cocoon.Grains.Ledger;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Wallets;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Settlement.Tests;

/// <summary>
/// A worker that names its owner (<c>Cocoon:Worker:OwnerAddress</c>) is linked to the worker contract of (owner, proxy)
/// by its lease, and its earnings are paid there on chain, with no operator step.
/// </summary>
public sealed class WorkerOwnerLinkTests(SettlementCluster cluster) : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IsolatedProxy? _proxy;

    [Fact]
    public async Task A_worker_naming_its_owner_is_linked_by_its_lease_and_paid_on_chain()
    {
        using var ownerKey = Ed25519KeyPair.Generate();
        var owner = new WalletV5R1(ownerKey.PublicKey).Address;
        _proxy = await IsolatedProxy.CreateAsync(cluster, "owner");
        // The raw form on purpose: the node keeps the user-friendly spelling.
        var node = await _proxy.StartNodeAsync("proxy,worker", new Dictionary<string, string?> { ["Cocoon:Worker:OwnerAddress"] = owner.ToRawString() });
        var settlement = node.Grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey);

        var deadline = DateTime.UtcNow.AddSeconds(60);
        SettlementStatus status;
        while ((status = await settlement.GetStatusAsync()).Workers.Count == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the worker's lease never linked it to a worker contract");
            await Task.Delay(250, Ct);
        }

        var linked = Assert.Single(status.Workers);
        Assert.Equal(owner.ToFriendlyString(), linked.OwnerAddress);
        var contract = node.Host.Services.GetRequiredService<ProxyChain>().WorkerContractOf(owner).Address;
        Assert.Equal(contract, TonAddress.Parse(linked.ContractAddress));

        // A paid request served by that worker, then settlement: the owner's contract pays exactly the earnings.
        var accountId = "owner-" + Guid.NewGuid().ToString("N")[..8];
        var apiKey = "sk-cocoon-test-" + Guid.NewGuid().ToString("N");
        await node.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(apiKey)).CreateAsync(accountId, "owner test");
        await node.Grains.GetGrain<IEscrowAccountGrain>(accountId).DepositAsync("test-credit", 1_000_000_000);
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(node.GatewayUrl!, "/v1/embeddings"))
        {
            Content = JsonContent.Create(new { model = Cocoon.Inference.Models.BuiltInModels.MiniLmName, input = new[] { "paid to the owner", "twice" } }),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await http.SendAsync(request, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.IsSuccessStatusCode, body);
        Assert.Equal(linked.WorkerId, JsonNode.Parse(body)!["cocoon"]!["worker"]!.GetValue<string>());

        await settlement.SettleNowAsync(TimeSpan.FromSeconds(90));

        var earnings = await node.Grains.GetGrain<IWorkerEarningsGrain>(linked.WorkerId).GetAsync();
        Assert.True(earnings.EarnedTokens > 0);
        Assert.Equal(earnings.EarnedTokens, earnings.PaidTokens);
        Assert.Equal((ulong)earnings.EarnedTokens, await WorkerContract.GetTokensPaidAsync(cluster.Ton, contract, Ct));
    }

    public async ValueTask DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }
    }
}
