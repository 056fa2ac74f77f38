using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cocoon.Attestation.Verification;

namespace Cocoon.Attestation.Tests;

public sealed class RootCaTests
{
    [Fact]
    public void Pinned_root_is_the_intel_sgx_root_ca_of_the_test_vectors()
    {
        using var pinned = IntelSgxRootCa.Load();
        using var file = X509Certificate2.CreateFromPem(File.ReadAllText(Vectors.PathOf("intel-sgx-root-ca.pem")));
        Assert.Equal(file.RawData, pinned.RawData);
        // shared/testdata/tdx/README.md: SHA-256 fingerprint and SHA-384 of the uncompressed public key (04‖X‖Y),
        // the root key id COCOON pins (tee/cocoon/router.cpp).
        Assert.Equal("44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3", Convert.ToHexStringLower(SHA256.HashData(pinned.RawData)));
        using var key = pinned.GetECDsaPublicKey()!;
        var q = key.ExportParameters(false).Q;
        Assert.Equal(
            "46e403bd34f05a3f2817ab9badcaacc7ffc98e0f261008cd30dae936cace18d5dcf58eef31463613de1570d516200993",
            Convert.ToHexStringLower(SHA384.HashData([0x04, .. q.X!, .. q.Y!])));
        Assert.Equal("Intel SGX Root CA", pinned.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
        Assert.Equal(new DateTime(2049, 12, 31, 23, 59, 59, DateTimeKind.Utc), pinned.NotAfter.ToUniversalTime());
    }

    [Fact]
    public void Every_vector_chain_ends_at_the_pinned_root()
    {
        using var pinned = IntelSgxRootCa.Load();
        foreach (var name in new[] { "V4", "V5", "Phala" })
        {
            var quote = Quotes.TdxQuote.Parse(Vectors.Read(Vectors.ByName(name).File));
            var certs = new X509Certificate2Collection();
            certs.ImportFromPem(quote.SignatureData.QeReportCertificationData.CertificationData.PckCertificateChainPem);
            Assert.Equal(3, certs.Count);
            Assert.Equal(pinned.RawData, certs[2].RawData);
            Assert.Equal("Intel SGX PCK Certificate", certs[0].GetNameInfo(X509NameType.SimpleName, forIssuer: false));
        }
    }

    [Fact]
    public void Unsupported_attestation_key_type_fails_at_the_header_step()
    {
        var bytes = Vectors.Read(Vectors.Phala.File);
        bytes[2] = 3; // ECDSA P-384: not what a TDX QE produces
        var result = VerificationTests.VerifierAt(Vectors.PhalaClock).Verify(bytes);
        Assert.Equal(VerificationStep.QuoteHeader, result.FailedStep);
        Assert.Contains("attestation key type 3", result.Message, StringComparison.Ordinal);
    }
}
