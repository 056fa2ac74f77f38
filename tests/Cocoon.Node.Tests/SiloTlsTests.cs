using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Cocoon.Abstractions.Cluster;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.Providers;
using Cocoon.Attestation.RaTls;
using Cocoon.Attestation.Verification;
using Cocoon.Client;
using Cocoon.Node.Configuration;
using Cocoon.Node.Hosting;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;

namespace Cocoon.Node.Tests;

/// <summary>
/// Mutual RA-TLS between silos (<c>Cocoon:Attestation:SiloTls</c>): devnet-mode silos on PostgreSQL with simulated
/// quotes from one shared devnet authority, each with its own simulated image.
/// </summary>
public sealed class SiloTlsTests(PostgresFixture postgres) : IDisposable
{
    private const string Allowed = "cocoon-tls-allowed";
    private const string Stranger = "cocoon-tls-stranger";
    private readonly string _authorityFile = Path.Combine(Path.GetTempPath(), $"cocoon-tls-authority-{Guid.NewGuid():N}.pem");

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Two_attested_silos_join_over_tls_and_a_call_crosses_between_them()
    {
        var db = await postgres.CreateDatabaseAsync("silotls");
        var cluster = "tls-" + Guid.NewGuid().ToString("N")[..8];
        await using var a = await StartAsync(cluster, "proxy", db, "tls-a", Allowed);
        await using var b = await StartAsync(cluster, "worker", db, "tls-b", Allowed);

        var onB = await FindActivationOnAsync(a, "tls-b");
        var answer = await a.Grains.GetGrain<INodeInfoGrain>("from-a-" + Guid.NewGuid()).CallAsync(onB);

        Assert.Equal("tls-b", answer.SiloName);
        Assert.Equal(2, await ActiveSilosAsync(db, cluster));
    }

    [Fact]
    public async Task After_a_certificate_rotation_open_connections_close_and_new_ones_use_the_new_certificate()
    {
        var db = await postgres.CreateDatabaseAsync("silotlsrotate");
        var cluster = "tlsrot-" + Guid.NewGuid().ToString("N")[..8];
        await using var a = await StartAsync(cluster, "proxy", db, "tls-a", Allowed);
        await using var b = await StartAsync(cluster, "worker", db, "tls-b", Allowed);
        var onA = await FindActivationOnAsync(b, "tls-a");
        var onB = await FindActivationOnAsync(a, "tls-b");
        var rotator = a.Host.Services.GetRequiredService<NodeAttestation>().Rotator;
        var lifetime = a.Host.Services.GetRequiredService<RaTlsConnectionLifetime>();
        var seenByB = b.Host.Services.GetRequiredService<SiloTlsValidator>();
        var old = rotator.Current!.Thumbprint;
        Assert.Equal(old, seenByB.LastAdmitted["tls-a"]);
        Assert.True(lifetime.Open > 0);

        var fresh = await rotator.RotateAsync(Token);

        Assert.NotEqual(old, fresh.Thumbprint);
        Assert.True(lifetime.Closed > 0, "no connection was closed on rotation");

        // Calls in both directions reconnect; the handshakes present the new certificate.
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(Token);
        patience.CancelAfter(TimeSpan.FromSeconds(60));
        while (seenByB.LastAdmitted["tls-a"] != fresh.Thumbprint)
        {
            patience.Token.ThrowIfCancellationRequested();
            try
            {
                await b.Grains.GetGrain<INodeInfoGrain>("from-b-" + Guid.NewGuid()).CallAsync(onA);
                await a.Grains.GetGrain<INodeInfoGrain>("from-a-" + Guid.NewGuid()).CallAsync(onB);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A call that was in flight on a closed connection may fail once; the next one reconnects.
                await Task.Delay(200, patience.Token);
            }
        }

        Assert.Equal(fresh.Thumbprint, seenByB.LastAdmitted["tls-a"]);
        Assert.Equal("tls-a", (await b.Grains.GetGrain<INodeInfoGrain>("after-" + Guid.NewGuid()).CallAsync(onA)).SiloName);
        Assert.Equal(2, await ActiveSilosAsync(db, cluster));
    }

    [Fact]
    public async Task A_silo_whose_image_is_not_allowed_cannot_join()
    {
        var db = await postgres.CreateDatabaseAsync("silotlsrefused");
        var cluster = "tlsno-" + Guid.NewGuid().ToString("N")[..8];
        await using var a = await StartAsync(cluster, "proxy", db, "tls-a", Allowed);

        // The stranger itself would admit both images: it is the cluster that refuses it.
        var start = StartAsync(cluster, "worker", db, "tls-stranger", Stranger, allowed: [HashOf(Allowed), HashOf(Stranger)],
            configureSilo: silo =>
            {
                silo.Configure<ClusterMembershipOptions>(o => o.MaxJoinAttemptTime = TimeSpan.FromSeconds(15));

                // Declared dead by the cluster, a silo ends its process (Environment.FailFast): here that process is the tests'.
                silo.Services.AddSingleton<IFatalErrorHandler, RecordingFatalErrorHandler>();
            });
        var failed = await Assert.ThrowsAnyAsync<Exception>(() => start.WaitAsync(TimeSpan.FromSeconds(90), Token));
        Assert.IsNotType<TimeoutException>(failed);

        var hosts = await a.Grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: true, Token);
        Assert.DoesNotContain(hosts, h => h.SiloName == "tls-stranger");
        Assert.Equal(1, await ActiveSilosAsync(db, cluster));
    }

    [Fact]
    public async Task A_client_over_tls_connects_to_attested_silos_and_refuses_silos_it_does_not_allow()
    {
        var db = await postgres.CreateDatabaseAsync("silotlsclient");
        var cluster = "tlsc-" + Guid.NewGuid().ToString("N")[..8];
        await using var a = await StartAsync(cluster, "proxy", db, "tls-a", Allowed);
        await using var b = await StartAsync(cluster, "worker", db, "tls-b", Allowed);
        using var root = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(_authorityFile, Token));

        using (var patience = CancellationTokenSource.CreateLinkedTokenSource(Token))
        {
            patience.CancelAfter(TimeSpan.FromSeconds(60));
            await using var client = await CocoonClusterClient.ConnectAsync(ClientOptions(cluster, db, root, HashOf(Allowed)), patience.Token);
            var info = await client.Grains.GetGrain<INodeInfoGrain>("client-" + Guid.NewGuid()).GetInfoAsync();
            Assert.Contains(info.SiloName, new[] { "tls-a", "tls-b" });
        }

        using (var patience = CancellationTokenSource.CreateLinkedTokenSource(Token))
        {
            patience.CancelAfter(TimeSpan.FromSeconds(20));
            await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                await using var refused = await CocoonClusterClient.ConnectAsync(ClientOptions(cluster, db, root, HashOf(Stranger)), patience.Token);
            });
        }

        Assert.Throws<ArgumentException>(() => new CocoonClientTls { Mode = AttestationMode.Devnet, SimulatedRoot = root }.CreateValidator());
    }

    [Fact]
    public async Task In_production_a_simulated_quote_is_refused_even_when_its_image_hash_is_allowed()
    {
        using var authority = SimulatedAttestationAuthority.Create(DateTimeOffset.UtcNow);
        using var provider = new SimulatedQuoteProvider(authority, SimulatedTdMeasurements.ForImage(Allowed));
        using var certificate = await new RaTlsCertificateFactory(provider).CreateAsync(new RaTlsClaims(new Dictionary<string, string> { ["silo"] = "peer" }), cancellationToken: Token);
        string[] allowed = [HashOf(Allowed)];

        var production = new SiloTlsValidator(NodeMode.Production, allowed, authority.RootCertificate).Validate(certificate);
        var devnet = new SiloTlsValidator(NodeMode.Devnet, allowed, authority.RootCertificate).Validate(certificate);
        var otherImage = new SiloTlsValidator(NodeMode.Devnet, [HashOf(Stranger)], authority.RootCertificate).Validate(certificate);

        Assert.False(production.IsValid);
        Assert.NotEqual(VerificationStep.Policy, production.FailedStep);
        Assert.True(devnet.IsValid, devnet.Message);
        Assert.Equal(VerificationStep.Policy, otherImage.FailedStep);
        Assert.False(new SiloTlsValidator(NodeMode.Production, allowed, authority.RootCertificate)
            .RemoteCertificateValidation(certificate, null, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors));
    }

    [Fact]
    public async Task With_collateral_configured_a_peer_without_a_tcb_status_is_refused_and_a_bad_collateral_path_stops_the_node()
    {
        using var authority = SimulatedAttestationAuthority.Create(DateTimeOffset.UtcNow);
        using var provider = new SimulatedQuoteProvider(authority, SimulatedTdMeasurements.ForImage(Allowed));
        using var certificate = await new RaTlsCertificateFactory(provider).CreateAsync(new RaTlsClaims(new Dictionary<string, string> { ["silo"] = "peer" }), cancellationToken: Token);
        var settings = NodeSettings.From(new CocoonOptions
        {
            Mode = NodeMode.Devnet,
            Roles = "proxy",
            Storage = { Provider = StorageProvider.Memory },
            Attestation = { CollateralPath = "/var/cache/pccs", MinimumTcbStatus = Cocoon.Attestation.Collateral.TcbStatus.UpToDate },
        });
        var list = new ImageAllowList([HashOf(Allowed)], "test", DateTimeOffset.UtcNow);

        var refused = new SiloTlsValidator(NodeMode.Devnet, list, authority.RootCertificate, settings.PeerPolicy).Validate(certificate);
        var admitted = new SiloTlsValidator(NodeMode.Devnet, list, authority.RootCertificate).Validate(certificate);

        Assert.Equal(VerificationStep.Policy, refused.FailedStep);
        Assert.Contains("requires a TCB status", refused.Message, StringComparison.Ordinal);
        Assert.True(admitted.IsValid, admitted.Message);

        var e = await Assert.ThrowsAsync<CocoonConfigurationException>(() => CocoonTestNode.StartAsync("tlscol-" + Guid.NewGuid().ToString("N")[..8], "proxy", null, "tls-col",
            extra: new Dictionary<string, string?> { ["Cocoon:Attestation:CollateralPath"] = Path.Combine(Path.GetTempPath(), "cocoon-no-such-collateral-" + Guid.NewGuid().ToString("N")) }));
        Assert.Equal("Cocoon:Attestation:CollateralPath", e.Setting);
    }

    [Fact]
    public void An_empty_allow_list_is_refused_by_the_validator()
    {
        Assert.Throws<ArgumentException>(() => new SiloTlsValidator(NodeMode.Devnet, [], null));
    }

    public void Dispose() => File.Delete(_authorityFile);

    private Task<CocoonTestNode> StartAsync(string cluster, string roles, string db, string name, string image,
        string[]? allowed = null, Action<ISiloBuilder>? configureSilo = null) =>
        CocoonTestNode.StartAsync(cluster, roles, db, name, extra: new Dictionary<string, string?>
        {
            ["Cocoon:Mode"] = "Devnet",
            ["Cocoon:Attestation:Provider"] = "Simulated",
            ["Cocoon:Attestation:SimulatedImage"] = image,
            ["Cocoon:Attestation:SimulatedAuthorityFile"] = _authorityFile,
            ["Cocoon:Attestation:AllowedImageHashes"] = string.Join(',', allowed ?? [HashOf(Allowed)]),
        }, configureSilo: configureSilo);

    private static CocoonClientOptions ClientOptions(string cluster, string db, X509Certificate2 root, string allowed) => new()
    {
        ClusterId = cluster,
        ServiceId = cluster,
        MembershipConnectionString = db,
        Tls = new CocoonClientTls { Mode = AttestationMode.Devnet, AllowedImageHashes = [allowed], SimulatedRoot = root },
    };

    internal static string HashOf(string image)
    {
        var m = SimulatedTdMeasurements.ForImage(image);
        return Convert.ToHexStringLower(ImageHash.Compute(m.MrTd, m.MrConfigId, m.MrOwner, m.MrOwnerConfig, m.Rtmr0, m.Rtmr1, m.Rtmr2, m.Rtmr3));
    }

    // Random placement spreads keys; find one that activates on the named silo.
    private static async Task<string> FindActivationOnAsync(CocoonTestNode node, string silo)
    {
        for (var i = 0; i < 200; i++)
        {
            var key = "probe-" + i.ToString(CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..6];
            if ((await node.Grains.GetGrain<INodeInfoGrain>(key).GetInfoAsync()).SiloName == silo)
            {
                return key;
            }
        }

        throw new InvalidOperationException($"no activation landed on {silo}");
    }

    private sealed class RecordingFatalErrorHandler : IFatalErrorHandler
    {
        public bool IsUnexpected(Exception exception) => true;

        public void OnFatalException(object? sender = null, string? context = null, Exception? exception = null)
        {
            // Recorded by the failed start; the silo stops through its host instead of ending the test process.
        }
    }

    private static async Task<int> ActiveSilosAsync(string db, string cluster) =>
        await PostgresFixture.ScalarAsync<int>(db, $"SELECT count(*) FROM orleans_membership WHERE deployment_id = '{cluster}' AND status = 3");
}
