using BenchmarkDotNet.Running;

namespace Cocoon.Grains.Benchmarks;

/// <summary>
/// Run (all of issue 8's marketplace figures in one run):
/// <c>dotnet run -c Release --project tests/Cocoon.Grains.Benchmarks -- --job short --inProcess --filter '*'</c>.
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
