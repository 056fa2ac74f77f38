using System.Diagnostics;
using System.Text.Json;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.Providers;
using Cocoon.Testing;

namespace Cocoon.Cli.Tests;

/// <summary>
/// <c>cocoon attest image-hash</c> and infra/tdx/image-hash.sh (the part of the image recipe that runs without TDX):
/// the image hash of a measurements folder, of a quote, and a refusal naming what is missing.
/// </summary>
public sealed class AttestImageHashTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("cocoon-image-hash-").FullName;
    private readonly SimulatedTdMeasurements _m = SimulatedTdMeasurements.ForImage("cocoon-recipe");

    public AttestImageHashTests()
    {
        File.WriteAllText(Path.Combine(_folder, "mrtd"), Convert.ToHexStringLower(_m.MrTd));
        File.WriteAllText(Path.Combine(_folder, "rtmr0"), Convert.ToHexStringLower(_m.Rtmr0));
        File.WriteAllText(Path.Combine(_folder, "rtmr1"), Convert.ToHexStringLower(_m.Rtmr1));
        File.WriteAllText(Path.Combine(_folder, "rtmr2"), Convert.ToHexStringLower(_m.Rtmr2));
    }

    private string Expected => Convert.ToHexStringLower(ImageHash.Compute(_m.MrTd, _m.MrConfigId, _m.MrOwner, _m.MrOwnerConfig, _m.Rtmr0, _m.Rtmr1, _m.Rtmr2, _m.Rtmr3));

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task The_cli_prints_the_image_hash_of_a_folder_and_of_a_quote()
    {
        await using (var folder = NodeProcess.Start("cocoon", ["attest", "image-hash", _folder, "--json"]))
        {
            Assert.Equal(0, await folder.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            using var json = JsonDocument.Parse(folder.StandardOutput);
            Assert.Equal(Expected, json.RootElement.GetProperty("imageHash").GetString());
            Assert.Equal(Convert.ToHexStringLower(_m.Rtmr2), json.RootElement.GetProperty("rtmr2").GetString());
        }

        using var authority = SimulatedAttestationAuthority.Create(DateTimeOffset.UtcNow);
        using var provider = new SimulatedQuoteProvider(authority, _m);
        var quoteFile = Path.Combine(_folder, "quote.bin");
        await File.WriteAllBytesAsync(quoteFile, await provider.GetQuoteAsync(new byte[64], TestContext.Current.CancellationToken), TestContext.Current.CancellationToken);
        await using var quote = NodeProcess.Start("cocoon", ["attest", "image-hash", quoteFile]);
        Assert.Equal(0, await quote.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("imageHash      " + Expected, quote.StandardOutput, StringComparison.Ordinal);

        File.Delete(Path.Combine(_folder, "rtmr1"));
        File.Delete(quoteFile);
        await using var missing = NodeProcess.Start("cocoon", ["attest", "image-hash", _folder]);
        Assert.Equal(1, await missing.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("lack rtmr1", missing.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_recipes_image_hash_script_prints_what_the_cli_computes()
    {
        var script = Path.Combine(RepositoryRoot(), "infra", "tdx", "image-hash.sh");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(_folder);
        start.ArgumentList.Add("--json");
        start.Environment["COCOON"] = "dotnet " + Path.Combine(AppContext.BaseDirectory, "cocoon.dll");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.True(process.ExitCode == 0, await stderr);
        using var json = JsonDocument.Parse(await stdout);
        Assert.Equal(Expected, json.RootElement.GetProperty("imageHash").GetString());
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "infra", "tdx", "image-hash.sh")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("infra/tdx/image-hash.sh not found above " + AppContext.BaseDirectory);
    }
}
