using System.Security.Cryptography;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.Providers;
using Cocoon.Attestation.Quotes;

namespace Cocoon.Attestation.Tests;

/// <summary>
/// <see cref="ImageMeasurements"/>: the image hash of DESIGN 7 from a folder of register values, from RTMR event digests
/// or payload files replayed the way the TDX module extends RTMRs, from JSON, and from a quote (the vectors).
/// </summary>
public sealed class ImageMeasurementsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("cocoon-measurements-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static byte[] Sha384(byte[] data) => SHA384.HashData(data);

    // RTMR extension as the TDX module defines it, written out here independently of the library.
    private static byte[] ExtendByHand(byte[] rtmr, byte[] digest) => Sha384([.. rtmr, .. digest]);

    [Fact]
    public void A_folder_of_values_gives_the_same_image_hash_as_the_measurements_themselves()
    {
        var m = SimulatedTdMeasurements.ForImage("cocoon-image");
        Write("mrtd", m.MrTd);
        Write("rtmr0", m.Rtmr0);
        Write("rtmr1", m.Rtmr1);
        File.WriteAllText(Path.Combine(_folder, "rtmr2"), "  " + Convert.ToHexString(m.Rtmr2) + "\n"); // upper case, spaces

        var read = ImageMeasurements.FromFolder(_folder);

        Assert.Equal(ImageHash.Compute(m.MrTd, m.MrConfigId, m.MrOwner, m.MrOwnerConfig, m.Rtmr0, m.Rtmr1, m.Rtmr2, m.Rtmr3), read.ImageHash);
        Assert.Equal(new byte[48], read.Rtmr3);
    }

    [Fact]
    public void Rtmrs_are_replayed_from_event_digests_and_from_payload_files_in_name_order()
    {
        var m = SimulatedTdMeasurements.ForImage("cocoon-image");
        Write("mrtd", m.MrTd);
        Write("rtmr0", m.Rtmr0);
        byte[][] payloads = [[1, 2, 3], "console=ttyS0 ro roothash=ab"u8.ToArray(), new byte[1000]];
        File.WriteAllLines(Path.Combine(_folder, "rtmr1.events"), ["# kernel events", .. payloads.Select(p => Convert.ToHexStringLower(Sha384(p)) + "  # event"), ""]);
        var d = Directory.CreateDirectory(Path.Combine(_folder, "rtmr2.d")).FullName;
        File.WriteAllBytes(Path.Combine(d, "10-cmdline"), payloads[1]);
        File.WriteAllBytes(Path.Combine(d, "02-first"), payloads[0]);

        var read = ImageMeasurements.FromFolder(_folder);

        var rtmr1 = payloads.Aggregate(new byte[48], (r, p) => ExtendByHand(r, Sha384(p)));
        var rtmr2 = ExtendByHand(ExtendByHand(new byte[48], Sha384(payloads[0])), Sha384(payloads[1]));
        Assert.Equal(rtmr1, read.Rtmr1);
        Assert.Equal(rtmr2, read.Rtmr2);
        Assert.Equal(ImageHash.Compute(m.MrTd, new byte[48], new byte[48], new byte[48], m.Rtmr0, rtmr1, rtmr2, new byte[48]), read.ImageHash);
    }

    [Fact]
    public void Missing_ambiguous_or_bad_registers_are_refused_by_name()
    {
        var m = SimulatedTdMeasurements.ForImage("cocoon-image");
        Write("mrtd", m.MrTd);
        Write("rtmr0", m.Rtmr0);
        Write("rtmr1", m.Rtmr1);
        Assert.Contains("lack rtmr2", Assert.Throws<FormatException>(() => ImageMeasurements.FromFolder(_folder)).Message, StringComparison.Ordinal);

        Write("rtmr2", m.Rtmr2);
        File.WriteAllText(Path.Combine(_folder, "rtmr2.events"), Convert.ToHexStringLower(new byte[48]));
        Assert.Contains("more than one way", Assert.Throws<FormatException>(() => ImageMeasurements.FromFolder(_folder)).Message, StringComparison.Ordinal);

        File.Delete(Path.Combine(_folder, "rtmr2.events"));
        File.WriteAllText(Path.Combine(_folder, "mrowner"), "abcd");
        Assert.Contains("2 bytes, 48 expected", Assert.Throws<FormatException>(() => ImageMeasurements.FromFolder(_folder)).Message, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(_folder, "mrowner"), "xyz");
        Assert.Contains("is not hex", Assert.Throws<FormatException>(() => ImageMeasurements.FromFolder(_folder)).Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => ImageMeasurements.FromFolder(Path.Combine(_folder, "missing")));
        Assert.Throws<ArgumentException>(() => ImageMeasurements.Extend(new byte[48], new byte[32]));
    }

    [Fact]
    public void The_vectors_measurements_from_the_quote_and_from_json_give_the_quotes_image_hash()
    {
        foreach (var v in new[] { Vectors.V4, Vectors.V5, Vectors.Phala })
        {
            var quote = TdxQuote.Parse(Vectors.Read(v.File));
            var json = $$"""{"mrtd":"{{v.Mrtd}}","mrConfigId":"{{v.MrConfigId}}","MROWNER":"{{v.MrOwner}}","mrOwnerConfig":"{{v.MrOwnerConfig}}","rtmr0":"{{v.Rtmr0}}","rtmr1":"{{v.Rtmr1}}","rtmr2":"{{v.Rtmr2}}","rtmr3":"{{v.Rtmr3}}","version":4}""";

            Assert.Equal(ImageHash.Compute(quote.Body), ImageMeasurements.From(quote.Body).ImageHash);
            Assert.Equal(ImageHash.Compute(quote.Body), ImageMeasurements.FromJson(json).ImageHash);
        }

        Assert.Throws<FormatException>(() => ImageMeasurements.FromJson("[1]"));
        Assert.Throws<FormatException>(() => ImageMeasurements.FromJson("{\"mrtd\": \"00\"}"));
    }

    private void Write(string name, byte[] value) => File.WriteAllText(Path.Combine(_folder, name), Convert.ToHexStringLower(value));
}
