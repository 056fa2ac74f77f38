using Cocoon.Grains.Ledger;
using Cocoon.Node.Configuration;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Crypto;

namespace Cocoon.Node.Chain;

/// <summary>
/// The <c>Cocoon:Chain</c> section: the proxy key, and where and how a proxy silo settles on TON (DESIGN section 6).
/// </summary>
public sealed class ChainOptions
{
    /// <summary>
    /// The toncenter v2 JSON-RPC endpoint (<c>http://127.0.0.1:8081/jsonRPC</c> for the localnet); empty: no chain
    /// (balances stay off chain, nothing is settled).
    /// </summary>
    public string Endpoint { get; set; } = "";

    /// <summary>toncenter API key, if the endpoint wants one.</summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// The proxy key as a 24-word TON mnemonic: signs persisted money state, charges and payouts, and owns the proxy's
    /// v5r1 wallet. Prefer <see cref="ProxyKeyFile"/> outside tests.
    /// </summary>
    public string? ProxyMnemonic { get; set; }

    /// <summary>A file holding the proxy key's 24-word mnemonic (owner-only permissions).</summary>
    public string? ProxyKeyFile { get; set; }

    /// <summary>The root contract's address (the registry mirror reads prices and allow-lists from it).</summary>
    public string? RootAddress { get; set; }

    /// <summary>Charge a client on chain once its uncharged amount reaches this (COCOON: 1 TON).</summary>
    public long ChargeThresholdNanoTon { get; set; } = 1_000_000_000;

    /// <summary>Pay a worker on chain once its unpaid earnings reach this (COCOON: 10 TON).</summary>
    public long PayoutThresholdNanoTon { get; set; } = 10_000_000_000;

    /// <summary>How often settlement checks thresholds, deposits and pending transfers, in seconds.</summary>
    public double PollIntervalSeconds { get; set; } = 5;

    /// <summary>How often the proxy commits its state seqno and ledger hash to the root contract, in seconds (COCOON: 30-60).</summary>
    public double CommitIntervalSeconds { get; set; } = 60;

    /// <summary>
    /// The stake of the client contracts this proxy deploys, in nanoTON (COCOON's fake TON: 1 TON). It is part of the
    /// contract's address and bounds a client's credit not yet charged on chain.
    /// </summary>
    public long ClientStakeNanoTon { get; set; } = ProxyChain.ClientStake;

    /// <summary>The client contracts' <c>client_delay_before_close</c>, in seconds (COCOON's fake TON: 300).</summary>
    public uint ClientDelayBeforeCloseSeconds { get; set; } = ProxyChain.ClientDelayBeforeClose;

    /// <summary>The network's global id, part of a v5r1 wallet id (-239 mainnet and the sandbox localnet, -3 testnet).</summary>
    public int NetworkGlobalId { get; set; } = -239;
}

/// <summary><see cref="ChainOptions"/> after validation.</summary>
public sealed record ChainSettings
{
    /// <summary>The endpoint, or null when the node runs without a chain.</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>toncenter API key.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The root contract, when configured.</summary>
    public TonAddress? RootAddress { get; init; }

    /// <summary>The mnemonic words, or null when none is configured.</summary>
    public IReadOnlyList<string>? ProxyMnemonic { get; init; }

    /// <summary>Where the mnemonic came from (for messages).</summary>
    public string ProxyKeySource { get; init; } = "";

    /// <summary>Thresholds and intervals.</summary>
    public required SettlementOptions Settlement { get; init; }

    /// <summary>Validates the section; throws naming the setting.</summary>
    public static ChainSettings From(ChainOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Uri? endpoint = null;
        if (!string.IsNullOrWhiteSpace(options.Endpoint)
            && (!Uri.TryCreate(options.Endpoint, UriKind.Absolute, out endpoint) || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps)))
        {
            throw new CocoonConfigurationException("Cocoon:Chain:Endpoint", $"'{options.Endpoint}' is not an http(s) URL of a toncenter v2 JSON-RPC endpoint.");
        }

        TonAddress? root = null;
        if (!string.IsNullOrWhiteSpace(options.RootAddress) && !TonAddress.TryParse(options.RootAddress, out root, out var error))
        {
            throw new CocoonConfigurationException("Cocoon:Chain:RootAddress", $"'{options.RootAddress}' is not a TON address: {error}.");
        }

        if (options.ChargeThresholdNanoTon < 0)
        {
            throw new CocoonConfigurationException("Cocoon:Chain:ChargeThresholdNanoTon", "must be >= 0 (nanoTON).");
        }

        if (options.PayoutThresholdNanoTon < 0)
        {
            throw new CocoonConfigurationException("Cocoon:Chain:PayoutThresholdNanoTon", "must be >= 0 (nanoTON).");
        }

        if (options.ClientStakeNanoTon <= 0)
        {
            throw new CocoonConfigurationException("Cocoon:Chain:ClientStakeNanoTon", "must be > 0 (nanoTON).");
        }

        if (!(options.PollIntervalSeconds is >= 0.05 and <= 3600))
        {
            throw new CocoonConfigurationException("Cocoon:Chain:PollIntervalSeconds", "must be between 0.05 and 3600 seconds.");
        }

        if (!(options.CommitIntervalSeconds is >= 0.05 and <= 86400))
        {
            throw new CocoonConfigurationException("Cocoon:Chain:CommitIntervalSeconds", "must be between 0.05 and 86400 seconds.");
        }

        IReadOnlyList<string>? words = null;
        var source = "";
        if (!string.IsNullOrWhiteSpace(options.ProxyMnemonic) && !string.IsNullOrWhiteSpace(options.ProxyKeyFile))
        {
            throw new CocoonConfigurationException("Cocoon:Chain:ProxyKeyFile", "set either Cocoon:Chain:ProxyMnemonic or Cocoon:Chain:ProxyKeyFile, not both.");
        }

        if (!string.IsNullOrWhiteSpace(options.ProxyMnemonic))
        {
            words = ParseMnemonic("Cocoon:Chain:ProxyMnemonic", options.ProxyMnemonic);
            source = "Cocoon:Chain:ProxyMnemonic";
        }
        else if (!string.IsNullOrWhiteSpace(options.ProxyKeyFile))
        {
            string text;
            try
            {
                text = File.ReadAllText(options.ProxyKeyFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CocoonConfigurationException("Cocoon:Chain:ProxyKeyFile", $"cannot read {options.ProxyKeyFile}: {e.Message}");
            }

            words = ParseMnemonic("Cocoon:Chain:ProxyKeyFile", text);
            source = options.ProxyKeyFile;
        }

        return new ChainSettings
        {
            Endpoint = endpoint,
            ApiKey = string.IsNullOrWhiteSpace(options.ApiKey) ? null : options.ApiKey,
            RootAddress = root,
            ProxyMnemonic = words,
            ProxyKeySource = source,
            Settlement = new SettlementOptions
            {
                ChargeThresholdNanoTon = options.ChargeThresholdNanoTon,
                PayoutThresholdNanoTon = options.PayoutThresholdNanoTon,
                PollInterval = TimeSpan.FromSeconds(options.PollIntervalSeconds),
                CommitInterval = TimeSpan.FromSeconds(options.CommitIntervalSeconds),
                NetworkGlobalId = options.NetworkGlobalId,
                RootAddress = root,
                ClientStakeNanoTon = options.ClientStakeNanoTon,
                ClientDelayBeforeClose = TimeSpan.FromSeconds(options.ClientDelayBeforeCloseSeconds),
            },
        };
    }

    /// <summary>
    /// The proxy key. A proxy silo in Production mode without one stops here (it could not sign its money state); in
    /// Devnet a throwaway key is made and said so.
    /// </summary>
    public StateSigner LoadProxyKey(NodeSettings settings, Action<string>? progress)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (ProxyMnemonic is not null)
        {
            return new StateSigner(Mnemonic.ToKeyPair(ProxyMnemonic));
        }

        if (settings.Mode == NodeMode.Production && settings.Roles.HasFlag(SiloRoles.Proxy))
        {
            throw new CocoonConfigurationException("Cocoon:Chain:ProxyKeyFile",
                "not set: a proxy silo signs every escrow row and every charge with the proxy key; give a file holding its 24-word mnemonic " +
                "(or Cocoon:Chain:ProxyMnemonic). Every silo of the cluster needs the same key.");
        }

        if (settings.Roles.HasFlag(SiloRoles.Proxy))
        {
            progress?.Invoke("proxy key: none configured (Cocoon:Chain:ProxyKeyFile); using a THROWAWAY key: state signed now will not verify after a restart");
        }

        return new StateSigner(Ed25519KeyPair.Generate());
    }

    private static string[] ParseMnemonic(string setting, string text)
    {
        var words = Mnemonic.Split(text);
        if (words.Length != 24 || !Mnemonic.Validate(words))
        {
            throw new CocoonConfigurationException(setting, $"is not a valid 24-word TON mnemonic ({words.Length} words).");
        }

        return words;
    }
}
