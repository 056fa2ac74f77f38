using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cocoon.Attestation.Verification;

/// <summary>
/// The Intel SGX Root CA, pinned as data. Identical in google/go-tdx-guest verify/trusted_root.pem, Phala
/// dcap-qvl src/TrustedRootCA.der and shared/testdata/tdx/intel-sgx-root-ca.pem; SHA-256 fingerprint
/// 44A0196B2B99F889B8E149E95B807A350E7424964399E885A7CBB8CCFAB674D3, valid 2018-05-21 to 2049-12-31
/// (shared/reference/ton-and-tdx.md section 5, "Intel SGX Root CA").
/// </summary>
public static class IntelSgxRootCa
{
    /// <summary>The certificate in PEM.</summary>
    public const string Pem = """
        -----BEGIN CERTIFICATE-----
        MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
        aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
        cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
        BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
        A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
        aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
        AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
        1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
        uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
        MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
        ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
        Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
        KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
        AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
        -----END CERTIFICATE-----
        """;

    /// <summary>SHA-256 over the DER certificate.</summary>
    public const string Sha256Fingerprint = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

    /// <summary>A fresh copy of the root certificate (callers own and dispose it).</summary>
    public static X509Certificate2 Load()
    {
        var cert = X509Certificate2.CreateFromPem(Pem);
        // Guard against an edit of the pinned text: the fingerprint is the identity, not the PEM.
        if (!Convert.ToHexStringLower(SHA256.HashData(cert.RawData)).Equals(Sha256Fingerprint, StringComparison.Ordinal))
        {
            cert.Dispose();
            throw new CryptographicException("pinned Intel SGX Root CA does not match its fingerprint");
        }

        return cert;
    }
}
