using Cocoon.Attestation.Providers;
using Cocoon.Attestation.RaTls;
using Cocoon.Node.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Time.Testing;

namespace Cocoon.Node.Tests;

/// <summary>
/// <see cref="RaTlsConnectionLifetime"/> on a fake clock: a connection is aborted when the certificate it was opened
/// under expires, after the maximum age, and at once when the silo's certificate rotates; a connection opened after
/// the rotation stays.
/// </summary>
public sealed class RaTlsConnectionLifetimeTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
    private readonly SimulatedAttestationAuthority _authority;
    private readonly SimulatedQuoteProvider _provider;
    private readonly RaTlsCertificateRotator _rotator;

    public RaTlsConnectionLifetimeTests()
    {
        _authority = SimulatedAttestationAuthority.Create(_time.GetUtcNow());
        _provider = new SimulatedQuoteProvider(_authority, SimulatedTdMeasurements.ForImage("cocoon-lifetime"));
        _rotator = new RaTlsCertificateRotator(new RaTlsCertificateFactory(_provider, TimeSpan.FromHours(1), _time),
            new RaTlsClaims(new Dictionary<string, string> { ["silo"] = "s" }), TimeSpan.FromMinutes(15), _time);
    }

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_connection_is_aborted_when_its_certificate_expires()
    {
        var first = await _rotator.GetCertificateAsync(Token);
        using var lifetime = new RaTlsConnectionLifetime(_rotator, time: _time);
        var (connection, running) = Open(lifetime);

        _time.Advance(new DateTimeOffset(first.NotAfter.ToUniversalTime()) - _time.GetUtcNow() - TimeSpan.FromSeconds(1));
        Assert.False(running.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(2));

        await running.WaitAsync(TimeSpan.FromSeconds(30), Token);
        Assert.Equal(1, lifetime.Closed);
        Assert.Equal(0, lifetime.Open);
        GC.KeepAlive(connection);
    }

    [Fact]
    public async Task A_connection_is_aborted_after_the_maximum_age()
    {
        await _rotator.GetCertificateAsync(Token);
        using var lifetime = new RaTlsConnectionLifetime(_rotator, TimeSpan.FromMinutes(5), _time);
        var (_, running) = Open(lifetime);

        _time.Advance(TimeSpan.FromMinutes(4));
        Assert.False(running.IsCompleted);
        _time.Advance(TimeSpan.FromMinutes(2));

        await running.WaitAsync(TimeSpan.FromSeconds(30), Token);
        Assert.Equal(1, lifetime.Closed);
    }

    [Fact]
    public async Task A_rotation_aborts_connections_opened_under_the_old_certificate_only()
    {
        await _rotator.GetCertificateAsync(Token);
        using var lifetime = new RaTlsConnectionLifetime(_rotator, time: _time);
        var (_, before) = Open(lifetime);

        var fresh = await _rotator.RotateAsync(Token);
        await before.WaitAsync(TimeSpan.FromSeconds(30), Token);
        var (after, running) = Open(lifetime);
        await _rotator.GetCertificateAsync(Token); // not due: no rotation, nothing closed

        Assert.Equal(1, lifetime.Closed);
        Assert.Equal(1, lifetime.Open);
        Assert.False(running.IsCompleted);
        Assert.Same(fresh, _rotator.Current);
        after.Abort();
        await running.WaitAsync(TimeSpan.FromSeconds(30), Token);
    }

    // The rest of the pipeline (Orleans' connection loop) stands in as "run until the connection closes".
    private static (DefaultConnectionContext Connection, Task Running) Open(RaTlsConnectionLifetime lifetime)
    {
        var connection = new DefaultConnectionContext();
        var running = lifetime.Middleware(context =>
        {
            var closed = new TaskCompletionSource();
            context.ConnectionClosed.Register(() => closed.TrySetResult());
            return closed.Task;
        })(connection);
        return (connection, running);
    }

    public void Dispose()
    {
        _rotator.Dispose();
        _provider.Dispose();
        _authority.Dispose();
    }
}
