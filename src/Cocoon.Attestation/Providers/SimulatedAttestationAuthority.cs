using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cocoon.Attestation.Providers;

/// <summary>
/// The devnet stand-in for Intel: a local dev root key and certificate, and a "PCK" leaf under it that signs
/// simulated QE reports. A devnet verifier trusts <see cref="RootCertificate"/> as
/// <c>QuoteVerifierOptions.SimulatedRoot</c>; a production verifier refuses every simulated quote regardless.
/// </summary>
public sealed class SimulatedAttestationAuthority : IDisposable
{
    /// <summary>Subject of the dev root; says plainly what it is.</summary>
    public const string RootSubject = "CN=Cocoon Simulated TDX Root - devnet only - not secure, O=Cocoon devnet";

    private readonly ECDsa _rootKey;
    private readonly ECDsa _pckKey;

    private SimulatedAttestationAuthority(ECDsa rootKey, X509Certificate2 root)
    {
        _rootKey = rootKey;
        RootCertificate = root;
        _pckKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Cocoon Simulated PCK Certificate, O=Cocoon devnet", _pckKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        PckCertificate = request.Create(root, root.NotBefore, root.NotAfter, serial);
    }

    /// <summary>The dev root certificate (public): give it to devnet verifiers.</summary>
    public X509Certificate2 RootCertificate { get; }

    /// <summary>The simulated PCK leaf certificate (public), issued by the dev root.</summary>
    public X509Certificate2 PckCertificate { get; }

    internal ECDsa PckKey => _pckKey;

    /// <summary>PEM of leaf then root, as certification data type 5 carries it.</summary>
    internal string ChainPem => PckCertificate.ExportCertificatePem() + "\n" + RootCertificate.ExportCertificatePem() + "\n";

    /// <summary>A new authority with a fresh dev root key, valid for ten years from <paramref name="now"/>.</summary>
    public static SimulatedAttestationAuthority Create(DateTimeOffset now)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(RootSubject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var root = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
        return new SimulatedAttestationAuthority(key, root);
    }

    /// <summary>Loads a dev root saved with <see cref="ExportRootPem"/>, so devnet nodes share one authority.</summary>
    public static SimulatedAttestationAuthority FromPem(string certificatePem, string privateKeyPem)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(privateKeyPem);
        using var cert = X509Certificate2.CreateFromPem(certificatePem);
        return new SimulatedAttestationAuthority(key, cert.CopyWithPrivateKey(key));
    }

    /// <summary>The dev root certificate and its private key, in PEM.</summary>
    public (string CertificatePem, string PrivateKeyPem) ExportRootPem() =>
        (RootCertificate.ExportCertificatePem(), _rootKey.ExportPkcs8PrivateKeyPem());

    public void Dispose()
    {
        PckCertificate.Dispose();
        RootCertificate.Dispose();
        _pckKey.Dispose();
        _rootKey.Dispose();
    }
}
