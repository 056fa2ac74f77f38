using System.Globalization;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Boc;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Settlement;
using Cocoon.Ton.Tests.Oracle;

namespace Cocoon.Ton.Tests;

public class SettlementTests
{
    private static readonly TonAddress Worker = new(0, Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
    private static readonly TonAddress Excesses = new(0, Enumerable.Repeat((byte)0xEE, 32).ToArray());

    private static Ed25519SettlementSigner NewSigner(byte fill = 7) => new(Ed25519KeyPair.FromSeed(Enumerable.Repeat(fill, 32).ToArray()));

    [Fact]
    public void Payload_layout_is_op_qid_tokens_address()
    {
        var payload = new SettlementPayload(SettlementOp.WorkerPayout, 0x0102030405060708, 1000, Worker);
        var cell = payload.ToCell();
        Assert.Equal(32 + 64 + 64 + 267, cell.BitLength);
        Assert.Equal("a040ad280102030405060708", Convert.ToHexStringLower(cell.Data[..12]));
        Assert.Equal(payload, SettlementPayload.Parse(cell));
    }

    [Fact]
    public async Task Signed_payload_verifies_and_survives_rewrapping()
    {
        using var signer = NewSigner();
        var signed = await signer.SignAsync(new SettlementPayload(SettlementOp.ClientCharge, 42, 123_456, Worker), Excesses, TestContext.Current.CancellationToken);
        var wrapper = signed.ToCell();
        Assert.Equal(SettlementCheck.Valid, SettlementVerifier.Verify(wrapper, signer.PublicKey.Span, Worker, SettlementOp.ClientCharge));
        Assert.Equal(signed.Payload, SignedSettlement.Parse(wrapper).Payload);

        var rewrapped = signed.Rewrap(null).ToCell();
        Assert.NotEqual(wrapper, rewrapped);
        Assert.Equal(SettlementCheck.Valid, SettlementVerifier.Verify(rewrapped, signer.PublicKey.Span, Worker, SettlementOp.ClientCharge));
    }

    [Fact]
    public void Tampering_is_detected()
    {
        using var signer = NewSigner();
        using var other = NewSigner(8);
        var signed = signer.Sign(new SettlementPayload(SettlementOp.WorkerPayout, 9, 500, Worker), Excesses);
        var key = signer.PublicKey.Span;

        Assert.Equal(SettlementCheck.WrongOp, SettlementVerifier.Verify(signed.ToCell(), key, Worker, SettlementOp.WorkerLastPayout));
        Assert.Equal(SettlementCheck.WrongTarget, SettlementVerifier.Verify(signed.ToCell(), key, Excesses, SettlementOp.WorkerPayout));
        Assert.Equal(SettlementCheck.BadSignature, SettlementVerifier.Verify(signed.ToCell(), other.PublicKey.Span, Worker, SettlementOp.WorkerPayout));

        // More tokens under the old signature.
        var inflated = signed with { Payload = signed.Payload with { Tokens = 501 } };
        Assert.Equal(SettlementCheck.BadSignature, SettlementVerifier.Verify(inflated.ToCell(), key, Worker, SettlementOp.WorkerPayout));

        // Wrapper qid differs from the payload's.
        var forged = new CellBuilder().StoreUInt((uint)SettlementOp.WorkerPayout, 32).StoreUInt(10, 64).StoreAddress(Excesses)
            .StoreBytes(signed.Signature.Span).StoreRef(signed.Payload.ToCell()).EndCell();
        Assert.Equal(SettlementCheck.Malformed, SettlementVerifier.Verify(forged, key, Worker, SettlementOp.WorkerPayout));

        // Leftover bits after the payload reference.
        var padded = new CellBuilder().StoreCellContents(signed.ToCell()).StoreBit(true).EndCell();
        Assert.Equal(SettlementCheck.Malformed, SettlementVerifier.Verify(padded, key, Worker, SettlementOp.WorkerPayout));
    }

    [Fact]
    public void Payload_cell_and_signature_match_ton_core_and_ton_crypto()
    {
        var seed = Enumerable.Repeat((byte)7, 32).ToArray();
        using var signer = NewSigner();
        var payload = new SettlementPayload(SettlementOp.ClientGrantRefund, ulong.MaxValue, 77, Worker);
        var signed = signer.Sign(payload, Excesses);
        var ops = new object[]
        {
            new { t = "uint", bits = 32, v = ((uint)payload.Op).ToString(CultureInfo.InvariantCulture) },
            new { t = "uint", bits = 64, v = payload.QueryId.ToString(CultureInfo.InvariantCulture) },
            new { t = "uint", bits = 64, v = payload.Tokens.ToString(CultureInfo.InvariantCulture) },
            new { t = "addr", v = Worker.ToRawString() },
        };
        var results = TonOracle.Call([
            new { op = "build", ops },
            new { op = "sign", seed = Convert.ToHexStringLower(seed), data = Convert.ToHexStringLower(payload.ToCell().Hash()) },
        ]);
        Assert.Equal(results[0]!["boc"]!.GetValue<string>(), Convert.ToHexStringLower(BagOfCells.Serialize(payload.ToCell())));
        Assert.Equal(results[1]!["signature"]!.GetValue<string>(), Convert.ToHexStringLower(signed.Signature.Span));
    }
}
