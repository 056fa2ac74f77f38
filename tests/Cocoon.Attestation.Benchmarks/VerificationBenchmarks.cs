using BenchmarkDotNet.Attributes;
using Cocoon.Attestation.Collateral;
using Cocoon.Attestation.Verification;

namespace Cocoon.Attestation.Benchmarks;

/// <summary>
/// Cost of verifying one quote: cold (every step, every time) against <see cref="QuoteVerificationCache"/> (a
/// SHA-256 of the quote and a dictionary lookup once the verdict is cached), with and without collateral.
/// Vectors and clock as in the tests (Phala sample at 2025-07-19T10:16:02Z).
/// </summary>
[MemoryDiagnoser]
public class VerificationBenchmarks
{
    private static readonly DateTimeOffset Clock = new(2025, 7, 19, 10, 16, 2, TimeSpan.Zero);
    private byte[] _quote = [];
    private QuoteCollateral _collateral = null!;
    private QuoteVerifier _verifier = null!;
    private QuoteVerificationCache _cache = null!;

    [GlobalSetup]
    public void Setup()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "TestData");
        _quote = File.ReadAllBytes(Path.Combine(dir, "phala-v4-quote.dat"));
        _collateral = QuoteCollateral.Parse(File.ReadAllText(Path.Combine(dir, "phala-v4-quote.collateral.json")));
        _verifier = new QuoteVerifier(new QuoteVerifierOptions { TimeProvider = new FixedClock(Clock) });
        _cache = new QuoteVerificationCache(_verifier);
        if (!_cache.Verify(_quote).IsValid || !_cache.Verify(_quote, _collateral).IsValid)
        {
            throw new InvalidOperationException("the benchmark quote does not verify");
        }
    }

    [Benchmark(Baseline = true)]
    public QuoteVerificationResult Cold_steps_1_to_4() => _verifier.Verify(_quote);

    [Benchmark]
    public QuoteVerificationResult Cached_steps_1_to_4() => _cache.Verify(_quote);

    [Benchmark]
    public QuoteVerificationResult Cold_with_collateral() => _verifier.Verify(_quote, _collateral);

    [Benchmark]
    public QuoteVerificationResult Cached_with_collateral() => _cache.Verify(_quote, _collateral);

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
