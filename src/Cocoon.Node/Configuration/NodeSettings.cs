using System.Net;

namespace Cocoon.Node.Configuration;

/// <summary>
/// A node's configuration after validation: every value parsed, every combination checked. Built once at start-up;
/// an invalid configuration never gets as far as Orleans.
/// </summary>
public sealed record NodeSettings
{
    public required NodeMode Mode { get; init; }
    public required SiloRoles Roles { get; init; }
    public required string ClusterId { get; init; }
    public required string ServiceId { get; init; }
    public required IPAddress AdvertisedAddress { get; init; }
    public required bool ListenOnAnyAddress { get; init; }
    public required int SiloPort { get; init; }
    public required int GatewayPort { get; init; }
    public required string SiloName { get; init; }
    public required StorageProvider Storage { get; init; }
    public required string? ConnectionString { get; init; }
    public required bool MigrateOnStart { get; init; }
    public required Uri? GatewayUrl { get; init; }
    public required Abstractions.Pricing.PriceList Prices { get; init; }

    /// <summary>Reservation lifetimes (<c>Cocoon:Escrow</c>).</summary>
    public Grains.Escrow.ReservationTimes Reservations { get; init; } = Grains.Escrow.ReservationTimes.Default;

    /// <summary>Whether <see cref="Prices"/> are replaced by the root contract's at start (<c>Cocoon:Pricing:FromRoot</c>).</summary>
    public bool PricesFromRoot { get; init; }
    public required WorkerOptions Worker { get; init; }
    public required DevnetOptions Devnet { get; init; }

    /// <summary>Where this proxy silo's quotes come from (<c>Cocoon:Attestation:Provider</c>).</summary>
    public AttestationProviderKind AttestationProvider { get; init; } = AttestationProviderKind.Simulated;

    /// <summary>The configfs-tsm report directory (<c>Cocoon:Attestation:ConfigFsTsmPath</c>).</summary>
    public string ConfigFsTsmPath { get; init; } = "/sys/kernel/config/tsm/report";

    /// <summary>Mutual RA-TLS between silos and TLS to clients (<c>Cocoon:Attestation:SiloTls</c>).</summary>
    public bool SiloTls { get; init; }

    /// <summary>Image hashes peers must attest to (<c>Cocoon:Attestation:AllowedImageHashes</c>); empty: own hash (Devnet).</summary>
    public IReadOnlyList<string> AllowedImageHashes { get; init; } = [];

    /// <summary>How often the root contract's allow-lists are re-read (<c>Cocoon:Attestation:AllowListRefreshSeconds</c>).</summary>
    public TimeSpan AllowListRefresh { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The maximum RA-TLS connection age (<c>Cocoon:Attestation:MaxConnectionAgeMinutes</c>), or null.</summary>
    public TimeSpan? MaxConnectionAge { get; init; }

    /// <summary>Collateral for peers' quotes (<c>Cocoon:Attestation:CollateralPath</c>), or null: TCB status not checked.</summary>
    public string? CollateralPath { get; init; }

    /// <summary>
    /// What peers' quotes must satisfy besides the image allow-list: TD attributes (<c>RequiredTdAttributes</c>,
    /// <c>ForbiddenTdAttributes</c>, debug refused) and, with <see cref="CollateralPath"/>, <c>MinimumTcbStatus</c>.
    /// </summary>
    public Cocoon.Attestation.Policy.AttestationPolicy PeerPolicy { get; init; } = Cocoon.Attestation.Policy.AttestationPolicy.Production;

    /// <summary>The simulated measurements' image name (<c>Cocoon:Attestation:SimulatedImage</c>).</summary>
    public string SimulatedImage { get; init; } = Hosting.NodeAttestation.SimulatedImage;

    /// <summary>The shared simulated authority file (<c>Cocoon:Attestation:SimulatedAuthorityFile</c>).</summary>
    public string? SimulatedAuthorityFile { get; init; }

    /// <summary>The admin port and telemetry export (<c>Cocoon:Admin</c>, <c>Cocoon:Telemetry</c>).</summary>
    public Cocoon.Node.Observability.ObservabilitySettings Observability { get; init; } = Cocoon.Node.Observability.ObservabilitySettings.Default;

    /// <summary>The proxy key and settlement (<c>Cocoon:Chain</c>).</summary>
    public Chain.ChainSettings Chain { get; init; } = Node.Chain.ChainSettings.From(new Chain.ChainOptions());

    /// <summary>The models this silo's worker serves.</summary>
    public IReadOnlyList<string> WorkerModels => Worker.Models.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Whether a worker deploys the models it serves when they are not deployed yet.</summary>
    public bool AutoDeploy => Worker.AutoDeploy ?? Mode == NodeMode.Devnet;

    /// <summary>The roles as published in silo metadata: <c>proxy</c>, <c>worker</c> or <c>proxy,worker</c>.</summary>
    public string RoleNames => FormatRoles(Roles);

    /// <summary>Formats roles the way configuration and silo metadata spell them.</summary>
    public static string FormatRoles(SiloRoles roles) => roles switch
    {
        SiloRoles.Proxy => "proxy",
        SiloRoles.Worker => "worker",
        SiloRoles.Proxy | SiloRoles.Worker => "proxy,worker",
        _ => "",
    };

    /// <summary>Parses a comma-separated role list; throws naming <c>Cocoon:Roles</c> when it is empty or unknown.</summary>
    public static SiloRoles ParseRoles(string? text)
    {
        var roles = SiloRoles.None;
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            roles |= part.ToUpperInvariant() switch
            {
                "PROXY" => SiloRoles.Proxy,
                "WORKER" => SiloRoles.Worker,
                _ => throw new CocoonConfigurationException("Cocoon:Roles",
                    $"unknown role '{part}': the roles are 'proxy' and 'worker' (comma-separated for both)."),
            };
        }

        if (roles == SiloRoles.None)
        {
            throw new CocoonConfigurationException("Cocoon:Roles",
                "no role is set: set it to 'proxy', 'worker' or 'proxy,worker'.");
        }

        return roles;
    }

    /// <summary>Validates <paramref name="options"/> and returns the settings, or throws naming the first bad setting.</summary>
    public static NodeSettings From(CocoonOptions options)
    {
        if (options.Mode == NodeMode.Unset)
        {
            throw new CocoonConfigurationException("Cocoon:Mode",
                "not set: set it to 'Production' for a real deployment or 'Devnet' for a local developer network.");
        }

        var roles = ParseRoles(options.Roles);
        RequireName("Cocoon:ClusterId", options.ClusterId);
        RequireName("Cocoon:ServiceId", options.ServiceId);

        if (!IPAddress.TryParse(options.Silo.AdvertisedAddress, out var advertised))
        {
            throw new CocoonConfigurationException("Cocoon:Silo:AdvertisedAddress",
                $"'{options.Silo.AdvertisedAddress}' is not an IP address.");
        }

        RequirePort("Cocoon:Silo:SiloPort", options.Silo.SiloPort, allowZero: false);
        RequirePort("Cocoon:Silo:GatewayPort", options.Silo.GatewayPort, allowZero: true);
        if (options.Silo.GatewayPort == options.Silo.SiloPort)
        {
            throw new CocoonConfigurationException("Cocoon:Silo:GatewayPort",
                $"is the same as Cocoon:Silo:SiloPort ({options.Silo.SiloPort}); give them different ports.");
        }

        var connectionString = string.IsNullOrWhiteSpace(options.Storage.ConnectionString) ? null : options.Storage.ConnectionString;
        if (options.Storage.Provider == StorageProvider.Memory && options.Mode == NodeMode.Production)
        {
            throw new CocoonConfigurationException("Cocoon:Storage:Provider",
                "'Memory' loses every balance on restart and is refused in Production mode; use 'PostgreSql'.");
        }

        if (options.Storage.Provider == StorageProvider.PostgreSql && connectionString is null)
        {
            throw new CocoonConfigurationException("Cocoon:Storage:ConnectionString",
                "not set: give the Npgsql connection string of the cluster's PostgreSQL database " +
                "(e.g. Host=db;Port=5432;Database=cocoon;Username=cocoon;Password=...).");
        }

        Uri? gatewayUrl = null;
        if (roles.HasFlag(SiloRoles.Proxy) && options.Gateway.Enabled)
        {
            if (!Uri.TryCreate(options.Gateway.Url, UriKind.Absolute, out gatewayUrl)
                || (gatewayUrl.Scheme != Uri.UriSchemeHttp && gatewayUrl.Scheme != Uri.UriSchemeHttps)
                || gatewayUrl.AbsolutePath != "/")
            {
                throw new CocoonConfigurationException("Cocoon:Gateway:Url",
                    $"'{options.Gateway.Url}' is not a base URL like http://127.0.0.1:8080.");
            }

            RequirePort("Cocoon:Gateway:Url", gatewayUrl.Port, allowZero: true);
        }

        if (options.Mode == NodeMode.Production && !string.IsNullOrEmpty(options.Devnet.ApiKey))
        {
            throw new CocoonConfigurationException("Cocoon:Devnet:ApiKey",
                "a seeded development key and account are devnet shortcuts and are refused in Production mode; create keys with the CLI.");
        }

        var attestation = options.Attestation.Provider
            ?? (options.Mode == NodeMode.Devnet ? AttestationProviderKind.Simulated : AttestationProviderKind.ConfigFsTsm);
        if (attestation == AttestationProviderKind.Simulated && options.Mode == NodeMode.Production)
        {
            throw new CocoonConfigurationException("Cocoon:Attestation:Provider",
                "'Simulated' quotes prove nothing and are a devnet shortcut refused in Production mode; use 'ConfigFsTsm' on a TDX guest.");
        }

        if (attestation == AttestationProviderKind.None && gatewayUrl?.Scheme == Uri.UriSchemeHttps)
        {
            throw new CocoonConfigurationException("Cocoon:Attestation:Provider",
                $"'None' has no RA-TLS certificate to serve {gatewayUrl}; use an attestation provider or an http gateway URL.");
        }

        if (attestation == AttestationProviderKind.ConfigFsTsm && string.IsNullOrWhiteSpace(options.Attestation.ConfigFsTsmPath))
        {
            throw new CocoonConfigurationException("Cocoon:Attestation:ConfigFsTsmPath", "not set: give the configfs-tsm report directory (/sys/kernel/config/tsm/report).");
        }

        var siloTls = options.Attestation.SiloTls ?? attestation != AttestationProviderKind.None;
        if (siloTls && attestation == AttestationProviderKind.None)
        {
            throw new CocoonConfigurationException("Cocoon:Attestation:SiloTls",
                "needs an RA-TLS certificate, and Cocoon:Attestation:Provider is 'None'; set an attestation provider or turn SiloTls off.");
        }

        if (!siloTls && attestation != AttestationProviderKind.None && options.Mode == NodeMode.Production)
        {
            throw new CocoonConfigurationException("Cocoon:Attestation:SiloTls",
                "is off while attestation is on: Production silos must admit only attested peers; remove the setting or set it to true.");
        }

        // An empty list in Production is refused by CocoonNode.BuildAsync after the first quote (RequireAllowedImageHashes),
        // so a node without TDX hears about that first.
        var allowedImageHashes = ParseImageHashes(options.Attestation.AllowedImageHashes);

        if (options.Mode == NodeMode.Production && !string.IsNullOrEmpty(options.Attestation.SimulatedImage))
        {
            throw new CocoonConfigurationException("Cocoon:Attestation:SimulatedImage", "simulated measurements are a devnet shortcut refused in Production mode.");
        }

        if (options.Mode == NodeMode.Production && !string.IsNullOrEmpty(options.Attestation.SimulatedAuthorityFile))
        {
            throw new CocoonConfigurationException("Cocoon:Attestation:SimulatedAuthorityFile", "a simulated authority is a devnet shortcut refused in Production mode.");
        }

        var p = options.Pricing;
        if (p.PricePerToken < 0 || p.WorkerFeePerToken < 0 || p.WorkerFeePerToken > p.PricePerToken)
        {
            throw new CocoonConfigurationException("Cocoon:Pricing:WorkerFeePerToken",
                $"prices must be >= 0 with the worker fee ({p.WorkerFeePerToken}) at most the price ({p.PricePerToken}).");
        }

        if (p.PromptMultiplier < 0 || p.CachedMultiplier < 0 || p.CompletionMultiplier < 0 || p.ReasoningMultiplier < 0)
        {
            throw new CocoonConfigurationException("Cocoon:Pricing", "multipliers must be >= 0 (10000 = 1.0x).");
        }

        var w = options.Worker;
        if (roles.HasFlag(SiloRoles.Worker))
        {
            if (w.Models.Split(',', StringSplitOptions.RemoveEmptyEntries).Length > 0 && string.IsNullOrWhiteSpace(w.ModelsDirectory))
            {
                throw new CocoonConfigurationException("Cocoon:Worker:ModelsDirectory", "not set: give the folder that holds the model folders.");
            }

            if (w.Capacity < 1)
            {
                throw new CocoonConfigurationException("Cocoon:Worker:Capacity", $"{w.Capacity}: a worker runs at least one request at a time.");
            }

            if (w.Coefficient < 1)
            {
                throw new CocoonConfigurationException("Cocoon:Worker:Coefficient", $"{w.Coefficient}: the coefficient is at least 1 (1000 = 1.0x).");
            }

            if (w.LeaseSeconds < 3)
            {
                throw new CocoonConfigurationException("Cocoon:Worker:LeaseSeconds", $"{w.LeaseSeconds}: leases last at least 3 seconds.");
            }

            if (!Enum.TryParse<Cocoon.Inference.Runtime.ExecutionProviderPreference>(w.ExecutionProvider, ignoreCase: true, out _))
            {
                throw new CocoonConfigurationException("Cocoon:Worker:ExecutionProvider", $"'{w.ExecutionProvider}': use Auto, Cpu or Cuda.");
            }

            if (!string.IsNullOrWhiteSpace(w.OwnerAddress))
            {
                if (!Cocoon.Ton.Addresses.TonAddress.TryParse(w.OwnerAddress.Trim(), out var owner, out var error))
                {
                    throw new CocoonConfigurationException("Cocoon:Worker:OwnerAddress", $"'{w.OwnerAddress}' is not a TON address: {error}.");
                }

                // One spelling everywhere (the lease, the settlement link, the CLI): the user-friendly form.
                w.OwnerAddress = owner.ToFriendlyString();
            }
        }

        return new NodeSettings
        {
            Mode = options.Mode,
            Roles = roles,
            ClusterId = options.ClusterId,
            ServiceId = options.ServiceId,
            AdvertisedAddress = advertised,
            ListenOnAnyAddress = options.Silo.ListenOnAnyAddress,
            SiloPort = options.Silo.SiloPort,
            GatewayPort = options.Silo.GatewayPort,
            SiloName = string.IsNullOrWhiteSpace(options.Silo.Name) ? $"{Environment.MachineName}-{options.Silo.SiloPort}" : options.Silo.Name,
            Storage = options.Storage.Provider,
            ConnectionString = connectionString,
            MigrateOnStart = options.Storage.MigrateOnStart,
            GatewayUrl = gatewayUrl,
            Prices = new Abstractions.Pricing.PriceList
            {
                PricePerToken = p.PricePerToken,
                WorkerFeePerToken = p.WorkerFeePerToken,
                PromptMultiplier = p.PromptMultiplier,
                CachedMultiplier = p.CachedMultiplier,
                CompletionMultiplier = p.CompletionMultiplier,
                ReasoningMultiplier = p.ReasoningMultiplier,
            },
            PricesFromRoot = p.FromRoot ?? options.Mode == NodeMode.Production,
            Reservations = new Grains.Escrow.ReservationTimes(
                ReservationLifetime("Cocoon:Escrow:ReservationSeconds", options.Escrow.ReservationSeconds),
                ReservationLifetime("Cocoon:Escrow:GenerationReservationSeconds", options.Escrow.GenerationReservationSeconds)),
            Worker = w,
            Devnet = options.Devnet,
            AttestationProvider = attestation,
            Observability = Cocoon.Node.Observability.ObservabilitySettings.From(options.Admin, options.Telemetry),
            Chain = Node.Chain.ChainSettings.From(options.Chain),
            ConfigFsTsmPath = options.Attestation.ConfigFsTsmPath,
            SiloTls = siloTls,
            AllowedImageHashes = allowedImageHashes,
            AllowListRefresh = options.Attestation.AllowListRefreshSeconds is > 0 and <= 86_400
                ? TimeSpan.FromSeconds(options.Attestation.AllowListRefreshSeconds)
                : throw new CocoonConfigurationException("Cocoon:Attestation:AllowListRefreshSeconds", "must be more than 0 and at most 86400 seconds."),
            MaxConnectionAge = options.Attestation.MaxConnectionAgeMinutes switch
            {
                null => null,
                > 0 and <= 24 * 60 => TimeSpan.FromMinutes(options.Attestation.MaxConnectionAgeMinutes.Value),
                _ => throw new CocoonConfigurationException("Cocoon:Attestation:MaxConnectionAgeMinutes", "must be more than 0 and at most 1440 minutes."),
            },
            CollateralPath = string.IsNullOrWhiteSpace(options.Attestation.CollateralPath) ? null : options.Attestation.CollateralPath,
            PeerPolicy = Cocoon.Attestation.Policy.AttestationPolicy.Production with
            {
                RequiredTdAttributes = ParseBits("Cocoon:Attestation:RequiredTdAttributes", options.Attestation.RequiredTdAttributes, Cocoon.Attestation.Policy.AttestationPolicy.Production.RequiredTdAttributes),
                ForbiddenTdAttributes = ParseBits("Cocoon:Attestation:ForbiddenTdAttributes", options.Attestation.ForbiddenTdAttributes, Cocoon.Attestation.Policy.AttestationPolicy.Production.ForbiddenTdAttributes),
                MinimumTcbStatus = string.IsNullOrWhiteSpace(options.Attestation.CollateralPath) ? null : options.Attestation.MinimumTcbStatus,
            },
            SimulatedImage = string.IsNullOrWhiteSpace(options.Attestation.SimulatedImage) ? Hosting.NodeAttestation.SimulatedImage : options.Attestation.SimulatedImage,
            SimulatedAuthorityFile = string.IsNullOrWhiteSpace(options.Attestation.SimulatedAuthorityFile)
                ? Path.Combine(Path.GetTempPath(), $"cocoon-devnet-authority-{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(options.ClusterId)))[..16]}.pem")
                : options.Attestation.SimulatedAuthorityFile,
        };
    }

    // A reservation must outlive a request (seconds at least) and not hold money for more than a day.
    private static TimeSpan ReservationLifetime(string setting, double seconds) => seconds is >= 5 and <= 86_400
        ? TimeSpan.FromSeconds(seconds)
        : throw new CocoonConfigurationException(setting, $"{seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}: a reservation lives at least 5 seconds and at most 86400.");

    /// <summary>
    /// Refuses silo TLS in Production without the root contract, whose allow-lists are the authority for which images
    /// may join (<c>Cocoon:Attestation:AllowedImageHashes</c> is only the bootstrap fallback until the root is read).
    /// </summary>
    public void RequireAllowedImageHashes()
    {
        if (SiloTls && Mode == NodeMode.Production && (Chain.Endpoint is null || Chain.RootAddress is null))
        {
            throw new CocoonConfigurationException(Chain.Endpoint is null ? "Cocoon:Chain:Endpoint" : "Cocoon:Chain:RootAddress",
                "not set: Production silos admit only peers whose image hash the root contract allows (its proxy and worker image " +
                "hashes, re-read every Cocoon:Attestation:AllowListRefreshSeconds); set the toncenter endpoint and the root address. " +
                "Cocoon:Attestation:AllowedImageHashes is only the fallback used until the root has been read.");
        }
    }

    private static ulong ParseBits(string setting, string? text, ulong defaultValue)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return defaultValue;
        }

        var hex = text.Trim();
        hex = hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? hex[2..] : hex;
        return ulong.TryParse(hex, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var bits)
            ? bits
            : throw new CocoonConfigurationException(setting, $"'{text}' is not a 64-bit hex mask (e.g. 10000000 for SEPT_VE_DISABLE).");
    }

    private static List<string> ParseImageHashes(string? text)
    {
        var hashes = new List<string>();
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (part.Length != 64 || !part.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                throw new CocoonConfigurationException("Cocoon:Attestation:AllowedImageHashes",
                    $"'{part}' is not an image hash: give 64 lower-case hex characters (SHA-256) per entry, comma-separated.");
            }

            hashes.Add(part);
        }

        return hashes;
    }

    private static void RequireName(string setting, string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > 150)
        {
            throw new CocoonConfigurationException(setting, "must be a non-empty name of at most 150 characters.");
        }
    }

    private static void RequirePort(string setting, int port, bool allowZero)
    {
        if (port < (allowZero ? 0 : 1) || port > 65535)
        {
            throw new CocoonConfigurationException(setting, $"{port} is not a valid TCP port.");
        }
    }
}
