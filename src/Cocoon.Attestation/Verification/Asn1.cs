using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cocoon.Attestation.Verification;

/// <summary>A parsed X.509 CRL (RFC 5280 section 5.1) with just what DCAP verification needs.</summary>
internal sealed record CertificateRevocationList(
    byte[] Der,
    byte[] TbsCertList,
    byte[] Signature,
    X500DistinguishedName Issuer,
    DateTimeOffset ThisUpdate,
    DateTimeOffset? NextUpdate,
    IReadOnlySet<BigInteger> RevokedSerials)
{
    /// <summary>Parses DER; throws <see cref="CryptographicException"/> on malformed input.</summary>
    public static CertificateRevocationList Parse(byte[] der)
    {
        try
        {
            var outer = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
            var tbs = outer.ReadEncodedValue().ToArray();
            outer.ReadSequence(); // signatureAlgorithm
            var signature = outer.ReadBitString(out _);

            var reader = new AsnReader(tbs, AsnEncodingRules.DER).ReadSequence();
            if (reader.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
            {
                reader.ReadInteger(); // version v2
            }

            reader.ReadSequence(); // signature algorithm
            var issuer = new X500DistinguishedName(reader.ReadEncodedValue().Span);
            var thisUpdate = ReadTime(reader);
            DateTimeOffset? nextUpdate = null;
            if (reader.HasData && IsTime(reader.PeekTag()))
            {
                nextUpdate = ReadTime(reader);
            }

            var revoked = new HashSet<BigInteger>();
            if (reader.HasData && reader.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
            {
                var entries = reader.ReadSequence();
                while (entries.HasData)
                {
                    var entry = entries.ReadSequence();
                    revoked.Add(entry.ReadInteger());
                }
            }

            return new CertificateRevocationList(der, tbs, signature, issuer, thisUpdate, nextUpdate, revoked);
        }
        catch (AsnContentException e)
        {
            throw new CryptographicException("malformed CRL: " + e.Message, e);
        }
    }

    public bool IsSignedBy(X509Certificate2 issuer) => Asn1.VerifyEcdsaSha256Der(issuer, TbsCertList, Signature);

    public bool Revokes(X509Certificate2 certificate) =>
        RevokedSerials.Contains(new BigInteger(certificate.SerialNumberBytes.Span, isUnsigned: false, isBigEndian: true));

    private static bool IsTime(Asn1Tag tag) =>
        tag.HasSameClassAndValue(Asn1Tag.UtcTime) || tag.HasSameClassAndValue(Asn1Tag.GeneralizedTime);

    private static DateTimeOffset ReadTime(AsnReader reader) =>
        reader.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) ? reader.ReadUtcTime() : reader.ReadGeneralizedTime();
}

internal static class Asn1
{
    /// <summary>Verifies an ECDSA-with-SHA256 DER signature with the P-256 key of <paramref name="signer"/>.</summary>
    public static bool VerifyEcdsaSha256Der(X509Certificate2 signer, ReadOnlySpan<byte> data, ReadOnlySpan<byte> derSignature)
    {
        using var key = signer.GetECDsaPublicKey();
        return key is not null && key.VerifyData(data, derSignature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
    }

    /// <summary>Verifies a raw r‖s (IEEE P1363) ECDSA-P256/SHA-256 signature with the key of <paramref name="signer"/>.</summary>
    public static bool VerifyEcdsaSha256Raw(X509Certificate2 signer, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        using var key = signer.GetECDsaPublicKey();
        return key is not null && key.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    /// <summary>
    /// Verifies that <paramref name="certificate"/> is signed by <paramref name="issuer"/>'s ECDSA key, reading the
    /// signature from the certificate itself (RFC 5280 4.1: tbsCertificate, signatureAlgorithm, signatureValue).
    /// </summary>
    public static bool IsCertificateSignedBy(X509Certificate2 certificate, X509Certificate2 issuer)
    {
        try
        {
            var outer = new AsnReader(certificate.RawData, AsnEncodingRules.DER).ReadSequence();
            var tbs = outer.ReadEncodedValue();
            var algorithm = outer.ReadSequence().ReadObjectIdentifier();
            var signature = outer.ReadBitString(out _);
            return algorithm == "1.2.840.10045.4.3.2" && VerifyEcdsaSha256Der(issuer, tbs.Span, signature);
        }
        catch (AsnContentException)
        {
            return false;
        }
    }
}
