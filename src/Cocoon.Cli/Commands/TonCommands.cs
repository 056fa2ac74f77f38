using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Cocoon.Ton.Boc;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Wallets;

namespace Cocoon.Cli.Commands;

/// <summary>
/// <c>cocoon ton address</c>, <c>cocoon ton boc inspect</c>, <c>cocoon ton mnemonic new|public-key</c>.
/// Exit codes: 0 success, 1 bad input (one line on stderr, no stack trace).
/// </summary>
public static class TonCommands
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public static Command Create()
    {
        var command = new Command("ton", "TON helpers: wallet addresses, bag-of-cells inspection, mnemonics.");
        command.Subcommands.Add(CreateAddress());
        var boc = new Command("boc", "Bag-of-cells tools.");
        boc.Subcommands.Add(CreateBocInspect());
        command.Subcommands.Add(boc);
        var mnemonic = new Command("mnemonic", "TON mnemonics (24 BIP-39 English words, TON key derivation).");
        mnemonic.Subcommands.Add(CreateMnemonicNew());
        mnemonic.Subcommands.Add(CreateMnemonicPublicKey());
        command.Subcommands.Add(mnemonic);
        return command;
    }

    private static Command CreateAddress()
    {
        var publicKey = new Option<string>("--public-key") { Description = "Ed25519 public key, 64 hex digits.", Required = true };
        var wallet = new Option<string>("--wallet") { Description = "Wallet contract: v4r2 or v5r1.", Required = true };
        wallet.AcceptOnlyFromAmong("v4r2", "v5r1");
        var workchain = new Option<int>("--workchain") { Description = "Workchain id (0 basechain, -1 masterchain).", DefaultValueFactory = _ => 0 };
        var testnet = new Option<bool>("--testnet") { Description = "Testnet: test-only address forms, and the testnet wallet id for v5r1." };
        var json = new Option<bool>("--json") { Description = "Print JSON with keys raw, bounceable, nonBounceable." };
        var command = new Command("address", "Print the address of a wallet contract for a public key.");
        command.Options.Add(publicKey);
        command.Options.Add(wallet);
        command.Options.Add(workchain);
        command.Options.Add(testnet);
        command.Options.Add(json);
        command.SetAction(parse => Run("ton address", parse, output =>
        {
            var key = ParseHex(parse.GetValue(publicKey)!, "--public-key");
            if (key.Length != 32)
            {
                throw new UsageException("--public-key must be 32 bytes (64 hex digits)");
            }

            var wc = parse.GetValue(workchain);
            if (wc is < sbyte.MinValue or > sbyte.MaxValue)
            {
                throw new UsageException("--workchain must be between -128 and 127");
            }

            var isTestnet = parse.GetValue(testnet);
            IWalletContract contract = parse.GetValue(wallet) == "v4r2"
                ? new WalletV4R2(key, wc)
                : new WalletV5R1(key, wc, isTestnet ? WalletV5R1.TestnetGlobalId : WalletV5R1.MainnetGlobalId);
            var fields = new Dictionary<string, object>
            {
                ["raw"] = contract.Address.ToRawString(),
                ["bounceable"] = contract.Address.ToFriendlyString(bounceable: true, testOnly: isTestnet),
                ["nonBounceable"] = contract.Address.ToFriendlyString(bounceable: false, testOnly: isTestnet),
            };
            Write(output, fields, parse.GetValue(json));
        }));
        return command;
    }

    private static Command CreateBocInspect()
    {
        var hex = new Option<string?>("--hex") { Description = "The BoC in hex." };
        var base64 = new Option<string?>("--base64") { Description = "The BoC in base64 (standard or url-safe)." };
        var file = new Option<FileInfo?>("--file") { Description = "A file holding the BoC (binary, or hex/base64 text)." };
        var json = new Option<bool>("--json") { Description = "Print JSON with keys rootHash, cells, depth (and boc)." };
        var reserialize = new Option<bool>("--reserialize") { Description = "Also print the canonical BoC in hex, as @ton/core's toBoc() writes it (no index, CRC32C)." };
        var command = new Command("inspect", "Print a BoC's root hash, number of distinct cells and depth.");
        command.Options.Add(hex);
        command.Options.Add(base64);
        command.Options.Add(file);
        command.Options.Add(json);
        command.Options.Add(reserialize);
        command.SetAction(parse => Run("ton boc inspect", parse, output =>
        {
            var h = parse.GetValue(hex);
            var b = parse.GetValue(base64);
            var f = parse.GetValue(file);
            if ((h is null ? 0 : 1) + (b is null ? 0 : 1) + (f is null ? 0 : 1) != 1)
            {
                throw new UsageException("give exactly one of --hex, --base64, --file");
            }

            var bytes = h is not null ? ParseHex(h, "--hex") : b is not null ? ParseBase64(b, "--base64") : ReadBocFile(f!);
            var roots = BagOfCells.Parse(bytes);
            var root = roots[0];
            var fields = new Dictionary<string, object>
            {
                ["rootHash"] = Convert.ToHexStringLower(root.Hash()),
                ["cells"] = BagOfCells.CountCells(root),
                ["depth"] = root.Depth(),
            };
            if (roots.Count > 1)
            {
                fields["roots"] = roots.Count;
            }

            if (parse.GetValue(reserialize))
            {
                fields["boc"] = Convert.ToHexStringLower(BagOfCells.Serialize(root, BocOptions.Default));
            }

            Write(output, fields, parse.GetValue(json));
        }));
        return command;
    }

    private static Command CreateMnemonicNew()
    {
        var words = new Option<int>("--words") { Description = "Number of words.", DefaultValueFactory = _ => 24 };
        var json = new Option<bool>("--json") { Description = "Print JSON with keys words and publicKey." };
        var command = new Command("new", "Generate a new TON mnemonic and print it with its public key.");
        command.Options.Add(words);
        command.Options.Add(json);
        command.SetAction(parse => Run("ton mnemonic new", parse, output =>
        {
            var count = parse.GetValue(words);
            if (count is < 12 or > 48)
            {
                throw new UsageException("--words must be between 12 and 48");
            }

            var phrase = Mnemonic.Generate(count);
            using var key = Mnemonic.ToKeyPair(phrase);
            if (parse.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["words"] = phrase, ["publicKey"] = Convert.ToHexStringLower(key.PublicKey) }, JsonOptions));
            }
            else
            {
                output.WriteLine(string.Join(' ', phrase));
                output.WriteLine($"publicKey {Convert.ToHexStringLower(key.PublicKey)}");
            }
        }));
        return command;
    }

    private static Command CreateMnemonicPublicKey()
    {
        var words = new Option<string?>("--words") { Description = "The mnemonic words, space separated. Read from stdin when omitted (keeps it out of shell history)." };
        var json = new Option<bool>("--json") { Description = "Print JSON with key publicKey." };
        var command = new Command("public-key", "Validate a TON mnemonic and print its Ed25519 public key.");
        command.Options.Add(words);
        command.Options.Add(json);
        command.SetAction(parse => Run("ton mnemonic public-key", parse, output =>
        {
            var phrase = Mnemonic.Split(parse.GetValue(words) ?? Console.In.ReadToEnd());
            if (phrase.Length == 0)
            {
                throw new UsageException("no mnemonic words given");
            }

            if (!Mnemonic.Validate(phrase))
            {
                throw new UsageException($"not a valid TON mnemonic ({phrase.Length} words; unknown word or failed seed check)");
            }

            using var key = Mnemonic.ToKeyPair(phrase);
            Write(output, new Dictionary<string, object> { ["publicKey"] = Convert.ToHexStringLower(key.PublicKey) }, parse.GetValue(json));
        }));
        return command;
    }

    private static int Run(string name, ParseResult parse, Action<TextWriter> action)
    {
        var output = parse.InvocationConfiguration.Output;
        try
        {
            action(output);
            return 0;
        }
        catch (Exception e)
        {
            // Bad input of any kind is one line on stderr, never a stack trace. BocFormatException is a
            // FormatException and carries its byte offset in the message.
            parse.InvocationConfiguration.Error.WriteLine($"cocoon {name}: {e.Message}");
            return 1;
        }
    }

    private static void Write(TextWriter output, Dictionary<string, object> fields, bool json)
    {
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(fields, JsonOptions));
            return;
        }

        foreach (var (key, value) in fields)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{key,-14} {value}"));
        }
    }

    private static byte[] ParseHex(string text, string option)
    {
        var s = text.Trim();
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            s = s[2..];
        }

        try
        {
            return Convert.FromHexString(s);
        }
        catch (FormatException)
        {
            throw new UsageException($"{option} is not valid hex");
        }
    }

    private static byte[] ParseBase64(string text, string option)
    {
        var s = text.Trim().Replace('-', '+').Replace('_', '/');
        s = s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '=');
        try
        {
            return Convert.FromBase64String(s);
        }
        catch (FormatException)
        {
            throw new UsageException($"{option} is not valid base64");
        }
    }

    private static byte[] ReadBocFile(FileInfo file)
    {
        if (!file.Exists)
        {
            throw new UsageException($"file not found: {file.FullName}");
        }

        var bytes = File.ReadAllBytes(file.FullName);
        if (bytes.Length >= 4 && BagOfCellsMagic(bytes))
        {
            return bytes;
        }

        // Text files: hex first (a hex BoC is also valid base64 text), then base64.
        var text = Encoding.ASCII.GetString(bytes).Trim();
        if (text.Length % 2 == 0 && text.All(Uri.IsHexDigit))
        {
            return Convert.FromHexString(text);
        }

        return ParseBase64(text, "--file");
    }

    private static bool BagOfCellsMagic(byte[] b)
    {
        var magic = ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
        return magic is BagOfCells.Magic or BagOfCells.MagicIndexed or BagOfCells.MagicIndexedCrc32C;
    }

    private sealed class UsageException(string message) : Exception(message);
}
