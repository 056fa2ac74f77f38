using System.Globalization;
using System.Text.Json;

namespace Cocoon.Attestation.Collateral;

/// <summary>One TCB level of a TDX TCB info (Intel PCS API v4 "TDX TCB Info" v3).</summary>
public sealed record TcbLevel(
    byte[] SgxComponents,
    ushort PceSvn,
    byte[] TdxComponents,
    DateTimeOffset TcbDate,
    TcbStatus Status,
    IReadOnlyList<string> AdvisoryIds);

/// <summary>A TDX module identity (<c>tdxModuleIdentities[]</c>): id <c>TDX_%02X</c>, MRSIGNERSEAM, attributes and levels by module SVN.</summary>
public sealed record TdxModuleIdentity(
    string Id,
    byte[] MrSigner,
    byte[] Attributes,
    byte[] AttributesMask,
    IReadOnlyList<(ushort IsvSvn, TcbStatus Status, IReadOnlyList<string> AdvisoryIds)> Levels);

/// <summary>TDX TCB info (the <c>tcbInfo</c> object, id "TDX", version 3), parsed from its exact signed text.</summary>
public sealed record TcbInfo
{
    public required string Id { get; init; }

    public required int Version { get; init; }

    public required DateTimeOffset IssueDate { get; init; }

    public required DateTimeOffset NextUpdate { get; init; }

    public required byte[] Fmspc { get; init; }

    public required byte[] PceId { get; init; }

    public required byte[] TdxModuleMrSigner { get; init; }

    public required byte[] TdxModuleAttributes { get; init; }

    public required byte[] TdxModuleAttributesMask { get; init; }

    public required IReadOnlyList<TdxModuleIdentity> TdxModuleIdentities { get; init; }

    public required IReadOnlyList<TcbLevel> Levels { get; init; }

    /// <summary>Parses the TCB info JSON; throws <see cref="FormatException"/> for anything malformed.</summary>
    public static TcbInfo Parse(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var module = root.GetProperty("tdxModule");
            var identities = new List<TdxModuleIdentity>();
            if (root.TryGetProperty("tdxModuleIdentities", out var ids))
            {
                foreach (var id in ids.EnumerateArray())
                {
                    var levels = new List<(ushort, TcbStatus, IReadOnlyList<string>)>();
                    foreach (var level in id.GetProperty("tcbLevels").EnumerateArray())
                    {
                        levels.Add((level.GetProperty("tcb").GetProperty("isvsvn").GetUInt16(), Status(level), Advisories(level)));
                    }

                    identities.Add(new TdxModuleIdentity(
                        id.GetProperty("id").GetString()!,
                        HexOf(id, "mrsigner"),
                        HexOf(id, "attributes"),
                        HexOf(id, "attributesMask"),
                        levels));
                }
            }

            var tcbLevels = new List<TcbLevel>();
            foreach (var level in root.GetProperty("tcbLevels").EnumerateArray())
            {
                var tcb = level.GetProperty("tcb");
                tcbLevels.Add(new TcbLevel(
                    Components(tcb.GetProperty("sgxtcbcomponents")),
                    tcb.GetProperty("pcesvn").GetUInt16(),
                    Components(tcb.GetProperty("tdxtcbcomponents")),
                    Date(level, "tcbDate"),
                    Status(level),
                    Advisories(level)));
            }

            return new TcbInfo
            {
                Id = root.GetProperty("id").GetString()!,
                Version = root.GetProperty("version").GetInt32(),
                IssueDate = Date(root, "issueDate"),
                NextUpdate = Date(root, "nextUpdate"),
                Fmspc = HexOf(root, "fmspc"),
                PceId = HexOf(root, "pceId"),
                TdxModuleMrSigner = HexOf(module, "mrsigner"),
                TdxModuleAttributes = HexOf(module, "attributes"),
                TdxModuleAttributesMask = HexOf(module, "attributesMask"),
                TdxModuleIdentities = identities,
                Levels = tcbLevels,
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new FormatException("malformed TDX TCB info: " + e.Message, e);
        }
    }

    internal static byte[] HexOf(JsonElement element, string name) => Convert.FromHexString(element.GetProperty(name).GetString()!);

    internal static DateTimeOffset Date(JsonElement element, string name) =>
        DateTimeOffset.Parse(element.GetProperty(name).GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    internal static TcbStatus Status(JsonElement level) => TcbStatuses.Parse(level.GetProperty("tcbStatus").GetString()!);

    internal static IReadOnlyList<string> Advisories(JsonElement level)
    {
        var list = new List<string>();
        if (level.TryGetProperty("advisoryIDs", out var ids))
        {
            foreach (var id in ids.EnumerateArray())
            {
                list.Add(id.GetString()!);
            }
        }

        return list;
    }

    private static byte[] Components(JsonElement array)
    {
        var result = new byte[16];
        var i = 0;
        foreach (var component in array.EnumerateArray())
        {
            if (i == 16)
            {
                throw new FormatException("more than 16 TCB components");
            }

            result[i++] = component.GetProperty("svn").GetByte();
        }

        return i == 16 ? result : throw new FormatException("expected 16 TCB components, found " + i.ToString(CultureInfo.InvariantCulture));
    }
}
