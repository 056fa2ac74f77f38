using BenchmarkDotNet.Running;

namespace Cocoon.Attestation.Benchmarks;

/// <summary>Run: <c>dotnet run -c Release --project tests/Cocoon.Attestation.Benchmarks -- --filter '*'</c>.</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
