using System.CommandLine;
using System.Text.Json.Nodes;
using Cocoon.Cli.Commands;
using Cocoon.Ton.Boc;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Tests.Oracle;

namespace Cocoon.Ton.Tests;

/// <summary>`cocoon ton …` as an operator runs it: output, JSON keys, exit codes, one-line errors.</summary>
public class TonCommandsTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var root = new RootCommand("test") { TonCommands.Create() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    private const string VectorPublicKey = "f6c450a16bb1c514e22f1977e390a3025599aa1e7b00068a6aacf2119484c1bd";

    [Fact]
    public void Address_prints_raw_bounceable_and_non_bounceable_forms()
    {
        var (code, output, error) = Run("ton", "address", "--public-key", VectorPublicKey, "--wallet", "v4r2", "--json");
        Assert.Equal(0, code);
        Assert.Empty(error);
        var json = JsonNode.Parse(output)!;
        Assert.Equal("0:1867eadc85b6872b8214902bdcca5dd5f2ca5c0273bc20144236f4b76ab7be09", json["raw"]!.GetValue<string>());
        Assert.Equal("EQAYZ-rchbaHK4IUkCvcyl3V8spcAnO8IBRCNvS3are-CeFV", json["bounceable"]!.GetValue<string>());
        Assert.Equal("UQAYZ-rchbaHK4IUkCvcyl3V8spcAnO8IBRCNvS3are-CbyQ", json["nonBounceable"]!.GetValue<string>());

        (code, output, _) = Run("ton", "address", "--public-key", VectorPublicKey, "--wallet", "v5r1", "--json", "--testnet");
        Assert.Equal(0, code);
        json = JsonNode.Parse(output)!;
        Assert.StartsWith("kQ", json["bounceable"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith("0Q", json["nonBounceable"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public void Boc_inspect_reserializes_exactly_as_ton_core_toBoc()
    {
        var trees = TonOracle.CallOne(new { op = "randomTrees", seed = 4040, count = 25, depth = 3 })!.AsArray();
        foreach (var tree in trees)
        {
            // Feed the indexed, CRC-less form; expect @ton/core's default toBoc() bytes back.
            var (code, output, error) = Run("ton", "boc", "inspect", "--hex", tree!["bocIdx"]!.GetValue<string>(), "--json", "--reserialize");
            Assert.True(code == 0, error);
            var json = JsonNode.Parse(output)!;
            Assert.Equal(tree["hash"]!.GetValue<string>(), json["rootHash"]!.GetValue<string>());
            Assert.Equal(tree["depth"]!.GetValue<int>(), json["depth"]!.GetValue<int>());
            Assert.Equal(tree["boc"]!.GetValue<string>(), json["boc"]!.GetValue<string>());
            Assert.Equal(BagOfCells.CountCells(BagOfCells.ParseHex(tree["boc"]!.GetValue<string>())), json["cells"]!.GetValue<int>());
        }

        var base64 = Convert.ToBase64String(Convert.FromHexString("b5ee9c7201010301000e000201c002010101ff0200060aaaaa"));
        var (c, text, _) = Run("ton", "boc", "inspect", "--base64", base64);
        Assert.Equal(0, c);
        Assert.Contains("593ca12b3559c76ad372841357a6728da8984d69c289869e7dd5cfbd4ace449a", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ton", "boc", "inspect", "--hex", "b5ee9c7201010301000e000201c002010101ff0200060aaa")]
    [InlineData("ton", "boc", "inspect", "--hex", "xyz")]
    [InlineData("ton", "boc", "inspect", "--base64", "te6cck!!")]
    [InlineData("ton", "boc", "inspect", "--file", "/nonexistent/file.boc")]
    [InlineData("ton", "boc", "inspect")]
    [InlineData("ton", "address", "--public-key", "abcd", "--wallet", "v4r2")]
    [InlineData("ton", "address", "--public-key", VectorPublicKey, "--wallet", "v4r2", "--workchain", "300")]
    [InlineData("ton", "mnemonic", "public-key", "--words", "hospital stove relief")]
    public void Bad_input_is_one_line_on_stderr_and_a_non_zero_exit(params string[] args)
    {
        var (code, output, error) = Run(args);
        Assert.NotEqual(0, code);
        Assert.Empty(output);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("cocoon ton ", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Mnemonic_new_and_public_key_agree()
    {
        var (code, output, _) = Run("ton", "mnemonic", "new", "--json");
        Assert.Equal(0, code);
        var json = JsonNode.Parse(output)!;
        var words = json["words"]!.AsArray().Select(w => w!.GetValue<string>()).ToArray();
        Assert.Equal(24, words.Length);
        Assert.True(Mnemonic.Validate(words));
        var (code2, output2, _) = Run("ton", "mnemonic", "public-key", "--words", string.Join(' ', words), "--json");
        Assert.Equal(0, code2);
        Assert.Equal(json["publicKey"]!.GetValue<string>(), JsonNode.Parse(output2)!["publicKey"]!.GetValue<string>());
    }
}
