using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Cocoon.Attestation.Collateral;
using Cocoon.Attestation.Policy;
using Cocoon.Attestation.Quotes;
using Cocoon.Attestation.Verification;

namespace Cocoon.Cli.Commands;

/// <summary>
/// <c>cocoon attest inspect QUOTE_FILE [--json]</c> and
/// <c>cocoon attest verify QUOTE_FILE [--collateral FILE] [--at ISO-8601] [--min-tcb STATUS] [--json]</c> and
/// <c>cocoon attest fetch GATEWAY_URL [--devnet] [--json]</c> and
/// <c>cocoon attest image-hash MEASUREMENTS [--json]</c>.
/// Exit codes: 0 success, 1 the quote does not parse or verify (or its TCB status is not acceptable, or the gateway's
/// attestation does not check out), 2 usage error.
/// </summary>
public static class AttestCommands
{
    public static Command Create()
    {
        var command = new Command("attest", "Inspect and verify Intel TDX DCAP quotes (v4/v5).");
        command.Subcommands.Add(CreateInspect());
        command.Subcommands.Add(CreateVerify());
        command.Subcommands.Add(CreateFetch());
        command.Subcommands.Add(CreateImageHash());
        return command;
    }

    private static Command CreateImageHash()
    {
        var path = new Argument<string>("MEASUREMENTS")
        {
            Description = "A folder (files mrtd, rtmr0..rtmr3, optional mrconfigid/mrowner/mrownerconfig, hex; or rtmrN.events " +
                          "with one event digest per line; or rtmrN.d/ with payload files measured in name order), or a JSON " +
                          "file with those keys (e.g. the output of 'cocoon attest inspect --json'), or a raw quote.",
        };
        var json = new Option<bool>("--json") { Description = "Print JSON (lower-case hex)." };
        var command = new Command("image-hash", "Print the image hash (DESIGN 7: SHA-256 over MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0-3) of an image's measurements, to put on the root contract's allow-list.");
        command.Arguments.Add(path);
        command.Options.Add(json);
        command.SetAction(parse =>
        {
            var source = parse.GetValue(path)!;
            ImageMeasurements measurements;
            try
            {
                if (Directory.Exists(source))
                {
                    measurements = ImageMeasurements.FromFolder(source);
                }
                else if (!File.Exists(source))
                {
                    Console.Error.WriteLine($"cocoon attest image-hash: {source} is neither a folder nor a file.");
                    return 2;
                }
                else
                {
                    var bytes = File.ReadAllBytes(source);
                    measurements = TdxQuote.TryParse(bytes, out var quote, out _)
                        ? ImageMeasurements.From(quote!.Body)
                        : ImageMeasurements.FromJson(System.Text.Encoding.UTF8.GetString(bytes));
                }
            }
            catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"cocoon attest image-hash: {e.Message}");
                return 1;
            }

            List<(string Key, object? Value)> fields =
            [
                ("mrtd", Convert.ToHexStringLower(measurements.MrTd)),
                ("mrConfigId", Convert.ToHexStringLower(measurements.MrConfigId)),
                ("mrOwner", Convert.ToHexStringLower(measurements.MrOwner)),
                ("mrOwnerConfig", Convert.ToHexStringLower(measurements.MrOwnerConfig)),
                ("rtmr0", Convert.ToHexStringLower(measurements.Rtmr0)),
                ("rtmr1", Convert.ToHexStringLower(measurements.Rtmr1)),
                ("rtmr2", Convert.ToHexStringLower(measurements.Rtmr2)),
                ("rtmr3", Convert.ToHexStringLower(measurements.Rtmr3)),
                ("imageHash", Convert.ToHexStringLower(measurements.ImageHash)),
            ];
            if (parse.GetValue(json))
            {
                WriteJson(fields);
            }
            else
            {
                foreach (var (key, value) in fields)
                {
                    Console.WriteLine($"{key,-14} {value}");
                }
            }

            return 0;
        });
        return command;
    }

    private static Command CreateFetch()
    {
        var url = new Argument<string>("GATEWAY_URL") { Description = "The gateway's base URL, e.g. https://gateway.example:8443." };
        var devnet = new Option<bool>("--devnet") { Description = "Accept simulated quotes (a devnet you run yourself; they prove nothing)." };
        var json = new Option<bool>("--json") { Description = "Print the verdict as JSON." };
        var command = new Command("fetch", "Fetch a gateway's /v1/attestation and check it: RA-TLS certificate, REPORTDATA binding, quote, and over https the TLS certificate. Exit 0 only if it verifies.");
        command.Arguments.Add(url);
        command.Options.Add(devnet);
        command.Options.Add(json);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var text = parse.GetValue(url)!;
            if (!Uri.TryCreate(text, UriKind.Absolute, out var gateway) || (gateway.Scheme != Uri.UriSchemeHttp && gateway.Scheme != Uri.UriSchemeHttps))
            {
                Console.Error.WriteLine($"cocoon attest fetch: '{text}' is not an http(s) URL.");
                return 2;
            }

            var result = await Cocoon.Client.GatewayAttestation.FetchAsync(
                gateway, new Cocoon.Client.GatewayAttestationOptions { Devnet = parse.GetValue(devnet) }, cancellationToken);
            if (parse.GetValue(json))
            {
                var fields = new List<(string, object?)>
                {
                    ("valid", result.IsValid),
                    ("step", result.FailedStep?.ToString()),
                    ("verificationStep", result.VerificationStep?.ToString()),
                    ("message", result.Message),
                    ("mode", result.Document?.Mode),
                    ("simulated", result.IsValid ? result.IsSimulated : result.Document?.Simulated),
                    ("imageHash", result.ImageHash),
                    ("tlsCertificateAttested", result.PresentedCertificateMatches),
                };
                foreach (var (key, value) in result.Claims?.Values ?? new Dictionary<string, string>())
                {
                    fields.Add(("claims." + key, value));
                }

                WriteJson(fields);
            }
            else if (result.IsValid)
            {
                Console.WriteLine($"OK: {result.Message}");
                foreach (var (key, value) in result.Claims!.Values)
                {
                    Console.WriteLine($"  {key,-10} {value}");
                }
            }
            else
            {
                Console.Error.WriteLine($"FAILED at {result.FailedStep}{(result.VerificationStep is { } step ? "/" + step : "")}: {result.Message}");
            }

            return result.IsValid ? 0 : 1;
        });
        return command;
    }

    private static Command CreateInspect()
    {
        var file = new Argument<FileInfo>("QUOTE_FILE") { Description = "A raw DCAP quote (binary)." };
        var json = new Option<bool>("--json") { Description = "Print JSON (lower-case hex) instead of text." };
        var command = new Command("inspect", "Print a quote's header, TD report measurements, image hash and FMSPC.");
        command.Arguments.Add(file);
        command.Options.Add(json);
        command.SetAction(parse =>
        {
            if (!TryRead(parse.GetValue(file)!, out var bytes))
            {
                return 2;
            }

            if (!TdxQuote.TryParse(bytes, out var quote, out var error))
            {
                Console.Error.WriteLine($"cocoon attest inspect: not a TDX quote: {error!.Message}");
                return 1;
            }

            var fields = Describe(quote!);
            if (parse.GetValue(json))
            {
                WriteJson(fields);
            }
            else
            {
                foreach (var (key, value) in fields)
                {
                    Console.WriteLine($"{key,-20} {Format(value)}");
                }
            }

            return 0;
        });
        return command;
    }

    private static Command CreateVerify()
    {
        var file = new Argument<FileInfo>("QUOTE_FILE") { Description = "A raw DCAP quote (binary)." };
        var collateral = new Option<FileInfo?>("--collateral") { Description = "Collateral JSON (QuoteCollateralV3 shape: tcb_info, qe_identity, CRLs, issuer chains)." };
        var at = new Option<string?>("--at") { Description = "Verify at this instant (ISO-8601, e.g. 2025-07-19T10:16:02Z) instead of now." };
        var minTcb = new Option<string>("--min-tcb")
        {
            Description = "With collateral, the worst TCB status accepted.",
            DefaultValueFactory = _ => nameof(TcbStatus.SWHardeningNeeded),
        };
        minTcb.AcceptOnlyFromAmong(Enum.GetNames<TcbStatus>());
        var json = new Option<bool>("--json") { Description = "Print the verdict as JSON." };
        var command = new Command("verify", "Verify a quote to the Intel SGX Root CA; with collateral, also its TCB status. Exit 0 only if it verifies.");
        command.Arguments.Add(file);
        command.Options.Add(collateral);
        command.Options.Add(at);
        command.Options.Add(minTcb);
        command.Options.Add(json);
        command.SetAction(parse =>
        {
            if (!TryRead(parse.GetValue(file)!, out var bytes))
            {
                return 2;
            }

            var clock = TimeProvider.System;
            if (parse.GetValue(at) is { } atText)
            {
                if (!DateTimeOffset.TryParse(atText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant))
                {
                    Console.Error.WriteLine($"cocoon attest verify: --at '{atText}' is not an ISO-8601 instant.");
                    return 2;
                }

                clock = new FixedTimeProvider(instant);
            }

            QuoteCollateral? parsedCollateral = null;
            if (parse.GetValue(collateral) is { } collateralFile)
            {
                try
                {
                    parsedCollateral = QuoteCollateral.Parse(File.ReadAllText(collateralFile.FullName));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
                {
                    Console.Error.WriteLine($"cocoon attest verify: collateral {collateralFile.FullName}: {e.Message}");
                    return 2;
                }
            }

            var verifier = new QuoteVerifier(new QuoteVerifierOptions { TimeProvider = clock, Mode = AttestationMode.Production });
            var result = verifier.Verify(bytes, parsedCollateral);
            if (parsedCollateral is not null)
            {
                var minimum = Enum.Parse<TcbStatus>(parse.GetValue(minTcb)!);
                result = new AttestationPolicy { MinimumTcbStatus = minimum, AllowDebug = true }.Apply(result);
            }

            if (parse.GetValue(json))
            {
                var fields = new List<(string, object?)>
                {
                    ("valid", result.IsValid),
                    ("step", result.FailedStep?.ToString()),
                    ("message", result.Message),
                    ("verifiedAt", result.VerifiedAt.ToString("O", CultureInfo.InvariantCulture)),
                    ("tcbStatus", result.TcbStatus?.ToString()),
                    ("advisoryIds", result.AdvisoryIds),
                    ("collateralExpired", result.CollateralExpired),
                };
                if (result.Quote is { } quote)
                {
                    fields.Add(("mrtd", Hex(quote.Body.MrTd)));
                    fields.Add(("imageHash", Convert.ToHexStringLower(ImageHash.Compute(quote.Body))));
                    fields.Add(("fmspc", result.Fmspc is null ? null : Convert.ToHexStringLower(result.Fmspc)));
                    fields.Add(("simulated", quote.IsSimulated));
                }

                WriteJson(fields);
            }
            else if (result.IsValid)
            {
                Console.WriteLine($"OK: {result.Message}");
                if (result.AdvisoryIds.Count > 0)
                {
                    Console.WriteLine("advisories: " + string.Join(", ", result.AdvisoryIds));
                }
            }
            else
            {
                Console.Error.WriteLine($"FAILED: {result.Message}");
            }

            return result.IsValid ? 0 : 1;
        });
        return command;
    }

    private static List<(string Key, object? Value)> Describe(TdxQuote quote)
    {
        var body = quote.Body;
        return
        [
            ("version", quote.Header.Version),
            ("attestationKeyType", quote.Header.AttestationKeyType),
            ("teeType", quote.Header.TeeType),
            ("bodyType", (int)body.Version),
            ("simulated", quote.IsSimulated),
            ("qeVendorId", Hex(quote.Header.QeVendorId)),
            ("teeTcbSvn", Hex(body.TeeTcbSvn)),
            ("mrSeam", Hex(body.MrSeam)),
            ("tdAttributes", Hex(body.TdAttributes)),
            ("debug", body.IsDebug),
            ("xfam", Hex(body.Xfam)),
            ("mrtd", Hex(body.MrTd)),
            ("mrConfigId", Hex(body.MrConfigId)),
            ("mrOwner", Hex(body.MrOwner)),
            ("mrOwnerConfig", Hex(body.MrOwnerConfig)),
            ("rtmr0", Hex(body.Rtmr0)),
            ("rtmr1", Hex(body.Rtmr1)),
            ("rtmr2", Hex(body.Rtmr2)),
            ("rtmr3", Hex(body.Rtmr3)),
            ("reportData", Hex(body.ReportData)),
            ("imageHash", Convert.ToHexStringLower(ImageHash.Compute(body))),
            ("fmspc", Fmspc(quote)),
        ];
    }

    private static string? Fmspc(TdxQuote quote)
    {
        var pem = quote.SignatureData.QeReportCertificationData.CertificationData.PckCertificateChainPem;
        if (pem is null)
        {
            return null;
        }

        try
        {
            var certs = new X509Certificate2Collection();
            certs.ImportFromPem(pem);
            try
            {
                return certs.Count == 0 ? null : Convert.ToHexStringLower(PckCertificateExtensions.Read(certs[0]).Fmspc);
            }
            finally
            {
                foreach (var cert in certs)
                {
                    cert.Dispose();
                }
            }
        }
        catch (CryptographicException)
        {
            return null; // simulated quotes and broken chains have no FMSPC
        }
    }

    private static bool TryRead(FileInfo file, out byte[] bytes)
    {
        try
        {
            bytes = File.ReadAllBytes(file.FullName);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"cocoon attest: cannot read {file.FullName}: {e.Message}");
            bytes = [];
            return false;
        }
    }

    private static string Hex(ReadOnlyMemory<byte> bytes) => Convert.ToHexStringLower(bytes.Span);

    private static string Format(object? value) => value switch
    {
        null => "-",
        bool b => b ? "yes" : "no",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "-",
    };

    private static void WriteJson(IEnumerable<(string Key, object? Value)> fields)
    {
        using var stdout = Console.OpenStandardOutput();
        using (var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in fields)
            {
                writer.WritePropertyName(key);
                switch (value)
                {
                    case null:
                        writer.WriteNullValue();
                        break;
                    case bool b:
                        writer.WriteBooleanValue(b);
                        break;
                    case string s:
                        writer.WriteStringValue(s);
                        break;
                    case IReadOnlyList<string> list:
                        writer.WriteStartArray();
                        foreach (var item in list)
                        {
                            writer.WriteStringValue(item);
                        }

                        writer.WriteEndArray();
                        break;
                    default:
                        writer.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                        break;
                }
            }

            writer.WriteEndObject();
        }

        stdout.Write("\n"u8);
    }

    private sealed class FixedTimeProvider(DateTimeOffset instant) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => instant;
    }
}
