using Cocoon.Abstractions;
using Cocoon.Grains;
using Cocoon.Node.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Cocoon.Attestation.RaTls;
using Npgsql;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Cocoon.Node.Hosting;

/// <summary>Everything a caller can add when building a node.</summary>
public sealed class CocoonNodeOptions
{
    /// <summary>Configuration values that override appsettings.json, the environment and the command line.</summary>
    public IDictionary<string, string?>? Overrides { get; init; }

    /// <summary>Progress lines during start-up (migrations, warnings); null for none.</summary>
    public Action<string>? Progress { get; init; }

    /// <summary>Extra silo configuration (tests shorten membership timeouts here).</summary>
    public Action<ISiloBuilder>? ConfigureSilo { get; init; }

    /// <summary>Extra host configuration (logging, services).</summary>
    public Action<HostApplicationBuilder>? ConfigureHost { get; init; }
}

/// <summary>
/// Builds a Cocoon silo host: <c>Host.CreateApplicationBuilder</c> + <c>UseOrleans</c>, configured from
/// appsettings.json, the environment (<c>Cocoon__Storage__ConnectionString</c>) and the command line
/// (<c>--Cocoon:Mode Devnet</c>). Validation and the checks of <see cref="Preflight"/> run before Orleans does.
/// </summary>
public static class CocoonNode
{
    // Keeps the Npgsql assembly referenced: Orleans's AdoNet providers load the factory by reflection from the
    // invariant "Npgsql" (orleans.md section 2), so nothing else in the build would notice if it went missing.
    private static readonly Type[] ProviderFactories = [typeof(NpgsqlFactory)];

    /// <summary>The AdoNet invariant for PostgreSQL.</summary>
    public const string PostgresInvariant = "Npgsql";

    /// <summary>Validates the configuration, checks the surroundings and returns the built (not started) host.</summary>
    /// <exception cref="CocoonConfigurationException">A setting is wrong; the message names it.</exception>
    public static async Task<IHost> BuildAsync(string[] args, CocoonNodeOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new CocoonNodeOptions();
        _ = ProviderFactories;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        if (options.Overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(options.Overrides);
        }

        var settings = ReadSettings(builder.Configuration);
        if (settings.Mode == NodeMode.Devnet)
        {
            options.Progress?.Invoke("devnet mode: development shortcuts are allowed; never use it for real funds");
        }

        await Preflight.CheckAsync(settings, options.Progress, cancellationToken).ConfigureAwait(false);
        settings = await Chain.RootPricing.ApplyAsync(settings, options.Progress, cancellationToken).ConfigureAwait(false);

        // A proxy silo attests its gateway; its first quote is taken now, so a node that cannot attest (ConfigFsTsm
        // without TDX) stops here with one message naming Cocoon:Attestation:Provider instead of serving unattested.
        // With silo TLS every silo (workers too) needs one: its RA-TLS certificate is its TLS identity towards peers.
        // A worker attests too: its receipt key (signing every request's receipt) is in its claims.
        NodeAttestation? attestation = null;
        Security.CallerCredentials? callers = null;
        var isWorker = settings.Roles.HasFlag(SiloRoles.Worker);
        var receiptSigner = isWorker ? new Cocoon.Grains.Inference.ReceiptSigner() : null;
        if (settings.Roles.HasFlag(SiloRoles.Proxy) || settings.SiloTls || isWorker)
        {
            attestation = await NodeAttestation.CreateAsync(settings, receiptSigner?.PublicKeyHex, cancellationToken).ConfigureAwait(false);
            options.Progress?.Invoke(attestation is null
                ? "attestation: none (Cocoon:Attestation:Provider=None): this gateway serves no quote and must not be trusted with prompts"
                : $"attestation: {settings.AttestationProvider} quotes, RA-TLS certificate for silo {settings.SiloName}");
        }

        try
        {
            settings.RequireAllowedImageHashes();

            // Who may call what: clients reach only the public interfaces, operators also Operations/ (Security/).
            callers = Security.CallerCredentials.From(builder.Configuration, settings);

            // The proxy key signs money state (DESIGN section 2): a Production proxy without one stops here.
            Chain.ChainWiring.Register(builder.Services, settings, options.Progress);
        }
        catch (CocoonConfigurationException)
        {
            attestation?.Dispose();
            throw;
        }

        // Silo TLS admits the images the root contract allows (read before Orleans starts: peers are checked before any
        // grain can be called), with the configured hashes as the bootstrap fallback (RootImageAllowList).
        SiloTlsValidator? siloTls = null;
        RootImageAllowList? allowList = null;
        RaTlsConnectionLifetime? connectionLifetime = null;
        if (settings.SiloTls && attestation is not null)
        {
            try
            {
                allowList = await RootImageAllowList.CreateAsync(settings, attestation.ImageHash, options.Progress, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (CocoonConfigurationException)
            {
                attestation.Dispose();
                throw;
            }

            siloTls = SiloTlsValidator.For(settings, attestation, allowList.List, allowList.Collateral);
            options.Progress?.Invoke($"silo TLS: mutual RA-TLS, admitting image hashes {string.Join(", ", siloTls.AllowedImageHashes)}" +
                (allowList.Collateral is { } c ? $"; peers' TCB status at least {settings.PeerPolicy.MinimumTcbStatus} (collateral {c.Path})"
                    : "; peers' TCB status not checked (no Cocoon:Attestation:CollateralPath: TCB collateral comes from Intel PCS/PCCS and expires monthly, so it is opt-in)"));
            builder.Services.AddSingleton(_ => allowList); // a factory, so the container disposes it
            builder.Services.AddSingleton(siloTls);
            connectionLifetime = new RaTlsConnectionLifetime(attestation.Rotator, settings.MaxConnectionAge);
            builder.Services.AddSingleton(_ => connectionLifetime);
            builder.Services.AddHostedService(sp =>
            {
                var service = sp.GetRequiredService<RootImageAllowList>();
                service.Logger = sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<RootImageAllowList>>();
                return service;
            });
        }

        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(settings.Prices);
        builder.Services.AddSingleton(settings.Reservations);
        if (receiptSigner is not null)
        {
            builder.Services.AddSingleton(_ => receiptSigner);
        }
        builder.Services.AddSingleton(new NodeProgress(options.Progress));
        if (attestation is not null)
        {
            // Through a factory, so the container disposes it (and its keys) with the host.
            builder.Services.AddSingleton(_ => attestation);
            builder.Services.AddHostedService(sp =>
            {
                var service = sp.GetRequiredService<NodeAttestation>();
                service.Logger = sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<NodeAttestation>>();
                siloTls?.Logger = sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<SiloTlsValidator>>();
                return service;
            });
        }
        Observability.NodeObservability.AddCocoonObservability(builder, settings);
        builder.UseOrleans(silo =>
        {
            ConfigureSilo(silo, settings);
            // Orleans's own tuning, for operators who need it (README "Configuration"): failure detection
            // (Cocoon:Orleans:Membership, Orleans's ClusterMembershipOptions: ProbeTimeout, NumMissedProbesLimit...) and the
            // reminder tick (Cocoon:Orleans:Reminders:MinimumReminderPeriod, also how often escrow expiries are checked).
            // Not the top-level Orleans section: Orleans reads that itself as provider configuration.
            silo.Services.AddOptions<Orleans.Configuration.ClusterMembershipOptions>().Bind(builder.Configuration.GetSection("Cocoon:Orleans:Membership"));
            silo.Services.AddOptions<Orleans.Hosting.ReminderOptions>().Bind(builder.Configuration.GetSection("Cocoon:Orleans:Reminders"));
            Observability.NodeObservability.ConfigureSilo(silo, settings);
            Security.CallGuardWiring.Register(silo, callers!, options.Progress);
            if (siloTls is not null)
            {
                UseSiloTls(silo, attestation!.Rotator, siloTls, connectionLifetime!);
            }

            options.ConfigureSilo?.Invoke(silo);
        });

        // Hosted services start in registration order after the silo: workers, then devnet seeding, then the gateway,
        // so the first HTTP request finds models registered and accounts funded.
        if (settings.Roles.HasFlag(SiloRoles.Worker) && settings.WorkerModels.Count > 0)
        {
            builder.Services.AddSingleton<WorkerAgent>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<WorkerAgent>());
        }

        if (settings.Mode == NodeMode.Devnet && settings.Roles.HasFlag(SiloRoles.Proxy) && !string.IsNullOrEmpty(settings.Devnet.ApiKey))
        {
            builder.Services.AddHostedService<DevnetSeeder>();
        }

        if (settings.Roles.HasFlag(SiloRoles.Proxy) && settings.GatewayUrl is not null)
        {
            // Registered after UseOrleans: hosted services start in order, so the silo is up before the first request.
            builder.Services.AddSingleton<GatewayServer>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<GatewayServer>());
        }

        options.ConfigureHost?.Invoke(builder);
        return builder.Build();
    }

    /// <summary>Reads and validates the <c>Cocoon</c> section.</summary>
    public static NodeSettings ReadSettings(IConfiguration configuration)
    {
        CocoonOptions options;
        try
        {
            options = configuration.GetSection(CocoonOptions.SectionName).Get<CocoonOptions>() ?? new CocoonOptions();
        }
        catch (InvalidOperationException e)
        {
            // "Failed to convert configuration value 'X' at 'Cocoon:Mode' to type '...'": name the key, then the value.
            var match = System.Text.RegularExpressions.Regex.Match(e.Message, "value '(?<value>[^']*)' at '(?<key>[^']+)' to type '(?<type>[^']+)'");
            if (!match.Success)
            {
                throw new CocoonConfigurationException(CocoonOptions.SectionName, e.Message, e);
            }

            // Optional settings are Nullable<T>: name T.
            var typeName = match.Groups["type"].Value;
            var nullable = System.Text.RegularExpressions.Regex.Match(typeName, @"^System\.Nullable`1\[\[(?<inner>[^,\]]+)");
            typeName = nullable.Success ? nullable.Groups["inner"].Value : typeName;
            var type = typeName.Split('.')[^1];
            var allowed = Type.GetType(typeName) is { IsEnum: true } enumType
                ? $"; allowed: {string.Join(", ", Enum.GetNames(enumType).Where(n => n != nameof(NodeMode.Unset)))}"
                : "";
            throw new CocoonConfigurationException(match.Groups["key"].Value,
                $"'{match.Groups["value"].Value}' is not a valid {type}{allowed}.", e);
        }

        return NodeSettings.From(options);
    }

    /// <summary>
    /// Mutual TLS between silos with the rotator's current RA-TLS certificate (read at each handshake; the attestation
    /// loop renews it ahead of expiry), admitting only peers <paramref name="validator"/> accepts. Clients connect to
    /// the gateway port over TLS too, without a certificate.
    /// </summary>
    private static void UseSiloTls(ISiloBuilder silo, RaTlsCertificateRotator rotator, SiloTlsValidator validator, RaTlsConnectionLifetime lifetime)
    {
        var peers = new TlsOptions
        {
            LocalCertificate = rotator.Current,
            LocalServerCertificateSelector = (_, _) => rotator.Current!,
            LocalClientCertificateSelector = (_, _, _, _, _) => rotator.Current!,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
            RemoteCertificateValidation = validator.RemoteCertificateValidation,
        };

        // Clients (Cocoon.Client) are not attested: the gateway port serves the same certificate over TLS and asks for
        // none; the client checks the silo (CocoonClientOptions.Tls).
        var clients = new TlsOptions
        {
            LocalCertificate = rotator.Current,
            LocalServerCertificateSelector = (_, _) => rotator.Current!,
            RemoteCertificateMode = RemoteCertificateMode.NoCertificate,
        };
        silo.Configure<SiloConnectionOptions>(o =>
        {
            // After TLS: a connection lives no longer than the certificates that authenticated it, and closes when this
            // silo's certificate rotates (RaTlsConnectionLifetime), so peers re-handshake against the current allow-list.
            o.ConfigureSiloInboundConnection(connection =>
            {
                connection.UseServerTls(peers);
                connection.Use(lifetime.Middleware);
            });
            o.ConfigureSiloOutboundConnection(connection =>
            {
                connection.UseClientTls(peers);
                connection.Use(lifetime.Middleware);
            });
            o.ConfigureGatewayInboundConnection(connection =>
            {
                connection.UseServerTls(clients);
                connection.Use(lifetime.Middleware);
            });
        });
    }

    private static void ConfigureSilo(ISiloBuilder silo, NodeSettings settings)
    {
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = settings.ClusterId;
            o.ServiceId = settings.ServiceId;
        });
        silo.Configure<SiloOptions>(o => o.SiloName = settings.SiloName);
        silo.AddCocoonGrains();
        silo.ConfigureEndpoints(settings.AdvertisedAddress, settings.SiloPort, settings.GatewayPort, settings.ListenOnAnyAddress);
        silo.UseSiloMetadata(new Dictionary<string, string>
        {
            [CocoonNames.RoleMetadataKey] = settings.RoleNames,
            ["cocoon.mode"] = settings.Mode.ToString(),
        });

        if (settings.Storage == StorageProvider.PostgreSql)
        {
            var connectionString = settings.ConnectionString!;
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = PostgresInvariant;
                o.ConnectionString = connectionString;
            });
            silo.AddAdoNetGrainStorage(CocoonNames.StorageName, o =>
            {
                o.Invariant = PostgresInvariant;
                o.ConnectionString = connectionString;
            });
            silo.UseAdoNetReminderService(o =>
            {
                o.Invariant = PostgresInvariant;
                o.ConnectionString = connectionString;
            });
        }
        else
        {
            silo.UseDevelopmentClustering(new System.Net.IPEndPoint(settings.AdvertisedAddress, settings.SiloPort));
            silo.AddMemoryGrainStorage(CocoonNames.StorageName);
            silo.UseInMemoryReminderService();
        }
    }
}
