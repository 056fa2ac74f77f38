using Cocoon.Gateway.Fuzz;

namespace Cocoon.Gateway.Tests;

/// <summary>
/// Replays the AFL++ (SharpFuzz) corpora of tests/Cocoon.Gateway.Fuzz through the same targets: request bodies for
/// embeddings, chat and completions are parsed or refused with a 4xx, receipts parse or are a FormatException and read
/// back to themselves, RA-TLS claims parse or are a FormatException, toncenter answers are a value or a
/// ToncenterException, Authorization headers are a key or a 401, attestation documents parse or are a FormatException.
/// The crash-* files are inputs that once broke a contract (kept as regressions).
/// </summary>
public sealed class FuzzCorpusTests
{
    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var target in GatewayFuzzTargets.All.Keys)
        {
            foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Corpus", target)).Order(StringComparer.Ordinal))
            {
                data.Add(target, Path.GetFileName(file));
            }
        }

        return data;
    }

    [Fact]
    public void Every_target_has_a_corpus()
    {
        foreach (var target in GatewayFuzzTargets.All.Keys)
        {
            Assert.True(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Corpus", target)).Length >= 5, target);
        }
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void A_corpus_input_keeps_its_targets_contract(string target, string file) =>
        GatewayFuzzTargets.All[target](File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Corpus", target, file)));
}
