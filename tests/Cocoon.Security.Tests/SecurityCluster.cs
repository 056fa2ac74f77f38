using System.Net;
using System.Security.Cryptography;
using System.Text;
using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Abstractions.Models;
using Cocoon.Client;
using Cocoon.Inference.Models;
using Cocoon.Testing;

[assembly: AssemblyFixture(typeof(Cocoon.Security.Tests.SecurityCluster))]

namespace Cocoon.Security.Tests;

/// <summary>
/// A proxy silo (HTTP gateway, Orleans client gateway) and a worker silo running all-MiniLM-L6-v2, on PostgreSQL, with an
/// operator token configured; app backends and operators connect with <see cref="CocoonClusterClient"/> through the
/// proxy's client gateway, as they would in a deployment.
/// </summary>
public sealed class SecurityCluster : IAsyncLifetime
{
    public const string Model = BuiltInModels.MiniLmName;

    private readonly PostgresFixture _postgres = new();
    private readonly string _models = Directory.CreateTempSubdirectory("cocoon-security-models-").FullName;

    /// <summary>The operator token (the silos know its SHA-256 only).</summary>
    public string OperatorToken { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public string ClusterId { get; } = "sec-" + Guid.NewGuid().ToString("N")[..8];

    public CocoonTestNode Proxy { get; private set; } = null!;

    public CocoonTestNode Worker { get; private set; } = null!;

    public Uri Gateway => Proxy.GatewayUrl!;

    public async ValueTask InitializeAsync()
    {
        await _postgres.InitializeAsync();
        var connectionString = await _postgres.CreateDatabaseAsync("security");
        BuiltInModels.MaterializeMiniLm(Path.Combine(_models, Model));
        var operators = new Dictionary<string, string?>
        {
            ["Cocoon:Operators:TokenSha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(OperatorToken))),
        };
        Proxy = await CocoonTestNode.StartAsync(ClusterId, "proxy", connectionString, "proxy", extra: operators);
        await Proxy.Grains.GetGrain<IModelDeploymentGrain>(Model).DeployAsync(new ModelDeployment
        {
            Name = Model,
            Kind = ModelKind.Embedding,
            ModelHash = BuiltInModels.MiniLmOnnxSha256,
            ContextLength = 256,
            Dimensions = 384,
        });
        Worker = await CocoonTestNode.StartAsync(ClusterId, "worker", connectionString, "worker", extra: new Dictionary<string, string?>(operators)
        {
            ["Cocoon:Worker:Models"] = Model,
            ["Cocoon:Worker:ModelsDirectory"] = _models,
            ["Cocoon:Worker:ExecutionProvider"] = "Cpu",
        });

        // The gateway answers once routing sees the worker's lease.
        using var http = new HttpClient { BaseAddress = Gateway };
        var (key, _) = await CreateFundedKeyAsync();
        http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        for (var attempt = 0; ; attempt++)
        {
            using var response = await http.PostAsync("/v1/embeddings", new StringContent($$"""{"model":"{{Model}}","input":"warm up"}""", Encoding.UTF8, "application/json"));
            if (response.StatusCode == HttpStatusCode.OK)
            {
                break;
            }

            if (attempt == 60)
            {
                throw new InvalidOperationException($"the gateway never served {Model}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }

            await Task.Delay(500);
        }
    }

    /// <summary>A new account holding <paramref name="nanoTon"/> and a key for it, made by the silo itself.</summary>
    public async Task<(string ApiKey, string AccountId)> CreateFundedKeyAsync(long nanoTon = 1_000_000_000)
    {
        var accountId = "acct-" + Guid.NewGuid().ToString("N")[..12];
        var apiKey = ApiKeys.Generate();
        await Proxy.Grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(apiKey)).CreateAsync(accountId, "test");
        await Proxy.Grains.GetGrain<IEscrowAccountGrain>(accountId).DepositAsync("grant-" + accountId, nanoTon);
        return (apiKey, accountId);
    }

    /// <summary>An account's ledger as the silo sees it.</summary>
    public Task<EscrowLedger> LedgerAsync(string accountId) => Proxy.Grains.GetGrain<IEscrowAccountGrain>(accountId).GetLedgerAsync();

    /// <summary>An Orleans client through the proxy's client gateway, as an app backend (no token) or an operator.</summary>
    public Task<CocoonClusterClient> ConnectAsync(string? operatorToken = null) =>
        CocoonClusterClient.ConnectAsync(new CocoonClientOptions
        {
            ClusterId = ClusterId,
            ServiceId = ClusterId,
            Gateways = [new IPEndPoint(IPAddress.Loopback, Proxy.GatewayPort)],
            OperatorToken = operatorToken,
        }, TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        foreach (var node in new[] { Worker, Proxy })
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }
        }

        Directory.Delete(_models, recursive: true);
        await _postgres.DisposeAsync();
    }
}
