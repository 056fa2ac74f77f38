using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Pricing;
using Cocoon.Abstractions.Settlement;
using Cocoon.Grains.Ledger;
using Cocoon.Ton.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Settlement.Tests;

/// <summary>A Production proxy prices with the root contract's parameters (the registry), not its configuration.</summary>
public sealed class RootPricingTests(SettlementCluster cluster) : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IsolatedProxy? _proxy;

    [Fact]
    public async Task Prices_and_multipliers_come_from_the_root_and_a_paid_request_is_charged_at_the_roots_price()
    {
        var root = await RootContract.GetParamsAsync(cluster.Ton, cluster.Chain.RootAddress, Ct);
        Assert.NotEqual((ulong)SettlementCluster.PricePerToken, root.PricePerToken); // the configured value below differs

        _proxy = await IsolatedProxy.CreateAsync(cluster, "pricing");
        var node = await _proxy.StartNodeAsync("proxy,worker", new Dictionary<string, string?> { ["Cocoon:Pricing:FromRoot"] = null });

        var prices = node.Host.Services.GetRequiredService<PriceList>();
        Assert.Equal(RegistryGrain.PricesOf(root), prices);
        Assert.Equal((long)root.PricePerToken, (await node.Grains.GetGrain<ISettlementGrain>(ISettlementGrain.DefaultKey).GetStatusAsync()).PricePerToken);

        var accountId = "pricing-" + Guid.NewGuid().ToString("N")[..8];
        var apiKey = "sk-cocoon-test-" + Guid.NewGuid().ToString("N");
        await node.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(apiKey)).CreateAsync(accountId, "pricing");
        await node.Grains.GetGrain<IEscrowAccountGrain>(accountId).DepositAsync("grant", 1_000_000_000);
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(node.GatewayUrl!, "/v1/embeddings"))
        {
            Content = JsonContent.Create(new { model = Cocoon.Inference.Models.BuiltInModels.MiniLmName, input = "priced by the root" }),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await http.SendAsync(request, Ct);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
        Assert.True(response.IsSuccessStatusCode, body.ToJsonString());

        var tokens = body["usage"]!["prompt_tokens"]!.GetValue<long>();
        var expected = Pricing.Cost(new TokenUsage { PromptTokens = tokens }, 1000, RegistryGrain.PricesOf(root)).ClientNanoTon;
        Assert.Equal(expected, body["cocoon"]!["cost_nanoton"]!.GetValue<long>());
    }

    public async ValueTask DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }
    }
}
