using System.Buffers.Binary;
using Cocoon.Attestation.Quotes;

namespace Cocoon.Attestation.Tests;

/// <summary>
/// The parser's contract under hostile input: return a quote or throw <see cref="QuoteFormatException"/>, nothing else;
/// the verifier never throws at all. Corpus/quote/ holds the AFL++ (SharpFuzz) corpus of tests/Cocoon.Attestation.Fuzz.
/// </summary>
public sealed class FuzzRegressionTests
{
    private static string CorpusDirectory => Path.Combine(AppContext.BaseDirectory, "Corpus", "quote");

    [Fact]
    public void Every_corpus_file_parses_or_throws_the_documented_exception()
    {
        var files = Directory.GetFiles(CorpusDirectory);
        Assert.True(files.Length >= 10, $"corpus has only {files.Length} files");
        var parsed = 0;
        var verifier = VerificationTests.VerifierAt(Vectors.PhalaClock);
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(file);
            if (ParsesOrThrowsDocumented(bytes, file))
            {
                parsed++;
            }

            var result = verifier.Verify(bytes); // must not throw
            Assert.NotNull(result.Message);
        }

        Assert.True(parsed > 0, "no corpus file parses: the corpus lost its valid seeds");
    }

    [Theory]
    [MemberData(nameof(Vectors.Names), MemberType = typeof(Vectors))]
    public void Random_mutations_parse_or_throw_the_documented_exception(string name)
    {
        var v = Vectors.ByName(name);
        var original = Vectors.Read(v.File)[..v.Length];
        var random = new Random(0x5eed + v.Length); // fixed seed: a failure reproduces
        var verifier = VerificationTests.VerifierAt(v.Clock);
        int[] lengthFields = v.Version == 5
            ? [0x32, 0x2BE, 0x2BE + 128 + 2, 0x2BE + 4 + 128 + 6 + 448, 0x2BE + 4 + 128 + 6 + 448 + 2 + 32 + 2]
            : [0x278, 0x278 + 4 + 128 + 2, 0x278 + 4 + 128 + 6 + 448, 0x278 + 4 + 128 + 6 + 448 + 2 + 32 + 2];
        for (var i = 0; i < 3000; i++)
        {
            var bytes = Mutate(original, random, lengthFields);
            ParsesOrThrowsDocumented(bytes, $"{name} mutation {i}");
            if (i % 100 == 0)
            {
                Assert.NotNull(verifier.Verify(bytes).Message);
            }
        }
    }

    [Fact]
    public void Verifier_never_throws_on_mutated_pck_chains()
    {
        // Mutations inside the PEM text: broken base64, broken DER, broken certificates. Every verdict must be a
        // result naming a step, never an exception.
        var v = Vectors.Phala;
        var original = Vectors.Read(v.File)[..v.Length];
        var quote = TdxQuote.Parse(original);
        var chainStart = v.Length - quote.SignatureData.QeReportCertificationData.CertificationData.Data.Length;
        var verifier = VerificationTests.VerifierAt(v.Clock);
        var random = new Random(1234);
        var steps = new HashSet<Verification.VerificationStep?>();
        for (var i = 0; i < 150; i++)
        {
            var bytes = (byte[])original.Clone();
            for (var k = random.Next(1, 4); k > 0; k--)
            {
                bytes[random.Next(chainStart, bytes.Length)] = (byte)random.Next(256);
            }

            var result = verifier.Verify(bytes);
            steps.Add(result.FailedStep);
        }

        Assert.Contains(Verification.VerificationStep.PckCertificateChain, steps);
    }

    private static byte[] Mutate(byte[] original, Random random, int[] lengthFields)
    {
        var bytes = (byte[])original.Clone();
        var rounds = random.Next(1, 5);
        for (var r = 0; r < rounds; r++)
        {
            switch (random.Next(6))
            {
                case 0:
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                    break;
                case 2:
                    bytes = bytes[..random.Next(bytes.Length)];
                    break;
                case 3:
                    var at = lengthFields[random.Next(lengthFields.Length)];
                    if (at + 4 <= bytes.Length)
                    {
                        uint[] interesting = [0, 1, 0xffff, 0x7fffffff, 0xffffffff, (uint)random.Next(), (uint)random.Next(6000)];
                        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), interesting[random.Next(interesting.Length)]);
                    }

                    break;
                case 4:
                    var extra = new byte[random.Next(1, 64)];
                    random.NextBytes(extra);
                    var pos = random.Next(bytes.Length + 1);
                    bytes = [.. bytes[..pos], .. extra, .. bytes[pos..]];
                    break;
                default:
                    if (bytes.Length > 1)
                    {
                        var cut = random.Next(bytes.Length - 1);
                        var len = random.Next(1, Math.Min(64, bytes.Length - cut));
                        bytes = [.. bytes[..cut], .. bytes[(cut + len)..]];
                    }

                    break;
            }
        }

        return bytes;
    }

    private static bool ParsesOrThrowsDocumented(byte[] bytes, string what)
    {
        try
        {
            var quote = TdxQuote.Parse(bytes);
            Assert.True(quote.Bytes.Length <= bytes.Length, what);
            Assert.Equal(quote.Bytes.Length, quote.SignedLength + 4 + quote.SignatureDataLength);
            return true;
        }
        catch (QuoteFormatException e)
        {
            Assert.InRange(e.Offset, 0, Math.Max(0, bytes.Length));
            return false;
        }
    }
}
