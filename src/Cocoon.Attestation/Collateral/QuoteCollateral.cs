using System.Text.Json;

namespace Cocoon.Attestation.Collateral;

/// <summary>
/// Verification collateral for one quote, in the QuoteCollateralV3 JSON shape of Phala dcap-qvl (snake_case keys)
/// that Intel PCS / PCCS responses are usually stored in: TCB info and QE identity (exact signed JSON text), their
/// raw r‖s signatures (hex) and issuer chains (PEM), the root CA CRL and the PCK CRL (hex DER) with its issuer chain.
/// </summary>
public sealed record QuoteCollateral
{
    public required string TcbInfoJson { get; init; }

    public required byte[] TcbInfoSignature { get; init; }

    public required string TcbInfoIssuerChainPem { get; init; }

    public required string QeIdentityJson { get; init; }

    public required byte[] QeIdentitySignature { get; init; }

    public required string QeIdentityIssuerChainPem { get; init; }

    public required byte[] RootCaCrl { get; init; }

    public required byte[] PckCrl { get; init; }

    public required string PckCrlIssuerChainPem { get; init; }

    /// <summary>Parses the JSON; throws <see cref="FormatException"/> naming the missing or bad key.</summary>
    public static QuoteCollateral Parse(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            return new QuoteCollateral
            {
                TcbInfoJson = String(root, "tcb_info"),
                TcbInfoSignature = Hex(root, "tcb_info_signature"),
                TcbInfoIssuerChainPem = String(root, "tcb_info_issuer_chain"),
                QeIdentityJson = String(root, "qe_identity"),
                QeIdentitySignature = Hex(root, "qe_identity_signature"),
                QeIdentityIssuerChainPem = String(root, "qe_identity_issuer_chain"),
                RootCaCrl = Hex(root, "root_ca_crl"),
                PckCrl = Hex(root, "pck_crl"),
                PckCrlIssuerChainPem = String(root, "pck_crl_issuer_chain"),
            };
        }
        catch (JsonException e)
        {
            throw new FormatException("collateral is not valid JSON: " + e.Message, e);
        }
    }

    private static string String(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new FormatException("collateral lacks string '" + name + "'");

    private static byte[] Hex(JsonElement root, string name)
    {
        var text = String(root, name);
        try
        {
            return Convert.FromHexString(text);
        }
        catch (FormatException e)
        {
            throw new FormatException("collateral '" + name + "' is not hex", e);
        }
    }
}
