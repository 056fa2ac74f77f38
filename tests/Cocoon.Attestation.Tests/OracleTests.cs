using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cocoon.Attestation.Quotes;
using Cocoon.Attestation.Verification;

namespace Cocoon.Attestation.Tests;

/// <summary>
/// Runs the same inputs through @phala/dcap-qvl (tests/attestation-oracle, version pinned in its package.json and
/// package-lock.json, installed here with `npm ci` when node_modules is missing) and compares fields and verdicts.
/// </summary>
public sealed class OracleTests
{
    private static readonly Lazy<string> OracleDirectory = new(LocateAndInstall);

    private sealed record Case(string Name, byte[] Quote, bool WithCollateral, DateTimeOffset Now);

    private static IEnumerable<Case> Cases()
    {
        foreach (var name in new[] { "V4", "V5", "Phala" })
        {
            var v = Vectors.ByName(name);
            var bytes = Vectors.Read(v.File);
            yield return new Case(name, bytes, false, v.Clock);
            yield return new Case(name + "-truncated", bytes[..(v.Length - 1)], false, v.Clock);
            yield return new Case(name + "-expired-clock", bytes, false, new DateTimeOffset(2040, 1, 1, 0, 0, 0, TimeSpan.Zero));
            var q = TdxQuote.Parse(bytes);
            var sigData = q.SignedLength + 4;
            var offsets = new (string Region, int Offset)[]
            {
                ("body", 0x100), ("report-data", q.SignedLength - 1), ("quote-signature", sigData + 5), ("attestation-key", sigData + 70),
                ("qe-report", sigData + 134 + 100), ("qe-report-signature", sigData + 134 + 384 + 3), ("qe-auth-data", sigData + 134 + 448 + 2 + 4),
            };
            foreach (var (region, offset) in offsets)
            {
                var flipped = (byte[])bytes.Clone();
                flipped[offset] ^= 0x10;
                yield return new Case($"{name}-flip-{region}", flipped, false, v.Clock);
            }
        }

        // A simulated quote: dcap-qvl must read the fields our QuoteBuilder wrote, and both must refuse it (ours in
        // production mode, dcap-qvl because its chain does not reach Intel's root).
        var now = new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
        using (var authority = Providers.SimulatedAttestationAuthority.Create(now))
        using (var provider = new Providers.SimulatedQuoteProvider(authority, Providers.SimulatedTdMeasurements.ForImage("oracle")))
        {
            var reportData = Enumerable.Range(0, 64).Select(i => (byte)(255 - i)).ToArray();
            yield return new Case("Simulated", provider.GetQuoteAsync(reportData).AsTask().GetAwaiter().GetResult(), false, now);
        }

        var phala = Vectors.Read(Vectors.Phala.File);
        yield return new Case("Phala-collateral", phala, true, Vectors.PhalaClock);
        yield return new Case("Phala-collateral-after-next-update", phala, true, Vectors.PhalaClock.AddDays(3));
        yield return new Case("Phala-collateral-before-issue", phala, true, Vectors.PhalaClock.AddDays(-40));
        var flippedBody = (byte[])phala.Clone();
        flippedBody[0x200] ^= 1;
        yield return new Case("Phala-collateral-flip-body", flippedBody, true, Vectors.PhalaClock);
    }

    [Fact]
    public void Dcap_qvl_parses_the_same_fields_and_gives_the_same_verdicts()
    {
        var cases = Cases().ToList();
        var work = Directory.CreateTempSubdirectory("cocoon-oracle-");
        try
        {
            var collateralPath = Vectors.PathOf("phala-v4-quote.collateral.json");
            var input = new JsonArray();
            foreach (var c in cases)
            {
                var path = Path.Combine(work.FullName, c.Name + ".dat");
                File.WriteAllBytes(path, c.Quote);
                input.Add(new JsonObject
                {
                    ["name"] = c.Name,
                    ["quote"] = path,
                    ["collateral"] = c.WithCollateral ? collateralPath : null,
                    ["now"] = c.Now.ToUnixTimeSeconds(),
                });
            }

            var casesPath = Path.Combine(work.FullName, "cases.json");
            File.WriteAllText(casesPath, input.ToJsonString());
            var output = Run("node", ["oracle.js", casesPath], OracleDirectory.Value, TimeSpan.FromSeconds(60));
            var results = JsonNode.Parse(output)!.AsArray();
            Assert.Equal(cases.Count, results.Count);
            Assert.NotNull(results.Single(r => (string)r!["name"]! == "Simulated")!["fields"]);

            var collateral = VerificationTests.PhalaCollateral();
            for (var i = 0; i < cases.Count; i++)
            {
                var c = cases[i];
                var oracle = results[i]!;
                Assert.Equal(c.Name, (string)oracle["name"]!);
                var ours = VerificationTests.VerifierAt(c.Now).Verify(c.Quote, c.WithCollateral ? collateral : null);
                var oracleOk = (bool)oracle["verdict"]!["ok"]!;
                Assert.True(oracleOk == ours.IsValid, $"{c.Name}: dcap-qvl ok={oracleOk} ({oracle["verdict"]!.ToJsonString()}), ours {ours.Message}");
                if (oracleOk)
                {
                    var status = (string?)oracle["verdict"]!["status"];
                    Assert.Equal(status, ours.TcbStatus?.ToString());
                }

                if (oracle["fields"] is JsonObject fields && ours.Quote is { } q)
                {
                    AssertFieldsEqual(c.Name, fields, q);
                }
                else
                {
                    Assert.True((oracle["fields"] is null) == (ours.FailedStep == VerificationStep.Parse), c.Name + ": parse verdicts differ");
                }
            }
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static void AssertFieldsEqual(string name, JsonObject f, TdxQuote q)
    {
        static string H(ReadOnlyMemory<byte> b) => Convert.ToHexStringLower(b.Span);
        var td = q.Body;
        var qe = q.SignatureData.QeReportCertificationData;
        var expected = new Dictionary<string, string>
        {
            ["version"] = q.Header.Version.ToString(CultureInfo.InvariantCulture),
            ["attestationKeyType"] = q.Header.AttestationKeyType.ToString(CultureInfo.InvariantCulture),
            ["teeType"] = q.Header.TeeType.ToString(CultureInfo.InvariantCulture),
            ["qeVendorId"] = H(q.Header.QeVendorId),
            ["userData"] = H(q.Header.UserData),
            ["teeTcbSvn"] = H(td.TeeTcbSvn),
            ["mrSeam"] = H(td.MrSeam),
            ["mrSignerSeam"] = H(td.MrSignerSeam),
            ["seamAttributes"] = H(td.SeamAttributes),
            ["tdAttributes"] = H(td.TdAttributes),
            ["xfam"] = H(td.Xfam),
            ["mrtd"] = H(td.MrTd),
            ["mrConfigId"] = H(td.MrConfigId),
            ["mrOwner"] = H(td.MrOwner),
            ["mrOwnerConfig"] = H(td.MrOwnerConfig),
            ["rtmr0"] = H(td.Rtmr0),
            ["rtmr1"] = H(td.Rtmr1),
            ["rtmr2"] = H(td.Rtmr2),
            ["rtmr3"] = H(td.Rtmr3),
            ["reportData"] = H(td.ReportData),
            ["signedLength"] = q.SignedLength.ToString(CultureInfo.InvariantCulture),
            ["quoteSignature"] = H(q.SignatureData.Signature),
            ["attestationKey"] = H(q.SignatureData.AttestationKey),
            ["qeReport"] = H(qe.QeReport.Raw),
            ["qeReportSignature"] = H(qe.QeReportSignature),
            ["qeAuthData"] = H(qe.QeAuthData),
            ["certDataType"] = ((int)qe.CertificationData.Type).ToString(CultureInfo.InvariantCulture),
            ["certDataLength"] = qe.CertificationData.Data.Length.ToString(CultureInfo.InvariantCulture),
        };
        if (td.Version == Quotes.TdReportVersion.Td15)
        {
            expected["teeTcbSvn2"] = H(td.TeeTcbSvn2);
            expected["mrServiceTd"] = H(td.MrServiceTd);
        }

        foreach (var (key, value) in expected)
        {
            var node = f[key];
            var actual = node is null ? null : node.GetValueKind() == JsonValueKind.String ? (string?)node : node.ToJsonString();
            Assert.True(value == actual, $"{name}.{key}: ours {value}, dcap-qvl {actual}");
        }
    }

    private static string LocateAndInstall()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "tests", "attestation-oracle", "package.json")))
        {
            dir = dir.Parent;
        }

        Assert.NotNull(dir);
        var oracle = Path.Combine(dir.FullName, "tests", "attestation-oracle");
        if (!Directory.Exists(Path.Combine(oracle, "node_modules", "@phala", "dcap-qvl")))
        {
            Run("npm", ["ci", "--no-audit", "--no-fund"], oracle, TimeSpan.FromMinutes(3));
        }

        return oracle;
    }

    private static string Run(string file, string[] args, string workingDirectory, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} timed out");
        }

        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {process.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }
}
