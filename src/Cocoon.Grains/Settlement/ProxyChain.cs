using System.Numerics;
using Cocoon.Abstractions.Pricing;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;

namespace Cocoon.Grains.Ledger;

/// <summary>
/// The proxy's side of the chain as the settlement grain uses it: its v5r1 wallet (the proxy key's: client charges
/// arrive there, worker payouts and state commits leave from it), the toncenter client, and this proxy's client and
/// worker contracts (Cocoon.Ton.Contracts wrappers). Registered only when a chain endpoint is configured.
/// </summary>
public sealed class ProxyChain
{
    /// <summary>TON attached to a signed charge or payout; what the contract does not spend returns as excesses.</summary>
    public const long SignedMessageValue = 50_000_000;

    /// <summary>TON attached to a state commit to the root (the root returns what is left).</summary>
    public const long CommitValue = 50_000_000;

    /// <summary>
    /// The default client contract stake and close delay at deploy (COCOON's fake-TON values, cocoon.md section 3:
    /// 1 TON, 300 s; <see cref="SettlementOptions.ClientStakeNanoTon"/> and
    /// <see cref="SettlementOptions.ClientDelayBeforeClose"/> set them). They are part of the contract's address, so
    /// they are fixed by configuration rather than read from a root that may change them.
    /// </summary>
    public const long ClientStake = 1_000_000_000;

    /// <inheritdoc cref="ClientStake"/>
    public const uint ClientDelayBeforeClose = 300;

    private readonly StateSigner _signer;
    private readonly PriceList _prices;

    /// <summary>Creates the chain access for the proxy key.</summary>
    public ProxyChain(ToncenterClient client, StateSigner signer, SettlementOptions options, PriceList prices)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(signer);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(prices);
        Client = client;
        _signer = signer;
        _prices = prices;
        Options = options;
        Wallet = new WalletV5R1(signer.PublicKey.Span, networkGlobalId: options.NetworkGlobalId);
    }

    /// <summary>The toncenter client.</summary>
    public ToncenterClient Client { get; }

    /// <summary>Thresholds and intervals.</summary>
    public SettlementOptions Options { get; }

    /// <summary>The proxy wallet.</summary>
    public WalletV5R1 Wallet { get; }

    /// <summary>
    /// The client escrow contract of <paramref name="owner"/> with this proxy: charges are paid to the proxy wallet at
    /// the node's price per token (<c>Cocoon:Pricing:PricePerToken</c>), so one on-chain token is one adjusted token.
    /// </summary>
    public ClientContract ClientContractOf(TonAddress owner) =>
        new(new ClientContractConfig(owner, Wallet.Address, _signer.PublicKey, _prices.PricePerToken,
            (uint)Options.ClientDelayBeforeClose.TotalSeconds, Options.ClientStakeNanoTon));

    /// <summary>The worker contract of <paramref name="owner"/> with this proxy, at the node's worker fee per token.</summary>
    public WorkerContract WorkerContractOf(TonAddress owner) =>
        new(new WorkerContractConfig(owner, Wallet.Address, _signer.PublicKey, _prices.WorkerFeePerToken));

    /// <summary>The wallet's seqno (0 while it is not deployed), its balance, and the chain's clock.</summary>
    public async Task<(uint Seqno, bool Deployed, BigInteger Balance, long Now)> GetWalletAsync(CancellationToken cancellationToken)
    {
        var info = await Client.GetAddressInformationAsync(Wallet.Address, cancellationToken).ConfigureAwait(false);
        if (info.State != "active")
        {
            return (0, false, info.Balance, info.SyncUtime);
        }

        var seqno = await ContractGetMethods.RunIntAsync(Client, Wallet.Address, "seqno", cancellationToken: cancellationToken).ConfigureAwait(false);
        return ((uint)seqno, true, info.Balance, info.SyncUtime);
    }

    /// <summary>Signs a wallet transfer of <paramref name="messages"/> (deploying the wallet when seqno is 0).</summary>
    public SignedTransfer BuildTransfer(uint seqno, uint validUntil, IReadOnlyList<WalletMessage> messages) =>
        Wallet.CreateTransfer(_signer.Key, seqno, validUntil, messages);

    /// <summary>Sends a BoC.</summary>
    public Task SendAsync(byte[] boc, CancellationToken cancellationToken) => Client.SendBocAsync(boc, cancellationToken);

    /// <summary>Tokens a client contract has charged; 0 while it is not deployed.</summary>
    public async Task<long> GetTokensChargedAsync(TonAddress contract, CancellationToken cancellationToken)
    {
        try
        {
            return (long)await ClientContract.GetTokensChargedAsync(Client, contract, cancellationToken).ConfigureAwait(false);
        }
        catch (ContractGetMethodException e) when (e.ExitCode == -13)
        {
            return 0;
        }
    }

    /// <summary>Tokens a worker contract has paid; 0 while it is not deployed.</summary>
    public async Task<long> GetTokensPaidAsync(TonAddress contract, CancellationToken cancellationToken)
    {
        try
        {
            return (long)await WorkerContract.GetTokensPaidAsync(Client, contract, cancellationToken).ConfigureAwait(false);
        }
        catch (ContractGetMethodException e) when (e.ExitCode == -13)
        {
            return 0;
        }
    }

    /// <summary>
    /// Transactions of <paramref name="address"/> after logical time <paramref name="afterLt"/>, oldest first, with
    /// their parsed summaries.
    /// </summary>
    public async Task<List<(TonTransaction Tx, TransactionSummary Summary)>> GetTransactionsAfterAsync(TonAddress address, ulong afterLt, CancellationToken cancellationToken)
    {
        const int PageSize = 50;
        var all = new List<(TonTransaction, TransactionSummary)>();
        var seen = new HashSet<ulong>();
        TransactionId? from = null;
        while (true)
        {
            var page = await Client.GetTransactionsAsync(address, PageSize, from, afterLt == 0 ? null : afterLt, cancellationToken: cancellationToken).ConfigureAwait(false);
            var added = 0;
            foreach (var tx in page)
            {
                if (tx.Id.Lt <= afterLt || tx.Data is null || !seen.Add(tx.Id.Lt))
                {
                    continue;
                }

                TransactionSummary summary;
                try
                {
                    summary = TransactionSummary.Parse(tx.Data);
                }
                catch (FormatException e)
                {
                    // The endpoint is not trusted: a transaction it serves that is not a valid BoC is a failure of the
                    // chain endpoint (retried next cycle), not a crash of settlement.
                    throw new ToncenterException($"transaction {tx.Id.Lt} of {address.ToFriendlyString()} from the endpoint is malformed: {e.Message}", e);
                }

                all.Add((tx, summary));
                added++;
            }

            // Pages are newest first and start at `from` inclusive: the next page starts at the oldest one seen.
            if (page.Count < PageSize || added == 0)
            {
                break;
            }

            from = page[^1].Id;
        }

        all.Sort((a, b) => a.Item1.Id.Lt.CompareTo(b.Item1.Id.Lt));
        return all;
    }
}
