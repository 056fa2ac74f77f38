using System.CommandLine;
using System.Text.Json;
using Cocoon.Abstractions.Receipts;
using Cocoon.Client;

namespace Cocoon.Cli.Commands;

/// <summary>
/// <c>cocoon receipts verify RECEIPT_FILE|- --gateway URL [--response FILE] [--devnet] [--json]</c>: checks a worker's
/// signed receipt (the <c>Cocoon-Receipt</c> header value, or the <c>cocoon_receipt</c> object, or a whole response
/// body that has one): its signature, the response it covers (with <c>--response</c>: the saved OpenAI answer, or the
/// generated text of a stream), and that the key is the one the worker's attested claims carry. Exit codes: 0 valid,
/// 1 a check failed (named on stderr or in the JSON), 2 usage error (unreadable file, not a receipt).
/// </summary>
public static class ReceiptsCommands
{
    public static Command Create()
    {
        var command = new Command("receipts", "Worker-signed receipts of inference requests.");
        command.Subcommands.Add(CreateVerify());
        return command;
    }

    private static Command CreateVerify()
    {
        var file = new Argument<string>("RECEIPT") { Description = "A file with the receipt (header value, cocoon_receipt object or the whole response body), or - for stdin." };
        var gateway = new Option<string>("--gateway") { Description = "The gateway to fetch the worker's attestation from (its base URL).", Required = true };
        var response = new Option<FileInfo?>("--response") { Description = "The response to check the receipt covers: the saved OpenAI JSON answer, or a text file with a stream's generated text." };
        var devnet = new Option<bool>("--devnet") { Description = "Accept simulated quotes (a devnet you run yourself; they prove nothing)." };
        var json = new Option<bool>("--json") { Description = "Print the verdict as JSON." };
        var command = new Command("verify", "Check a receipt: signature, response hash, and the worker's attested key. Exit 0 only if every check passes.");
        command.Arguments.Add(file);
        command.Options.Add(gateway);
        command.Options.Add(response);
        command.Options.Add(devnet);
        command.Options.Add(json);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var gatewayText = parse.GetValue(gateway)!;
            if (!Uri.TryCreate(gatewayText, UriKind.Absolute, out var gatewayUrl) || (gatewayUrl.Scheme != Uri.UriSchemeHttp && gatewayUrl.Scheme != Uri.UriSchemeHttps))
            {
                Console.Error.WriteLine($"cocoon receipts verify: '{gatewayText}' is not an http(s) URL.");
                return 2;
            }

            InferenceReceipt receipt;
            string? responseHash = null;
            try
            {
                var path = parse.GetValue(file)!;
                var text = path == "-" ? await Console.In.ReadToEndAsync(cancellationToken) : await File.ReadAllTextAsync(path, cancellationToken);
                receipt = ReadReceipt(text);
                if (parse.GetValue(response) is { } responseFile)
                {
                    responseHash = HashResponse(await File.ReadAllTextAsync(responseFile.FullName, cancellationToken));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or JsonException)
            {
                Console.Error.WriteLine($"cocoon receipts verify: {e.Message}");
                return 2;
            }

            var result = await ReceiptVerifier.VerifyAsync(gatewayUrl, receipt, new GatewayAttestationOptions { Devnet = parse.GetValue(devnet) }, responseHash, cancellationToken: cancellationToken);
            if (parse.GetValue(json))
            {
                using var stdout = Console.OpenStandardOutput();
                using var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true });
                writer.WriteStartObject();
                writer.WriteBoolean("valid", result.IsValid);
                writer.WriteString("check", result.FailedCheck?.ToString());
                writer.WriteString("message", result.Message);
                writer.WriteBoolean("responseChecked", result.ResponseChecked);
                writer.WriteBoolean("simulated", result.Attestation?.IsSimulated ?? false);
                writer.WritePropertyName("receipt");
                receipt.ToJson(writer);
                writer.WriteEndObject();
                writer.Flush();
                await stdout.WriteAsync("\n"u8.ToArray(), cancellationToken);
            }
            else if (result.IsValid)
            {
                Console.WriteLine($"OK: {result.Message}");
                Console.WriteLine($"  worker     {receipt.WorkerId} ({receipt.Model}, model hash {receipt.ModelHash})");
                Console.WriteLine($"  usage      {receipt.PromptTokens} prompt + {receipt.CompletionTokens} completion tokens, {receipt.AdjustedTokens} adjusted");
                Console.WriteLine($"  price      coefficient {receipt.Coefficient}, {receipt.PricePerToken} nanoTON/token, cost {receipt.CostNanoTon} nanoTON");
                Console.WriteLine($"  request    {receipt.RequestHash}");
                Console.WriteLine($"  response   {receipt.ResponseHash}");
            }
            else
            {
                Console.Error.WriteLine($"FAILED at {result.FailedCheck}: {result.Message}");
            }

            return result.IsValid ? 0 : 1;
        });
        return command;
    }

    /// <summary>A receipt from a header value, a <c>cocoon_receipt</c> object or a response body that has one.</summary>
    internal static InferenceReceipt ReadReceipt(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.StartsWith('{'))
        {
            using var document = JsonDocument.Parse(trimmed);
            return document.RootElement.TryGetProperty("cocoon_receipt", out var inner)
                ? InferenceReceipt.FromJson(inner)
                : InferenceReceipt.FromJson(document.RootElement);
        }

        return InferenceReceipt.Parse(trimmed);
    }

    /// <summary>The response hash of a saved OpenAI answer, or of a stream's generated text.</summary>
    private static string HashResponse(string text)
    {
        if (text.TrimStart().StartsWith('{'))
        {
            try
            {
                using var document = JsonDocument.Parse(text);
                return ReceiptVerifier.ResponseHashOf(document.RootElement);
            }
            catch (JsonException)
            {
                // Not JSON after all: a generated text that starts with a brace.
            }
        }

        return ReceiptHashes.GenerationResponse(text);
    }
}
