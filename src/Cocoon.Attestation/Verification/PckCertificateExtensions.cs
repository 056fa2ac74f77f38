using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cocoon.Attestation.Verification;

/// <summary>
/// The Intel SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1; Intel "SGX PCK Certificate and CRL
/// Profile" 1.4): PPID, the TCB (16 SGX component SVNs, PCESVN, CPUSVN), PCE-ID and FMSPC.
/// </summary>
public sealed record PckCertificateExtensions(
    byte[] Ppid,
    byte[] SgxTcbComponents,
    ushort PceSvn,
    byte[] CpuSvn,
    byte[] PceId,
    byte[] Fmspc)
{
    /// <summary>OID of the SGX extension.</summary>
    public const string SgxExtensionOid = "1.2.840.113741.1.13.1";

    /// <summary>Reads the extension from a PCK leaf; throws <see cref="CryptographicException"/> when absent or malformed.</summary>
    public static PckCertificateExtensions Read(X509Certificate2 pck)
    {
        var ext = pck.Extensions[SgxExtensionOid]
            ?? throw new CryptographicException("PCK certificate has no SGX extension (" + SgxExtensionOid + ")");
        try
        {
            byte[]? ppid = null, cpuSvn = null, pceId = null, fmspc = null;
            var components = new byte[16];
            var pceSvn = -1;
            var seq = new AsnReader(ext.RawData, AsnEncodingRules.DER).ReadSequence();
            while (seq.HasData)
            {
                var item = seq.ReadSequence();
                var oid = item.ReadObjectIdentifier();
                switch (oid)
                {
                    case SgxExtensionOid + ".1":
                        ppid = item.ReadOctetString();
                        break;
                    case SgxExtensionOid + ".2":
                        var tcb = item.ReadSequence();
                        while (tcb.HasData)
                        {
                            var component = tcb.ReadSequence();
                            var componentOid = component.ReadObjectIdentifier();
                            var index = int.Parse(componentOid.AsSpan(componentOid.LastIndexOf('.') + 1), System.Globalization.CultureInfo.InvariantCulture);
                            if (index is >= 1 and <= 16 && component.TryReadInt32(out var svn))
                            {
                                components[index - 1] = checked((byte)svn);
                            }
                            else if (index == 17 && component.TryReadInt32(out var pce))
                            {
                                pceSvn = pce;
                            }
                            else if (index == 18)
                            {
                                cpuSvn = component.ReadOctetString();
                            }
                        }

                        break;
                    case SgxExtensionOid + ".3":
                        pceId = item.ReadOctetString();
                        break;
                    case SgxExtensionOid + ".4":
                        fmspc = item.ReadOctetString();
                        break;
                    default:
                        break; // SGX type, platform instance id, configuration: not needed for TDX TCB evaluation.
                }
            }

            if (ppid is null || cpuSvn is null || pceId is null || fmspc is null || pceSvn < 0)
            {
                throw new CryptographicException("PCK SGX extension lacks PPID, TCB, PCE-ID or FMSPC");
            }

            return new PckCertificateExtensions(ppid, components, checked((ushort)pceSvn), cpuSvn, pceId, fmspc);
        }
        catch (Exception e) when (e is AsnContentException or FormatException or OverflowException)
        {
            throw new CryptographicException("malformed PCK SGX extension: " + e.Message, e);
        }
    }
}
