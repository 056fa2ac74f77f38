using System.Security.Cryptography.X509Certificates;

namespace Cocoon.Attestation.RaTls;

/// <summary>
/// Keeps a current RA-TLS certificate and renews it <see cref="RenewBefore"/> ahead of expiry, so a TLS server
/// always presents a valid one. The previous certificate stays alive for one more rotation (connections may still
/// use it) and is disposed after that. Thread-safe.
/// </summary>
public sealed class RaTlsCertificateRotator : IDisposable
{
    private readonly RaTlsCertificateFactory _factory;
    private readonly RaTlsClaims _claims;
    private readonly string _subject;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private X509Certificate2? _current;
    private X509Certificate2? _previous;

    public RaTlsCertificateRotator(RaTlsCertificateFactory factory, RaTlsClaims claims, TimeSpan renewBefore, TimeProvider? timeProvider = null, string subject = "CN=cocoon-ra-tls")
    {
        if (renewBefore <= TimeSpan.Zero || renewBefore >= factory.Lifetime)
        {
            throw new ArgumentOutOfRangeException(nameof(renewBefore), renewBefore, "must be positive and shorter than the certificate lifetime");
        }

        _factory = factory;
        _claims = claims;
        RenewBefore = renewBefore;
        _time = timeProvider ?? TimeProvider.System;
        _subject = subject;
    }

    /// <summary>How long before NotAfter a certificate is replaced.</summary>
    public TimeSpan RenewBefore { get; }

    /// <summary>How many certificates this rotator has created.</summary>
    public int Generation { get; private set; }

    /// <summary>The current certificate without renewing (null before the first call to <see cref="GetCertificateAsync"/>).</summary>
    public X509Certificate2? Current => Volatile.Read(ref _current);

    /// <summary>
    /// Raised after a new certificate became <see cref="Current"/> (not for the first one), outside the rotator's lock,
    /// e.g. to close connections authenticated with the old certificate. Handlers must not block.
    /// </summary>
    public event Action<X509Certificate2>? Rotated;

    /// <summary>The current certificate, renewed first if it is missing or within <see cref="RenewBefore"/> of expiry.</summary>
    public Task<X509Certificate2> GetCertificateAsync(CancellationToken cancellationToken = default)
    {
        var current = Current;
        return current is not null && !NeedsRenewal(current) ? Task.FromResult(current) : RenewAsync(force: false, cancellationToken);
    }

    /// <summary>Replaces the current certificate now, whatever its expiry (e.g. after a key compromise is suspected).</summary>
    public Task<X509Certificate2> RotateAsync(CancellationToken cancellationToken = default) => RenewAsync(force: true, cancellationToken);

    private async Task<X509Certificate2> RenewAsync(bool force, CancellationToken cancellationToken)
    {
        X509Certificate2 fresh;
        X509Certificate2? current;
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            current = _current;
            if (!force && current is not null && !NeedsRenewal(current))
            {
                return current;
            }

            fresh = await _factory.CreateAsync(_claims, _subject, cancellationToken).ConfigureAwait(false);
            _previous?.Dispose();
            _previous = current;
            Volatile.Write(ref _current, fresh);
            Generation++;
        }
        finally
        {
            _lock.Release();
        }

        if (current is not null)
        {
            Rotated?.Invoke(fresh);
        }

        return fresh;
    }

    private bool NeedsRenewal(X509Certificate2 certificate) =>
        _time.GetUtcNow() >= new DateTimeOffset(certificate.NotAfter.ToUniversalTime()) - RenewBefore;

    public void Dispose()
    {
        _current?.Dispose();
        _previous?.Dispose();
        _lock.Dispose();
    }
}
