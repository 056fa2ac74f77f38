using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using Cocoon.Attestation.RaTls;
using Microsoft.AspNetCore.Connections;
using Orleans.Connections.Security;

namespace Cocoon.Node.Hosting;

/// <summary>
/// Bounds how long an RA-TLS connection (silo to silo, and client to silo) lives on the attestation that opened it.
/// TLS checks certificates only at the handshake, and Orleans keeps connections open indefinitely, so without this a
/// peer admitted once would stay admitted after its certificate expired or its image left the allow-list. Each
/// connection is aborted (Orleans reconnects on the next message, with a new handshake, the current certificate and
/// the current allow-list):
/// <list type="bullet">
/// <item>when this silo's certificate rotates (<see cref="RaTlsCertificateRotator.Rotated"/>): connections opened
/// under an older certificate are closed at once, so after a rotation every connection uses the new certificate;</item>
/// <item>at the earlier NotAfter of the two certificates of the handshake, at the latest (a peer that never rotates
/// cannot outlive its attestation);</item>
/// <item>after <see cref="MaxAge"/>, if set shorter.</item>
/// </list>
/// Messages not yet written to an aborted connection are re-sent by Orleans on the new one; a request whose response
/// was in flight on it fails like any connection loss (callers' timeouts apply). Rotation happens once per certificate
/// lifetime minus the renewal margin (45 minutes by default), so this is rare.
/// </summary>
public sealed class RaTlsConnectionLifetime : IDisposable
{
    private readonly RaTlsCertificateRotator _rotator;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<ConnectionContext, X509Certificate2?> _open = new();
    private long _closed;

    /// <param name="rotator">This silo's certificates.</param>
    /// <param name="maxAge">A connection's maximum age; null: bounded by the certificates' validity only.</param>
    /// <param name="time">The clock.</param>
    public RaTlsConnectionLifetime(RaTlsCertificateRotator rotator, TimeSpan? maxAge = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(rotator);
        _rotator = rotator;
        _time = time ?? TimeProvider.System;
        MaxAge = maxAge;
        _rotator.Rotated += OnRotated;
    }

    /// <summary>The maximum connection age, or null.</summary>
    public TimeSpan? MaxAge { get; }

    /// <summary>Connections open now.</summary>
    public int Open => _open.Count;

    /// <summary>Connections this class aborted (rotation, expiry or age).</summary>
    public long Closed => Interlocked.Read(ref _closed);

    /// <summary>The connection middleware; add it after the TLS middleware.</summary>
    public ConnectionDelegate Middleware(ConnectionDelegate next) => async context =>
    {
        var local = _rotator.Current;
        var remote = context.Features.Get<ITlsConnectionFeature>()?.RemoteCertificate;
        var now = _time.GetUtcNow();
        var deadline = DateTimeOffset.MaxValue;
        foreach (var certificate in new[] { local, remote })
        {
            if (certificate is not null)
            {
                var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
                deadline = notAfter < deadline ? notAfter : deadline;
            }
        }

        if (MaxAge is { } maxAge && now + maxAge < deadline)
        {
            deadline = now + maxAge;
        }

        var delay = deadline == DateTimeOffset.MaxValue ? Timeout.InfiniteTimeSpan : (deadline - now) > TimeSpan.Zero ? deadline - now : TimeSpan.Zero;
        _open[context] = local;
        using var timer = _time.CreateTimer(_ => Abort(context, "the certificates that authenticated it expired, or it reached its maximum age"), null, delay, Timeout.InfiniteTimeSpan);
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            _open.TryRemove(context, out _);
        }
    };

    private void OnRotated(X509Certificate2 current)
    {
        foreach (var (context, local) in _open)
        {
            if (!ReferenceEquals(local, current))
            {
                Abort(context, "this silo's RA-TLS certificate rotated");
            }
        }
    }

    private void Abort(ConnectionContext context, string reason)
    {
        if (_open.TryRemove(context, out _))
        {
            Interlocked.Increment(ref _closed);
            context.Abort(new ConnectionAbortedException("RA-TLS connection closed to re-handshake: " + reason));
        }
    }

    /// <inheritdoc />
    public void Dispose() => _rotator.Rotated -= OnRotated;
}
