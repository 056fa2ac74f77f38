using System.Security.Cryptography;
using System.Text.Json;
using Cocoon.Attestation.Quotes;

namespace Cocoon.Attestation.Policy;

/// <summary>
/// The measurements that define a VM image (DESIGN section 7), read from files so an image build can print the image
/// hash its VMs will attest to before any VM runs: MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG and RTMR0-3 (48 bytes
/// each). An RTMR can be given as its final value or replayed from what was extended into it, the way the TDX module
/// computes it: starting from zero, <c>RTMR = SHA-384(RTMR ‖ digest)</c> for each event digest in order.
/// </summary>
public sealed record ImageMeasurements
{
    /// <summary>The size of every register.</summary>
    public const int Size = 48;

    public required byte[] MrTd { get; init; }

    public byte[] MrConfigId { get; init; } = new byte[Size];

    public byte[] MrOwner { get; init; } = new byte[Size];

    public byte[] MrOwnerConfig { get; init; } = new byte[Size];

    public required byte[] Rtmr0 { get; init; }

    public required byte[] Rtmr1 { get; init; }

    public required byte[] Rtmr2 { get; init; }

    public byte[] Rtmr3 { get; init; } = new byte[Size];

    /// <summary>The image hash (<see cref="Policy.ImageHash"/>) of these measurements.</summary>
    public byte[] ImageHash => Policy.ImageHash.Compute(MrTd, MrConfigId, MrOwner, MrOwnerConfig, Rtmr0, Rtmr1, Rtmr2, Rtmr3);

    /// <summary>The measurements of a TD report (e.g. of a quote taken from a reference boot).</summary>
    public static ImageMeasurements From(TdReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return new()
        {
            MrTd = report.MrTd.ToArray(),
            MrConfigId = report.MrConfigId.ToArray(),
            MrOwner = report.MrOwner.ToArray(),
            MrOwnerConfig = report.MrOwnerConfig.ToArray(),
            Rtmr0 = report.Rtmr0.ToArray(),
            Rtmr1 = report.Rtmr1.ToArray(),
            Rtmr2 = report.Rtmr2.ToArray(),
            Rtmr3 = report.Rtmr3.ToArray(),
        };
    }

    /// <summary>Extends <paramref name="rtmr"/> with one 48-byte event digest: SHA-384(rtmr ‖ digest).</summary>
    public static byte[] Extend(ReadOnlySpan<byte> rtmr, ReadOnlySpan<byte> digest)
    {
        if (rtmr.Length != Size || digest.Length != Size)
        {
            throw new ArgumentException("an RTMR and an event digest are 48 bytes (SHA-384)");
        }

        Span<byte> both = stackalloc byte[Size * 2];
        rtmr.CopyTo(both);
        digest.CopyTo(both[Size..]);
        return SHA384.HashData(both);
    }

    /// <summary>Replays event digests into a fresh (all-zero) RTMR.</summary>
    public static byte[] Replay(IEnumerable<byte[]> digests)
    {
        ArgumentNullException.ThrowIfNull(digests);
        var rtmr = new byte[Size];
        foreach (var digest in digests)
        {
            rtmr = Extend(rtmr, digest);
        }

        return rtmr;
    }

    /// <summary>
    /// Reads JSON with lower- or mixed-case hex values under the keys <c>mrtd</c>, <c>mrConfigId</c>, <c>mrOwner</c>,
    /// <c>mrOwnerConfig</c>, <c>rtmr0</c>..<c>rtmr3</c> (case-insensitive; what <c>cocoon attest inspect --json</c>
    /// prints). MRTD and RTMR0-2 are required; the others default to zero.
    /// </summary>
    /// <exception cref="FormatException">Not JSON, a required key missing, or a value not 48 bytes of hex (named).</exception>
    public static ImageMeasurements FromJson(string json)
    {
        Dictionary<string, string> values;
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("measurements JSON must be an object");
            }

            values = document.RootElement.EnumerateObject()
                .Where(p => p.Value.ValueKind == JsonValueKind.String)
                .ToDictionary(p => p.Name.ToLowerInvariant(), p => p.Value.GetString()!, StringComparer.Ordinal);
        }
        catch (JsonException e)
        {
            throw new FormatException("measurements are not valid JSON: " + e.Message, e);
        }

        byte[]? Get(string name) => values.TryGetValue(name, out var hex) ? Register(name, hex) : null;
        return Build(Get);
    }

    /// <summary>
    /// Reads a folder: a file per register named <c>mrtd</c>, <c>mrconfigid</c>, <c>mrowner</c>, <c>mrownerconfig</c>,
    /// <c>rtmr0</c>..<c>rtmr3</c> holding its hex value; or, for an RTMR, <c>rtmrN.events</c> (one hex SHA-384 event
    /// digest per line, e.g. from the TD's event log; <c>#</c> starts a comment) or a folder <c>rtmrN.d/</c> whose files
    /// are measured in ordinal name order (each extends SHA-384 of its bytes). MRTD and RTMR0-2 are required; the others
    /// default to zero. A register given two ways is refused.
    /// </summary>
    /// <exception cref="FormatException">A missing or ambiguous register, or a bad value (the file is named).</exception>
    public static ImageMeasurements FromFolder(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        if (!Directory.Exists(folder))
        {
            throw new FormatException($"{folder} is not a folder");
        }

        byte[]? Get(string name)
        {
            var value = Path.Combine(folder, name);
            var events = Path.Combine(folder, name + ".events");
            var payloads = Path.Combine(folder, name + ".d");
            var given = new[] { File.Exists(value), File.Exists(events), Directory.Exists(payloads) }.Count(b => b);
            if (given > 1)
            {
                throw new FormatException($"{name} is given more than one way in {folder} (a value, {name}.events or {name}.d/): keep one");
            }

            if (File.Exists(value))
            {
                return Register(value, File.ReadAllText(value));
            }

            if (!name.StartsWith("rtmr", StringComparison.Ordinal))
            {
                return null;
            }

            if (File.Exists(events))
            {
                var digests = new List<byte[]>();
                var lineNumber = 0;
                foreach (var line in File.ReadLines(events))
                {
                    lineNumber++;
                    var text = line.Split('#', 2)[0].Trim();
                    if (text.Length > 0)
                    {
                        digests.Add(Register($"{events} line {lineNumber}", text));
                    }
                }

                return Replay(digests);
            }

            if (Directory.Exists(payloads))
            {
                return Replay(Directory.GetFiles(payloads).Order(StringComparer.Ordinal).Select(f => SHA384.HashData(File.ReadAllBytes(f))));
            }

            return null;
        }

        return Build(Get);
    }

    private static ImageMeasurements Build(Func<string, byte[]?> get)
    {
        byte[] Required(string name) => get(name) ?? throw new FormatException($"the measurements lack {name}");
        return new ImageMeasurements
        {
            MrTd = Required("mrtd"),
            MrConfigId = get("mrconfigid") ?? new byte[Size],
            MrOwner = get("mrowner") ?? new byte[Size],
            MrOwnerConfig = get("mrownerconfig") ?? new byte[Size],
            Rtmr0 = Required("rtmr0"),
            Rtmr1 = Required("rtmr1"),
            Rtmr2 = Required("rtmr2"),
            Rtmr3 = get("rtmr3") ?? new byte[Size],
        };
    }

    private static byte[] Register(string what, string hex)
    {
        var text = hex.Trim();
        byte[] bytes;
        try
        {
            bytes = Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            throw new FormatException($"{what}: '{(text.Length > 40 ? text[..40] + "..." : text)}' is not hex");
        }

        return bytes.Length == Size ? bytes : throw new FormatException($"{what}: {bytes.Length} bytes, 48 expected (SHA-384)");
    }
}
