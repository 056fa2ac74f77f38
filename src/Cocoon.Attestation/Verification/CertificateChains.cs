using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cocoon.Attestation.Verification;

/// <summary>X.509 chain building to one pinned anchor (X509Chain with CustomRootTrust, no downloads, no OS roots).</summary>
internal static class CertificateChains
{
    /// <summary>
    /// Builds <paramref name="leaf"/> to <paramref name="anchor"/> using <paramref name="pool"/> as intermediates at
    /// <paramref name="now"/>. Returns null on success, else why. Revocation is checked by the caller with the
    /// collateral's CRLs, because the platform's CRL fetching would reach the network.
    /// </summary>
    public static string? Validate(
        X509Certificate2 leaf,
        X509Certificate2Collection pool,
        X509Certificate2 anchor,
        DateTimeOffset now,
        out IReadOnlyList<X509Certificate2> chain,
        out DateTimeOffset validUntil)
    {
        chain = [];
        validUntil = now;

        // RFC 5280 4.2.1.9: an end-entity certificate must not be a CA (dcap-qvl: CaUsedAsEndEntity).
        if (leaf.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority))
        {
            return $"certificate '{leaf.Subject}' is a CA certificate used as an end entity";
        }

        using var builder = new X509Chain();
        var policy = builder.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.Add(anchor);
        foreach (var cert in pool)
        {
            if (!ReferenceEquals(cert, leaf))
            {
                policy.ExtraStore.Add(cert);
            }
        }

        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.DisableCertificateDownloads = true;
        policy.VerificationTime = now.UtcDateTime;
        policy.VerificationTimeIgnored = false;
        bool built;
        try
        {
            built = builder.Build(leaf);
        }
        catch (CryptographicException e)
        {
            return $"certificate chain of '{leaf.Subject}' cannot be built: {e.Message}";
        }

        if (!built)
        {
            var reasons = string.Join("; ", builder.ChainStatus.Select(s => s.Status + " " + s.StatusInformation.Trim()));
            return $"certificate chain of '{leaf.Subject}' does not verify to the pinned root at {now:O}: {reasons}";
        }

        var elements = builder.ChainElements;
        var top = elements[^1].Certificate;
        if (!top.RawData.AsSpan().SequenceEqual(anchor.RawData))
        {
            return "certificate chain ends at '" + top.Subject + "', not the pinned root";
        }

        var list = new List<X509Certificate2>(elements.Count);
        var until = DateTimeOffset.MaxValue;
        foreach (var element in elements)
        {
            // Copies, because the chain's own certificates die with it.
            var copy = pool.FirstOrDefault(c => c.RawData.AsSpan().SequenceEqual(element.Certificate.RawData)) ?? anchor;
            list.Add(copy);
            var notAfter = new DateTimeOffset(element.Certificate.NotAfter.ToUniversalTime());
            if (notAfter < until)
            {
                until = notAfter;
            }
        }

        chain = list;
        validUntil = until;
        return null;
    }
}
