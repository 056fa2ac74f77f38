using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Cocoon.Node.Configuration;
using Cocoon.Node.Hosting;
using Cocoon.Node.Storage;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Cocoon.Node.Tests;

public sealed class ConfigurationTests(PostgresFixture postgres)
{
    private static Dictionary<string, string?> Valid(string? connectionString) => new()
    {
        ["Cocoon:Mode"] = "Production",
        ["Cocoon:Roles"] = "proxy,worker",
        ["Cocoon:Silo:SiloPort"] = PostgresServer.FreeLoopbackPort().ToString(CultureInfo.InvariantCulture),
        ["Cocoon:Silo:GatewayPort"] = PostgresServer.FreeLoopbackPort().ToString(CultureInfo.InvariantCulture),
        ["Cocoon:Storage:Provider"] = "PostgreSql",
        ["Cocoon:Storage:ConnectionString"] = connectionString,
        ["Cocoon:Gateway:Url"] = "http://127.0.0.1:0",
    };

    private static async Task<CocoonConfigurationException> StartFailsAsync(Dictionary<string, string?> config)
    {
        return await Assert.ThrowsAsync<CocoonConfigurationException>(async () =>
        {
            using var host = await CocoonNode.BuildAsync([], new CocoonNodeOptions { Overrides = config });
        });
    }

    [Theory]
    [InlineData("", "no role is set")]
    [InlineData("gpu", "unknown role 'gpu'")]
    public async Task A_missing_or_unknown_role_names_Cocoon_Roles(string roles, string message)
    {
        var config = Valid("Host=127.0.0.1;Database=x");
        config["Cocoon:Roles"] = roles;

        var e = await StartFailsAsync(config);

        Assert.Equal("Cocoon:Roles", e.Setting);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Staging")]
    public async Task An_unset_or_unknown_mode_names_Cocoon_Mode(string mode)
    {
        var config = Valid("Host=127.0.0.1;Database=x");
        config["Cocoon:Mode"] = mode;

        var e = await StartFailsAsync(config);

        Assert.Equal("Cocoon:Mode", e.Setting);
    }

    [Fact]
    public async Task Production_refuses_memory_storage()
    {
        var config = Valid(null);
        config["Cocoon:Storage:Provider"] = "Memory";

        var e = await StartFailsAsync(config);

        Assert.Equal("Cocoon:Storage:Provider", e.Setting);
        Assert.Contains("refused in Production mode", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_database_names_the_connection_string()
    {
        var closedPort = PostgresServer.FreeLoopbackPort();
        var e = await StartFailsAsync(Valid($"Host=127.0.0.1;Port={closedPort};Database=cocoon;Username=u;Password=p"));

        Assert.Equal("Cocoon:Storage:ConnectionString", e.Setting);
        Assert.Contains($"cannot reach PostgreSQL at 127.0.0.1:{closedPort}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_credentials_name_the_connection_string()
    {
        var good = new NpgsqlConnectionStringBuilder(await postgres.CreateDatabaseAsync("creds")) { Password = "wrong" };

        var e = await StartFailsAsync(Valid(good.ConnectionString));

        Assert.Equal("Cocoon:Storage:ConnectionString", e.Setting);
        Assert.Contains("refused user 'cocoon'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_database_names_the_connection_string()
    {
        var good = new NpgsqlConnectionStringBuilder(await postgres.CreateDatabaseAsync("missing")) { Database = "no_such_db" };

        var e = await StartFailsAsync(Valid(good.ConnectionString));

        Assert.Contains("database 'no_such_db' does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_schema_that_is_behind_is_refused_when_start_up_may_not_migrate()
    {
        var config = Valid(await postgres.CreateEmptyDatabaseAsync("behind"));
        config["Cocoon:Storage:MigrateOnStart"] = "false";

        var e = await StartFailsAsync(config);

        Assert.Equal("Cocoon:Storage:MigrateOnStart", e.Setting);
        Assert.Contains($"at version 0 and this build needs {SchemaMigrator.LatestVersion}", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Cocoon:Silo:SiloPort")]
    [InlineData("Cocoon:Silo:GatewayPort")]
    [InlineData("Cocoon:Gateway:Url")]
    public async Task A_port_in_use_names_its_setting(string setting)
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
        var config = Valid(await postgres.CreateDatabaseAsync("ports"));
        config[setting] = setting == "Cocoon:Gateway:Url" ? $"http://127.0.0.1:{port}" : port;

        var e = await StartFailsAsync(config);

        Assert.Equal(setting, e.Setting);
        Assert.Contains($"port {port} on 127.0.0.1 is already in use", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_node_process_prints_one_clear_line_and_exits_2_on_bad_credentials()
    {
        var bad = new NpgsqlConnectionStringBuilder(await postgres.CreateDatabaseAsync("proc")) { Password = "wrong" };
        await using var node = NodeProcess.Start("cocoon-node",
        [
            "--Cocoon:Mode", "Production", "--Cocoon:Roles", "worker",
            "--Cocoon:Silo:SiloPort", PostgresServer.FreeLoopbackPort().ToString(CultureInfo.InvariantCulture),
            "--Cocoon:Silo:GatewayPort", "0",
            "--Cocoon:Storage:ConnectionString", bad.ConnectionString,
        ]);

        Assert.Equal(2, await node.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var lines = node.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("cocoon-node: configuration error: Cocoon:Storage:ConnectionString: PostgreSQL at 127.0.0.1:", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", node.StandardError + node.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Production_refuses_simulated_attestation()
    {
        var config = Valid("Host=127.0.0.1;Database=x");
        config["Cocoon:Attestation:Provider"] = "Simulated";

        var e = await StartFailsAsync(config);

        Assert.Equal("Cocoon:Attestation:Provider", e.Setting);
        Assert.Contains("refused in Production mode", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Attestation_defaults_to_simulated_in_devnet_and_configfs_tsm_in_production()
    {
        var production = new CocoonOptions { Mode = NodeMode.Production, Roles = "proxy", Storage = { ConnectionString = "Host=db" } };
        var devnet = new CocoonOptions { Mode = NodeMode.Devnet, Roles = "proxy", Storage = { Provider = StorageProvider.Memory } };

        Assert.Equal(AttestationProviderKind.ConfigFsTsm, NodeSettings.From(production).AttestationProvider);
        Assert.Equal(AttestationProviderKind.Simulated, NodeSettings.From(devnet).AttestationProvider);
    }

    [Theory]
    [InlineData("not-an-address")]
    [InlineData("EQ0000")]
    [InlineData("0:12")]
    public void A_worker_owner_address_that_is_not_a_TON_address_is_refused_naming_the_setting(string owner)
    {
        var options = new CocoonOptions
        {
            Mode = NodeMode.Devnet,
            Roles = "worker",
            Storage = { ConnectionString = "Host=db" },
            Worker = { OwnerAddress = owner, ModelsDirectory = Path.GetTempPath() },
        };

        var e = Assert.Throws<CocoonConfigurationException>(() => NodeSettings.From(options));

        Assert.Equal("Cocoon:Worker:OwnerAddress", e.Setting);
        Assert.Contains(owner, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_worker_owner_address_in_raw_form_is_kept_in_its_user_friendly_form()
    {
        var raw = "0:" + new string('7', 64);
        var options = new CocoonOptions { Mode = NodeMode.Devnet, Roles = "worker", Storage = { ConnectionString = "Host=db" },
            Worker = { OwnerAddress = raw, ModelsDirectory = Path.GetTempPath() } };

        var settings = NodeSettings.From(options);

        Assert.Equal(Cocoon.Ton.Addresses.TonAddress.Parse(raw).ToFriendlyString(), settings.Worker.OwnerAddress);
    }

    [Fact]
    public void An_https_gateway_without_attestation_is_refused()
    {
        var options = new CocoonOptions
        {
            Mode = NodeMode.Production,
            Roles = "proxy",
            Storage = { ConnectionString = "Host=db" },
            Gateway = { Url = "https://127.0.0.1:8443" },
            Attestation = { Provider = AttestationProviderKind.None },
        };

        var e = Assert.Throws<CocoonConfigurationException>(() => NodeSettings.From(options));

        Assert.Equal("Cocoon:Attestation:Provider", e.Setting);
    }

    [Fact]
    public async Task A_production_proxy_without_TDX_stops_naming_the_attestation_provider()
    {
        var config = Valid(await postgres.CreateDatabaseAsync("notdx"));
        config["Cocoon:Attestation:ConfigFsTsmPath"] = Path.Combine(Path.GetTempPath(), "no-tsm-" + Guid.NewGuid().ToString("N"));

        var e = await StartFailsAsync(config);

        Assert.Equal("Cocoon:Attestation:Provider", e.Setting);
        Assert.Contains("'ConfigFsTsm' could not produce a quote: configfs-tsm is not available", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_attestation_provider_names_its_setting()
    {
        var config = Valid("Host=127.0.0.1;Database=x");
        config["Cocoon:Attestation:Provider"] = "Sgx";

        var e = await StartFailsAsync(config);

        Assert.Equal("Cocoon:Attestation:Provider", e.Setting);
    }

    [Fact]
    public void Reservation_lifetimes_default_to_5_and_30_minutes_and_are_configurable()
    {
        var options = new CocoonOptions { Mode = NodeMode.Production, Roles = "proxy", Storage = { ConnectionString = "Host=db" } };
        Assert.Equal(Grains.Escrow.ReservationTimes.Default, NodeSettings.From(options).Reservations);
        Assert.Equal(TimeSpan.FromMinutes(5), Grains.Escrow.ReservationTimes.Default.Embeddings);

        options.Escrow.ReservationSeconds = 20;
        options.Escrow.GenerationReservationSeconds = 90;
        Assert.Equal(new Grains.Escrow.ReservationTimes(TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(90)), NodeSettings.From(options).Reservations);
    }

    [Theory]
    [InlineData("Cocoon:Escrow:ReservationSeconds", "1")]
    [InlineData("Cocoon:Escrow:ReservationSeconds", "-5")]
    [InlineData("Cocoon:Escrow:GenerationReservationSeconds", "100000")]
    public async Task A_reservation_lifetime_out_of_range_names_its_setting(string setting, string value)
    {
        var config = Valid("Host=127.0.0.1;Database=x");
        config[setting] = value;

        var e = await StartFailsAsync(config);

        Assert.Equal(setting, e.Setting);
        Assert.Contains("at least 5 seconds", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Orleans_failure_detection_and_the_reminder_tick_are_read_from_Cocoon_Orleans()
    {
        var config = Valid(await postgres.CreateDatabaseAsync("orleanstuning"));
        config["Cocoon:Attestation:Provider"] = "None";
        config["Cocoon:Roles"] = "worker";
        config["Cocoon:Orleans:Membership:ProbeTimeout"] = "00:00:03";
        config["Cocoon:Orleans:Membership:NumMissedProbesLimit"] = "4";
        config["Cocoon:Orleans:Reminders:MinimumReminderPeriod"] = "00:00:07";

        using var host = await CocoonNode.BuildAsync([], new CocoonNodeOptions { Overrides = config }, TestContext.Current.CancellationToken);

        var membership = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Orleans.Configuration.ClusterMembershipOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(3), membership.ProbeTimeout);
        Assert.Equal(4, membership.NumMissedProbesLimit);
        Assert.Equal(TimeSpan.FromSeconds(7), host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Orleans.Hosting.ReminderOptions>>().Value.MinimumReminderPeriod);
    }

    [Fact]
    public void Silo_tls_defaults_on_with_attestation_and_off_without()
    {
        var devnet = new CocoonOptions { Mode = NodeMode.Devnet, Roles = "worker", Storage = { Provider = StorageProvider.Memory } };
        var production = new CocoonOptions { Mode = NodeMode.Production, Roles = "proxy", Storage = { ConnectionString = "Host=db" } };
        var none = new CocoonOptions
        {
            Mode = NodeMode.Production,
            Roles = "proxy",
            Storage = { ConnectionString = "Host=db" },
            Attestation = { Provider = AttestationProviderKind.None },
        };

        Assert.True(NodeSettings.From(devnet).SiloTls);
        Assert.True(NodeSettings.From(production).SiloTls);
        Assert.False(NodeSettings.From(none).SiloTls);
    }

    [Fact]
    public void Production_refuses_silo_tls_off_while_attestation_is_on()
    {
        var options = new CocoonOptions
        {
            Mode = NodeMode.Production,
            Roles = "worker",
            Storage = { ConnectionString = "Host=db" },
            Attestation = { SiloTls = false },
        };

        var e = Assert.Throws<CocoonConfigurationException>(() => NodeSettings.From(options));

        Assert.Equal("Cocoon:Attestation:SiloTls", e.Setting);
    }

    [Fact]
    public void Silo_tls_without_attestation_is_refused()
    {
        var options = new CocoonOptions
        {
            Mode = NodeMode.Devnet,
            Roles = "proxy",
            Storage = { Provider = StorageProvider.Memory },
            Attestation = { Provider = AttestationProviderKind.None, SiloTls = true },
        };

        var e = Assert.Throws<CocoonConfigurationException>(() => NodeSettings.From(options));

        Assert.Equal("Cocoon:Attestation:SiloTls", e.Setting);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
    [InlineData("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff,zz")]
    public void A_malformed_allowed_image_hash_names_its_setting(string value)
    {
        var options = new CocoonOptions
        {
            Mode = NodeMode.Devnet,
            Roles = "proxy",
            Storage = { Provider = StorageProvider.Memory },
            Attestation = { AllowedImageHashes = value },
        };

        var e = Assert.Throws<CocoonConfigurationException>(() => NodeSettings.From(options));

        Assert.Equal("Cocoon:Attestation:AllowedImageHashes", e.Setting);
    }

    [Fact]
    public void Allowed_image_hashes_are_parsed_and_production_silo_tls_needs_the_root_contract()
    {
        const string hash = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        var production = new CocoonOptions { Mode = NodeMode.Production, Roles = "proxy", Storage = { ConnectionString = "Host=db" } };
        production.Attestation.AllowedImageHashes = " " + hash + " ,";

        // The configured hashes are only the bootstrap fallback: without the root contract, Production refuses.
        var settings = NodeSettings.From(production);
        var noEndpoint = Assert.Throws<CocoonConfigurationException>(settings.RequireAllowedImageHashes);
        production.Chain.Endpoint = "http://127.0.0.1:1/api/v2/";
        var noRoot = Assert.Throws<CocoonConfigurationException>(NodeSettings.From(production).RequireAllowedImageHashes);
        production.Chain.RootAddress = "0:" + new string('1', 64);
        NodeSettings.From(production).RequireAllowedImageHashes();

        Assert.Equal("Cocoon:Chain:Endpoint", noEndpoint.Setting);
        Assert.Equal("Cocoon:Chain:RootAddress", noRoot.Setting);
        Assert.Contains("fallback", noRoot.Message, StringComparison.Ordinal);
        Assert.Equal([hash], settings.AllowedImageHashes);
    }

    [Fact]
    public void Td_attribute_masks_default_to_the_production_checks_and_bad_masks_are_refused()
    {
        var options = new CocoonOptions { Mode = NodeMode.Devnet, Roles = "proxy", Storage = { Provider = StorageProvider.Memory } };
        var defaults = NodeSettings.From(options).PeerPolicy;
        options.Attestation.ForbiddenTdAttributes = "0x40000000";
        options.Attestation.CollateralPath = "/nonexistent";
        var custom = NodeSettings.From(options).PeerPolicy;
        options.Attestation.MaxConnectionAgeMinutes = 10;
        var age = NodeSettings.From(options).MaxConnectionAge;
        options.Attestation.MaxConnectionAgeMinutes = 0;
        var badAge = Assert.Throws<CocoonConfigurationException>(() => NodeSettings.From(options));
        options.Attestation.MaxConnectionAgeMinutes = null;
        options.Attestation.RequiredTdAttributes = "not-hex";
        var e = Assert.Throws<CocoonConfigurationException>(() => NodeSettings.From(options));

        Assert.Equal(Cocoon.Attestation.Policy.TdAttributeBits.SeptVeDisable, defaults.RequiredTdAttributes);
        Assert.Equal(Cocoon.Attestation.Policy.TdAttributeBits.Pks | Cocoon.Attestation.Policy.TdAttributeBits.KeyLocker | Cocoon.Attestation.Policy.TdAttributeBits.Perfmon, defaults.ForbiddenTdAttributes);
        Assert.Null(defaults.MinimumTcbStatus);
        Assert.Equal(Cocoon.Attestation.Policy.TdAttributeBits.Pks, custom.ForbiddenTdAttributes);
        Assert.Equal(Cocoon.Attestation.Collateral.TcbStatus.SWHardeningNeeded, custom.MinimumTcbStatus);
        Assert.Equal("Cocoon:Attestation:RequiredTdAttributes", e.Setting);
        Assert.Equal(TimeSpan.FromMinutes(10), age);
        Assert.Equal("Cocoon:Attestation:MaxConnectionAgeMinutes", badAge.Setting);
    }

    [Theory]
    [InlineData("Cocoon:Attestation:SimulatedImage")]
    [InlineData("Cocoon:Attestation:SimulatedAuthorityFile")]
    public async Task Production_refuses_devnet_attestation_settings(string setting)
    {
        var config = Valid("Host=127.0.0.1;Database=x");
        config["Cocoon:Attestation:Provider"] = "None";
        config[setting] = "x";

        var e = await StartFailsAsync(config);

        Assert.Equal(setting, e.Setting);
    }

    [Fact]
    public async Task A_devnet_worker_gets_an_ra_tls_certificate_for_silo_tls()
    {
        var config = Valid(null);
        config["Cocoon:Mode"] = "Devnet";
        config["Cocoon:Roles"] = "worker";
        config["Cocoon:Storage:Provider"] = "Memory";
        config["Cocoon:Attestation:SimulatedAuthorityFile"] = Path.Combine(Path.GetTempPath(), $"cocoon-cfg-authority-{Guid.NewGuid():N}.pem");
        try
        {
            using var host = await CocoonNode.BuildAsync([], new CocoonNodeOptions { Overrides = config }, TestContext.Current.CancellationToken);
            var attestation = host.Services.GetRequiredService<NodeAttestation>();

            Assert.NotNull(attestation.Rotator.Current);
            Assert.Equal(64, attestation.ImageHash.Length);
            Assert.True(File.Exists(config["Cocoon:Attestation:SimulatedAuthorityFile"]));
        }
        finally
        {
            File.Delete(config["Cocoon:Attestation:SimulatedAuthorityFile"]!);
        }
    }
}
