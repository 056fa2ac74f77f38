using Cocoon.Ton.Addresses;
using Cocoon.Ton.Boc;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Wallets;

namespace Cocoon.Ton.Tests;

/// <summary>Published vectors, as collected in shared/reference/ton-and-tdx.md.</summary>
public class VectorTests
{
    [Fact]
    public void Crc32C_of_123456789_is_E3069283()
    {
        Assert.Equal(0xE3069283u, Crc.Crc32C("123456789"u8));
        Assert.Equal(0u, Crc.Crc32C([]));
    }

    [Fact]
    public void Crc16Xmodem_of_123456789_is_31C3()
    {
        Assert.Equal((ushort)0x31C3, Crc.Crc16Xmodem("123456789"u8));
    }

    [Fact]
    public void Docs_ton_org_boc_example_hashes_and_reserializes()
    {
        var root = BagOfCells.ParseHex("b5ee9c7201010301000e000201c002010101ff0200060aaaaa");
        Assert.Equal("593ca12b3559c76ad372841357a6728da8984d69c289869e7dd5cfbd4ace449a", Convert.ToHexStringLower(root.Hash()));
        Assert.Equal(2, root.Depth());
        Assert.Equal(3, BagOfCells.CountCells(root));
        Assert.Equal("b5ee9c7241010301000e000201c002010101ff0200060aaaaa50d7f591", Convert.ToHexStringLower(BagOfCells.Serialize(root)));
        Assert.Equal("b5ee9c7201010301000e000201c002010101ff0200060aaaaa", Convert.ToHexStringLower(BagOfCells.Serialize(root, new BocOptions(false, false))));
    }

    [Fact]
    public void Wallet_code_constants_have_the_published_hashes()
    {
        Assert.Equal("feb5ff6820e2ff0d9483e7e0d62c817d846789fb4ae580c878866d959dabd5c0", Convert.ToHexStringLower(WalletCode.V4R2.Hash()));
        Assert.Equal("20834b7b72b112147e1b2fb457b84e74d1a30f04f737d4f62a668e9552d2b72f", Convert.ToHexStringLower(WalletCode.V5R1.Hash()));
        Assert.Equal(20, BagOfCells.CountCells(WalletCode.V4R2));
    }

    [Fact]
    public void Wallet_v1r1_code_from_ton_core_spec_hashes()
    {
        // ton-core src/boc/cell/serialization.spec.ts, wallet v1r1.
        var root = BagOfCells.ParseHex("B5EE9C72410101010044000084FF0020DDA4F260810200D71820D70B1FED44D0D31FD3FFD15112BAF2A122F901541044F910F2A2F80001D31F3120D74A96D307D402FB00DED1A4C8CB1FCBFFC9ED5441FDF089");
        Assert.Equal("a0cfc2c48aee16a271f2cfc0b7382d81756cecb1017d077faaab3bb602f6868c", Convert.ToHexStringLower(root.Hash()));
    }

    [Fact]
    public void Address_forms_match_ton_core_Address_spec()
    {
        var a = TonAddress.Parse("0:2cf55953e92efbeadab7ba725c3f93a0b23f842cbba72d7b8e6f510a70e422e3");
        Assert.Equal("EQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4wJB", a.ToFriendlyString(bounceable: true));
        Assert.Equal("UQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi41-E", a.ToFriendlyString(bounceable: false));
        Assert.Equal("kQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi47nL", a.ToFriendlyString(bounceable: true, testOnly: true));
        Assert.Equal("0QAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4-QO", a.ToFriendlyString(bounceable: false, testOnly: true));
        Assert.True(TonAddress.TryParseFriendly("0QAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4-QO", out var f, out _));
        Assert.False(f.IsBounceable);
        Assert.True(f.IsTestOnly);
        Assert.Equal(a, f.Address);
        Assert.Equal(a, TonAddress.Parse("EQAs9VlT6S776tq3unJcP5Ogsj+ELLunLXuOb1EKcOQi4wJB"));
    }

    [Fact]
    public void Address_with_bad_crc_is_refused()
    {
        Assert.False(TonAddress.TryParse("EQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4wJC", out _, out var error));
        Assert.Contains("CRC16", error, StringComparison.Ordinal);
        Assert.False(TonAddress.TryParse("EQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4wJ", out _, out _));
        Assert.False(TonAddress.TryParse("0:2cf5", out _, out _));
        Assert.Throws<FormatException>(() => TonAddress.Parse("zz:2cf55953e92efbeadab7ba725c3f93a0b23f842cbba72d7b8e6f510a70e422e3"));
    }

    [Fact]
    public void Contract_address_of_uint8_code_and_data_matches_ton_core_spec()
    {
        var code = new CellBuilder().StoreUInt(1, 8).EndCell();
        var data = new CellBuilder().StoreUInt(2, 8).EndCell();
        var address = TonAddress.FromStateInit(0, new StateInit(code, data));
        Assert.Equal("EQCSY_vTjwGrlvTvkfwhinJ60T2oiwgGn3U7Tpw24kupIhHz", address.ToFriendlyString());
    }

    [Fact]
    public void Text_comment_round_trips_across_cells()
    {
        var text = string.Concat(Enumerable.Repeat("héllo wörld ", 40));
        var body = InternalMessage.TextComment(text);
        Assert.True(body.Refs.Count == 1);
        Assert.Equal(text, InternalMessage.ReadTextComment(body));
        Assert.Equal(123, (body.BitLength - 32) / 8); // 1023 bits: 32-bit op, then 123 whole bytes
    }
}
