using SharpFuzz;

namespace Cocoon.Gateway.Fuzz;

/// <summary>
/// Fuzz targets (<see cref="GatewayFuzzTargets"/>): <c>body</c> (the first byte picks embeddings, chat or completions,
/// the rest is the HTTP body), <c>receipt</c> (a receipt as a client reads it), <c>claims</c> (RA-TLS claims),
/// <c>toncenter</c> (the first byte picks the call and HTTP status, the rest is toncenter's answer), <c>authorization</c>
/// (the Authorization header) and <c>attestation-doc</c> (a gateway's attestation document). Each input must parse or
/// fail with the documented error; any other exception escapes and is reported as a crash. Modes: <c>afl TARGET</c> (AFL++
/// through SharpFuzz), <c>libfuzzer TARGET</c>, <c>replay TARGET FILE...</c>.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length < 2 || !GatewayFuzzTargets.All.TryGetValue(args[1], out var target))
        {
            Console.Error.WriteLine($"usage: afl|libfuzzer|replay TARGET [FILE...]; targets: {string.Join(", ", GatewayFuzzTargets.All.Keys)}");
            return 2;
        }

        switch (args[0])
        {
            case "afl":
                Fuzzer.OutOfProcess.Run(stream =>
                {
                    using var buffer = new MemoryStream();
                    stream.CopyTo(buffer);
                    target(buffer.ToArray());
                });
                return 0;
            case "replay":
                foreach (var file in args.Skip(2))
                {
                    target(File.ReadAllBytes(file));
                }

                return 0;
            default:
                Fuzzer.LibFuzzer.Run(span => target(span.ToArray()));
                return 0;
        }
    }
}
