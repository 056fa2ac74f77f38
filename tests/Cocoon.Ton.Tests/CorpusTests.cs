using Cocoon.Ton.Boc;

namespace Cocoon.Ton.Tests;

/// <summary>
/// Regression over the fuzzing corpus (tests/Cocoon.Ton.Tests/Corpus/boc, grown by AFL through
/// tests/Cocoon.Ton.Fuzz): every file parses or is refused with <see cref="BocFormatException"/>, nothing else,
/// and whatever parses survives a canonical round trip.
/// </summary>
public class CorpusTests
{
    private static string CorpusDirectory => Path.Combine(AppContext.BaseDirectory, "Corpus", "boc");

    [Fact]
    public void Every_corpus_file_parses_or_is_refused_with_BocFormatException()
    {
        var files = Directory.GetFiles(CorpusDirectory);
        Assert.True(files.Length >= 10, $"corpus has only {files.Length} files");
        var parsed = 0;
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(file);
            IReadOnlyList<Cells.Cell> roots;
            try
            {
                roots = BagOfCells.Parse(bytes);
            }
            catch (BocFormatException)
            {
                continue;
            }
            catch (Exception e)
            {
                Assert.Fail($"{Path.GetFileName(file)}: {e.GetType().Name}: {e.Message}");
                throw;
            }

            parsed++;
            foreach (var options in new[] { BocOptions.Default, new BocOptions(true, true), new BocOptions(false, false) })
            {
                var again = BagOfCells.Parse(BagOfCells.Serialize(roots, options));
                Assert.Equal(roots.Select(r => Convert.ToHexString(r.Hash())), again.Select(r => Convert.ToHexString(r.Hash())));
            }
        }

        Assert.True(parsed >= 10, $"only {parsed} corpus files parse; the seeds should");
    }
}
