using Cocoon.Abstractions.Accounts;
using Cocoon.Abstractions.Escrow;
using Cocoon.Node.Configuration;
using Microsoft.Extensions.Hosting;

namespace Cocoon.Node.Hosting;

/// <summary>
/// Devnet only: the development account, its API key and its starting funds, created idempotently (the grant has a
/// fixed deposit id, so a restarted devnet is not funded twice). Never registered in Production mode.
/// </summary>
public sealed class DevnetSeeder(NodeSettings settings, IGrainFactory grains, NodeProgress progress) : IHostedService
{
    /// <summary>The deposit id of the devnet's starting grant.</summary>
    public const string GrantDepositId = "devnet-initial-grant";

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var devnet = settings.Devnet;
        await grains.GetGrain<IApiKeyGrain>(ApiKeys.Hash(devnet.ApiKey!)).CreateAsync(devnet.AccountId, "devnet");
        var escrow = grains.GetGrain<IEscrowAccountGrain>(devnet.AccountId);

        // With a chain the account is funded by a real deposit to its client contract (the devnet does it), so its
        // off-chain ledger and the contract agree; without one it gets an off-chain grant.
        var balance = settings.Chain.Endpoint is null
            ? await escrow.DepositAsync(GrantDepositId, devnet.InitialFundsNanoTon)
            : await escrow.GetBalanceAsync();
        progress.Report($"account '{devnet.AccountId}' has {balance.Available} nanoTON available");
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
