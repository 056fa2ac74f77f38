using System.Text.Json;

namespace Cocoon.Attestation.Collateral;

/// <summary>The TDX Quoting Enclave identity (<c>enclaveIdentity</c>, id "TD_QE"), parsed from its exact signed text.</summary>
public sealed record QeIdentity
{
    public required string Id { get; init; }

    public required int Version { get; init; }

    public required DateTimeOffset IssueDate { get; init; }

    public required DateTimeOffset NextUpdate { get; init; }

    public required uint MiscSelect { get; init; }

    public required uint MiscSelectMask { get; init; }

    public required byte[] Attributes { get; init; }

    public required byte[] AttributesMask { get; init; }

    public required byte[] MrSigner { get; init; }

    public required ushort IsvProdId { get; init; }

    public required IReadOnlyList<(ushort IsvSvn, TcbStatus Status, IReadOnlyList<string> AdvisoryIds)> Levels { get; init; }

    /// <summary>Parses the QE identity JSON; throws <see cref="FormatException"/> for anything malformed.</summary>
    public static QeIdentity Parse(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var levels = new List<(ushort, TcbStatus, IReadOnlyList<string>)>();
            foreach (var level in root.GetProperty("tcbLevels").EnumerateArray())
            {
                levels.Add((level.GetProperty("tcb").GetProperty("isvsvn").GetUInt16(), TcbInfo.Status(level), TcbInfo.Advisories(level)));
            }

            // miscselect hex is read as the little-endian bytes of the QE report's u32, as Phala dcap-qvl does
            // (verify.js verifyQeIdentityPolicy); Intel's TD_QE identities hold 00000000 under mask FFFFFFFF, where order is moot.
            return new QeIdentity
            {
                Id = root.GetProperty("id").GetString()!,
                Version = root.GetProperty("version").GetInt32(),
                IssueDate = TcbInfo.Date(root, "issueDate"),
                NextUpdate = TcbInfo.Date(root, "nextUpdate"),
                MiscSelect = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(TcbInfo.HexOf(root, "miscselect")),
                MiscSelectMask = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(TcbInfo.HexOf(root, "miscselectMask")),
                Attributes = TcbInfo.HexOf(root, "attributes"),
                AttributesMask = TcbInfo.HexOf(root, "attributesMask"),
                MrSigner = TcbInfo.HexOf(root, "mrsigner"),
                IsvProdId = root.GetProperty("isvprodid").GetUInt16(),
                Levels = levels,
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new FormatException("malformed QE identity: " + e.Message, e);
        }
    }
}
