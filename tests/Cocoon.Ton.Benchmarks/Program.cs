using BenchmarkDotNet.Running;

// dotnet run -c Release --project tests/Cocoon.Ton.Benchmarks -- --job short --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Cocoon.Ton.Benchmarks.TonBenchmarks).Assembly).Run(args);
