using Cocoon.Attestation.Quotes;
using SharpFuzz;

namespace Cocoon.Attestation.Fuzz;

/// <summary>
/// Fuzz target: <see cref="TdxQuote.Parse"/> must either return a quote or throw <see cref="QuoteFormatException"/>.
/// Any other exception escapes and is reported by the fuzzer as a crash. Modes: <c>libfuzzer</c> (default, for
/// libfuzzer-dotnet), <c>afl</c> (AFL++ through SharpFuzz's out-of-process runner), <c>replay FILE...</c>.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var mode = args.Length > 0 ? args[0] : "libfuzzer";
        switch (mode)
        {
            case "afl":
                Fuzzer.OutOfProcess.Run(stream =>
                {
                    using var buffer = new MemoryStream();
                    stream.CopyTo(buffer);
                    ParseOne(buffer.ToArray());
                });
                return 0;
            case "replay":
                foreach (var file in args.Skip(1))
                {
                    ParseOne(File.ReadAllBytes(file));
                }

                return 0;
            default:
                Fuzzer.LibFuzzer.Run(ParseOne);
                return 0;
        }
    }

    private static void ParseOne(ReadOnlySpan<byte> data)
    {
        try
        {
            var quote = TdxQuote.Parse(data);

            // Touch what callers touch after a successful parse, so lazy paths are fuzzed too.
            _ = quote.SignatureData.QeReportCertificationData.CertificationData.PckCertificateChainPem;
            _ = quote.Body.IsDebug;
            _ = quote.IsSimulated;
            _ = Policy.ImageHash.Compute(quote.Body);
        }
        catch (QuoteFormatException)
        {
            // The documented failure.
        }
    }
}
