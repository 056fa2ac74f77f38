using Cocoon.Attestation.Verification;
using Cocoon.Node.Chain;
using Cocoon.Node.Hosting;
using Cocoon.Node.Storage;
using Cocoon.Testing;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Contracts;
using Cocoon.Ton.Toncenter;
using Cocoon.Ton.Wallets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;

namespace Cocoon.Node.Tests;

/// <summary>
/// Silo TLS admits the images the root contract allows: a real local TON chain (infra/ton-localnet with the real root
/// contract), the root owner's real add/remove messages, and devnet silos on PostgreSQL that read the root's account
/// data for their allow-list (no Cocoon:Attestation:AllowedImageHashes at all).
/// </summary>
public sealed class SiloTlsRootAllowListTests(PostgresFixture postgres) : IAsyncLifetime
{
    private const string ProxyImage = "cocoon-chain-proxy";
    private const string WorkerImage = "cocoon-chain-worker";
    private const string Stranger = "cocoon-chain-stranger";
    private readonly string _chainDirectory = Directory.CreateTempSubdirectory("cocoon-tls-chain-").FullName;
    private readonly string _authorityFile = Path.Combine(Path.GetTempPath(), $"cocoon-tls-chain-authority-{Guid.NewGuid():N}.pem");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private TonLocalnet _chain = null!;
    private ToncenterClient _ton = null!;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _chain = await TonLocalnet.StartAsync(new TonLocalnetOptions { DataDirectory = _chainDirectory, Port = PostgresServer.FreeLoopbackPort() },
            line => Console.Error.WriteLine(line), Token);
        _ton = new ToncenterClient(_http, new ToncenterOptions { Endpoint = _chain.Endpoint, MaxRetries = 0, Timeout = TimeSpan.FromSeconds(30) });
    }

    [Fact]
    public async Task Images_on_the_root_contract_join_others_do_not_and_a_removed_image_is_refused_on_new_connections()
    {
        var proxyHash = SiloTlsTests.HashOf(ProxyImage);
        var workerHash = SiloTlsTests.HashOf(WorkerImage);
        await OwnerSendsAsync(RootContract.AddProxyTypeBody(1, Convert.FromHexString(proxyHash)));
        await OwnerSendsAsync(RootContract.AddWorkerTypeBody(2, Convert.FromHexString(workerHash)));
        var (proxies, workers) = await RootImageAllowList.ReadAsync(_ton, _chain.RootAddress, Token);
        Assert.Equal([proxyHash], proxies);
        Assert.Equal([workerHash], workers);

        var db = await postgres.CreateDatabaseAsync("silotlsroot");
        var cluster = "tlsroot-" + Guid.NewGuid().ToString("N")[..8];
        await using var proxy = await StartAsync(cluster, "proxy", db, "root-proxy", ProxyImage);
        await using var worker = await StartAsync(cluster, "worker", db, "root-worker", WorkerImage);
        Assert.Equal(2, await ActiveSilosAsync(db, cluster));

        var list = proxy.Host.Services.GetRequiredService<RootImageAllowList>();
        Assert.True(list.FollowsRoot);
        Assert.StartsWith("root contract ", list.List.Current.Source, StringComparison.Ordinal);
        Assert.Equal(new[] { proxyHash, workerHash }.Order(), list.List.Current.Hashes.Order());

        // An image the root does not list cannot join, though it would admit the others itself.
        var start = StartAsync(cluster, "worker", db, "root-stranger", Stranger, allowed: [proxyHash, workerHash, SiloTlsTests.HashOf(Stranger)],
            follow: false, configureSilo: silo =>
            {
                silo.Configure<ClusterMembershipOptions>(o => o.MaxJoinAttemptTime = TimeSpan.FromSeconds(10));
                silo.Services.AddSingleton<IFatalErrorHandler, IgnoringFatalErrorHandler>();
            });
        var failed = await Assert.ThrowsAnyAsync<Exception>(() => start.WaitAsync(TimeSpan.FromSeconds(90), Token));
        Assert.IsNotType<TimeoutException>(failed);
        Assert.Equal(2, await ActiveSilosAsync(db, cluster));

        // The owner removes the worker image: once the proxy re-reads the root, the worker's certificate is refused
        // at the next handshake (the validator reads the list at every handshake).
        var validator = proxy.Host.Services.GetRequiredService<SiloTlsValidator>();
        var workerCertificate = await worker.Host.Services.GetRequiredService<NodeAttestation>().Rotator.GetCertificateAsync(Token);
        Assert.True(validator.Validate(workerCertificate).IsValid);

        // The lists are per role: the worker image is not allowed to serve as a proxy.
        var pem = await File.ReadAllTextAsync(_authorityFile, Token);
        using (var authority = Cocoon.Attestation.Providers.SimulatedAttestationAuthority.FromPem(pem, pem))
        using (var provider = new Cocoon.Attestation.Providers.SimulatedQuoteProvider(authority, Cocoon.Attestation.Providers.SimulatedTdMeasurements.ForImage(WorkerImage)))
        using (var asProxy = await new Cocoon.Attestation.RaTls.RaTlsCertificateFactory(provider).CreateAsync(
            new Cocoon.Attestation.RaTls.RaTlsClaims(new Dictionary<string, string> { ["silo"] = "posing", ["role"] = "proxy" }), cancellationToken: Token))
        {
            var posing = validator.Validate(asProxy);
            Assert.Equal(VerificationStep.Policy, posing.FailedStep);
            Assert.Contains("is not allowed for role proxy", posing.Message, StringComparison.Ordinal);
        }
        await OwnerSendsAsync(RootContract.DelWorkerTypeBody(3, Convert.FromHexString(workerHash)));
        Assert.True(await list.RefreshAsync(Token));

        var refused = validator.Validate(workerCertificate);
        Assert.Equal(VerificationStep.Policy, refused.FailedStep);
        Assert.Contains(workerHash, refused.Message, StringComparison.Ordinal);
        Assert.Equal([proxyHash], list.List.Current.Hashes); // in Devnet the proxy's own image, which the root lists too
        Assert.Equal([proxyHash], list.List.Current.ByRole["worker"]); // its own image, admitted in Devnet whatever the role
    }

    [Fact]
    public async Task Without_the_root_the_configured_hashes_are_the_fallback_and_an_empty_list_admits_nobody()
    {
        var settings = CocoonNode.ReadSettings(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cocoon:Mode"] = "Production",
            ["Cocoon:Roles"] = "worker",
            ["Cocoon:Storage:ConnectionString"] = "Host=db",
            ["Cocoon:Attestation:Provider"] = "None",
            ["Cocoon:Attestation:SiloTls"] = "false",
            ["Cocoon:Chain:Endpoint"] = "http://127.0.0.1:1/api/v2/",
            ["Cocoon:Chain:RootAddress"] = _chain.RootAddress.ToFriendlyString(),
        }).Build());

        // The chain endpoint does not answer: the (empty) configured list stays, and it admits nobody.
        var lines = new List<string>();
        var list = await RootImageAllowList.CreateAsync(settings, SiloTlsTests.HashOf(ProxyImage), lines.Add, cancellationToken: Token);
        Assert.Empty(list.List.Current.Hashes);
        Assert.Contains(lines, l => l.Contains("could not be read", StringComparison.Ordinal));
        using var authority = Cocoon.Attestation.Providers.SimulatedAttestationAuthority.Create(DateTimeOffset.UtcNow);
        using var provider = new Cocoon.Attestation.Providers.SimulatedQuoteProvider(authority, Cocoon.Attestation.Providers.SimulatedTdMeasurements.ForImage(ProxyImage));
        using var certificate = await new Cocoon.Attestation.RaTls.RaTlsCertificateFactory(provider).CreateAsync(
            new Cocoon.Attestation.RaTls.RaTlsClaims(new Dictionary<string, string> { ["silo"] = "peer" }), cancellationToken: Token);
        var result = new SiloTlsValidator(Configuration.NodeMode.Devnet, list.List, authority.RootCertificate).Validate(certificate);
        Assert.Equal(VerificationStep.Policy, result.FailedStep);
        Assert.Contains("no image hash is allowed", result.Message, StringComparison.Ordinal);
    }

    private async Task OwnerSendsAsync(Cell body)
    {
        using var owner = _chain.LoadOwnerKey();
        var wallet = new WalletV5R1(owner.PublicKey);
        var seqno = (uint)((await _ton.GetWalletInformationAsync(wallet.Address, Token)).Seqno ?? 0);
        var now = (await _ton.GetAddressInformationAsync(wallet.Address, Token)).SyncUtime;
        await _ton.SendBocAsync(wallet.CreateTransfer(owner, seqno, (uint)(now + 300), [RootContract.Message(_chain.RootAddress, body, 50_000_000)]).ToBoc(), Token);
        Assert.Equal(seqno + 1, (await _ton.GetWalletInformationAsync(wallet.Address, Token)).Seqno);
    }

    private Task<CocoonTestNode> StartAsync(string cluster, string roles, string db, string name, string image,
        string[]? allowed = null, bool follow = true, Action<ISiloBuilder>? configureSilo = null)
    {
        var extra = new Dictionary<string, string?>
        {
            ["Cocoon:Mode"] = "Devnet",
            ["Cocoon:Attestation:Provider"] = "Simulated",
            ["Cocoon:Attestation:SimulatedImage"] = image,
            ["Cocoon:Attestation:SimulatedAuthorityFile"] = _authorityFile,
            ["Cocoon:Attestation:AllowListRefreshSeconds"] = "3600",
        };
        if (follow)
        {
            extra["Cocoon:Chain:Endpoint"] = _chain.Endpoint.ToString();
            extra["Cocoon:Chain:RootAddress"] = _chain.RootAddress.ToFriendlyString();
        }

        if (allowed is not null)
        {
            extra["Cocoon:Attestation:AllowedImageHashes"] = string.Join(',', allowed);
        }

        return CocoonTestNode.StartAsync(cluster, roles, db, name, extra: extra, configureSilo: configureSilo);
    }

    private static async Task<int> ActiveSilosAsync(string db, string cluster) =>
        await PostgresFixture.ScalarAsync<int>(db, $"SELECT count(*) FROM orleans_membership WHERE deployment_id = '{cluster}' AND status = 3");

    private sealed class IgnoringFatalErrorHandler : IFatalErrorHandler
    {
        public bool IsUnexpected(Exception exception) => true;

        public void OnFatalException(object? sender = null, string? context = null, Exception? exception = null)
        {
            // Declared dead by the cluster, a silo would end the test process: it stops through its host instead.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_chain is not null)
        {
            await _chain.DisposeAsync();
        }

        _http.Dispose();
        File.Delete(_authorityFile);
        try
        {
            Directory.Delete(_chainDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
