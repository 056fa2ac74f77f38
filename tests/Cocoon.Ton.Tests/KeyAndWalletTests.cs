using System.Globalization;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Boc;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Crypto;
using Cocoon.Ton.Tests.Oracle;
using Cocoon.Ton.Wallets;

namespace Cocoon.Ton.Tests;

/// <summary>Keys, mnemonics and wallet messages, against the vectors and against @ton/crypto and @ton/ton.</summary>
public class KeyAndWalletTests
{
    // ton-and-tdx.md section 3, from ton-crypto mnemonic.spec.ts (re-derived there).
    private static readonly string[] VectorWords = "hospital stove relief fringe tongue always charge angry urge sentence again match nerve inquiry senior coconut label tumble carry category beauty bean road solution".Split(' ');
    private const string VectorSeed = "9d659a6c2234db7f6e4f977e6e8653b9f5946d557163f31034011375d8f3f97d";
    private const string VectorPublicKey = "f6c450a16bb1c514e22f1977e390a3025599aa1e7b00068a6aacf2119484c1bd";

    private static string Hex(ReadOnlySpan<byte> b) => Convert.ToHexStringLower(b);

    [Fact]
    public void Mnemonic_vector_derives_the_published_seed_and_public_key()
    {
        Assert.True(Mnemonic.Validate(VectorWords));
        Assert.Equal(VectorSeed, Hex(Mnemonic.ToSeed(VectorWords).AsSpan(0, 32)));
        using var key = Mnemonic.ToKeyPair(VectorWords);
        Assert.Equal(VectorPublicKey, Hex(key.PublicKey));
        Assert.Equal(VectorSeed, Hex(key.ExportSeed()));
    }

    [Fact]
    public void Mnemonic_validation_refuses_unknown_words_and_accepts_case_and_spaces()
    {
        Assert.Equal(2048, Mnemonic.WordList.Count);
        Assert.Equal("abandon", Mnemonic.WordList[0]);
        Assert.Equal("zoo", Mnemonic.WordList[2047]);
        var shouted = VectorWords.Select(w => "  " + w.ToUpperInvariant()).ToArray();
        Assert.True(Mnemonic.Validate(shouted));
        var wrong = (string[])VectorWords.Clone();
        wrong[3] = "notaword";
        Assert.False(Mnemonic.Validate(wrong));
        var swapped = (string[])VectorWords.Clone();
        (swapped[0], swapped[1]) = (swapped[1], swapped[0]);
        Assert.False(Mnemonic.Validate(swapped)); // the basic-seed check fails for almost every permutation
    }

    [Fact]
    public void Mnemonics_made_on_either_side_give_the_same_keys_on_the_other()
    {
        var mine = Enumerable.Range(0, 5).Select(_ => Mnemonic.Generate()).ToList();
        var random = new Random(99);
        var junk = Enumerable.Range(0, 150).Select(_ => Enumerable.Range(0, 24).Select(_ => Mnemonic.WordList[random.Next(2048)]).ToArray()).ToList();
        var requests = new List<object>();
        requests.AddRange(mine.Select(w => (object)new { op = "mnemonic", words = w }));
        requests.AddRange(Enumerable.Range(0, 5).Select(_ => (object)new { op = "mnemonicNew" }));
        requests.AddRange(junk.Select(w => (object)new { op = "mnemonic", words = w }));
        var results = TonOracle.Call(requests);
        for (var i = 0; i < mine.Count; i++)
        {
            Assert.True(results[i]!["valid"]!.GetValue<bool>());
            using var key = Mnemonic.ToKeyPair(mine[i]);
            Assert.Equal(results[i]!["publicKey"]!.GetValue<string>(), Hex(key.PublicKey));
        }

        for (var i = 0; i < 5; i++)
        {
            var js = results[mine.Count + i]!;
            var words = js["words"]!.AsArray().Select(w => w!.GetValue<string>()).ToArray();
            Assert.True(Mnemonic.Validate(words));
            using var key = Mnemonic.ToKeyPair(words);
            Assert.Equal(js["publicKey"]!.GetValue<string>(), Hex(key.PublicKey));
        }

        for (var i = 0; i < junk.Count; i++)
        {
            Assert.Equal(results[mine.Count + 5 + i]!["valid"]!.GetValue<bool>(), Mnemonic.Validate(junk[i]));
        }
    }

    [Fact]
    public void Ed25519_signatures_match_ton_crypto_and_verify()
    {
        var random = new Random(17);
        var cases = Enumerable.Range(0, 100).Select(i =>
        {
            var seed = new byte[32];
            random.NextBytes(seed);
            var data = new byte[i % 3 == 0 ? 32 : random.Next(0, 200)];
            random.NextBytes(data);
            return (seed, data);
        }).ToList();
        var results = TonOracle.Call(cases.Select(c => (object)new { op = "sign", seed = Hex(c.seed), data = Hex(c.data) }));
        for (var i = 0; i < cases.Count; i++)
        {
            using var key = Ed25519KeyPair.FromSeed(cases[i].seed);
            var signature = key.Sign(cases[i].data);
            Assert.Equal(results[i]!["publicKey"]!.GetValue<string>(), Hex(key.PublicKey));
            Assert.Equal(results[i]!["signature"]!.GetValue<string>(), Hex(signature));
            Assert.True(Ed25519KeyPair.Verify(key.PublicKey, cases[i].data, signature));
            signature[i % 64] ^= 1;
            Assert.False(Ed25519KeyPair.Verify(key.PublicKey, cases[i].data, signature));
        }
    }

    [Fact]
    public void Wallet_addresses_of_the_vector_key_match_the_reference()
    {
        var publicKey = Convert.FromHexString(VectorPublicKey);
        var v4 = new WalletV4R2(publicKey);
        Assert.Equal(0x29A9A317u, v4.WalletId);
        Assert.Equal("0:1867eadc85b6872b8214902bdcca5dd5f2ca5c0273bc20144236f4b76ab7be09", v4.Address.ToRawString());
        Assert.Equal("EQAYZ-rchbaHK4IUkCvcyl3V8spcAnO8IBRCNvS3are-CeFV", v4.Address.ToFriendlyString());
        var v5 = new WalletV5R1(publicKey);
        Assert.Equal(2147483409, v5.WalletId);
        Assert.Equal("0:d22ce1556a6359cddcb82ee95c95c08110591145e67b5ac70108b030dcf839de", v5.Address.ToRawString());
        Assert.Equal("EQDSLOFVamNZzdy4LulclcCBEFkRReZ7WscBCLAw3Pg53kAk", v5.Address.ToFriendlyString());
    }

    [Fact]
    public void Deterministic_transfer_vectors_match_ton_ton()
    {
        using var key = Mnemonic.ToKeyPair(VectorWords);
        var to = TonAddress.Parse("EQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4wJB");
        var message = new WalletMessage(new InternalMessage(to, 1_000_000_000, false, InternalMessage.TextComment("hello")), SendMode.PayGasSeparately | SendMode.IgnoreErrors);
        var v4Body = new WalletV4R2(key.PublicKey).CreateTransferBody(key, 0, 1700000000, [message]);
        Assert.Equal("6a24ce274187b4493dfa10d75f56d3b90ad7647db54adf8b976e6e9b26870abd", Hex(v4Body.Hash()));
        Assert.EndsWith("29a9a3176553f100000000000003", Hex(v4Body.Data));
        var v4 = new WalletV4R2(key.PublicKey).CreateTransfer(key, 0, 1700000000, [message]);
        Assert.StartsWith("439ec0ca", Hex(v4.MessageHash), StringComparison.Ordinal);
        var v5Body = new WalletV5R1(key.PublicKey).CreateTransferBody(key, 0, 1700000000, [message]);
        Assert.Equal("7bb2f646cc53a3808c24b3e4c5c91e4dd84992833588532a6e892948873b59a1", Hex(v5Body.Hash()));
    }

    [Fact]
    public void Random_wallet_transfers_are_byte_identical_to_ton_ton()
    {
        var r = new RandomCells(2024);
        var rnd = r.Random;
        var requests = new List<object>();
        var expected = new List<SignedTransfer>();
        var addressRequests = new List<object>();
        var expectedAddresses = new List<string>();
        for (var i = 0; i < 160; i++)
        {
            var seed = r.RandomBytes(32);
            using var key = Ed25519KeyPair.FromSeed(seed);
            var kind = i % 2 == 0 ? "v4r2" : "v5r1";
            var workchain = i % 5 == 0 ? -1 : 0;
            IWalletContract wallet = kind == "v4r2" ? new WalletV4R2(key.PublicKey, workchain) : new WalletV5R1(key.PublicKey, workchain);
            var seqno = i % 4 == 0 ? 0u : (uint)rnd.Next(1, int.MaxValue);
            var validUntil = (uint)rnd.Next(1_600_000_000, int.MaxValue);
            var mode = (SendMode)new[] { 0, 1, 2, 3, 64, 128, 129 }[rnd.Next(7)];
            var count = rnd.Next(kind == "v4r2" ? 0 : 1, 5);
            var messages = new List<WalletMessage>();
            var json = new List<object>();
            for (var k = 0; k < count; k++)
            {
                var to = new TonAddress(rnd.Next(3) == 0 ? -1 : 0, r.RandomBytes(32));
                var value = r.NextUnsignedValue(rnd.Next(0, 64));
                var bounce = rnd.Next(2) == 0;
                switch (rnd.Next(3))
                {
                    case 0:
                    {
                        var text = new string(Enumerable.Range(0, rnd.Next(0, 300)).Select(_ => (char)rnd.Next(0x20, 0x450)).ToArray());
                        messages.Add(new WalletMessage(new InternalMessage(to, value, bounce, InternalMessage.TextComment(text)), mode));
                        json.Add(new { to = to.ToRawString(), value = value.ToString(CultureInfo.InvariantCulture), bounce, text });
                        break;
                    }

                    case 1:
                    {
                        var body = r.Ordinary(2);
                        messages.Add(new WalletMessage(new InternalMessage(to, value, bounce, body), mode));
                        json.Add(new { to = to.ToRawString(), value = value.ToString(CultureInfo.InvariantCulture), bounce, body = Hex(BagOfCells.Serialize(body)) });
                        break;
                    }

                    default:
                        messages.Add(new WalletMessage(new InternalMessage(to, value, bounce), mode));
                        json.Add(new { to = to.ToRawString(), value = value.ToString(CultureInfo.InvariantCulture), bounce });
                        break;
                }
            }

            expected.Add(wallet.CreateTransfer(key, seqno, validUntil, messages));
            requests.Add(new { op = "transfer", wallet = kind, seed = Hex(seed), workchain, seqno, validUntil, mode = (int)mode, messages = json });
            if (i < 40)
            {
                var testnet = i % 3 == 0;
                IWalletContract w = kind == "v4r2" ? new WalletV4R2(key.PublicKey, workchain) : new WalletV5R1(key.PublicKey, workchain, testnet ? WalletV5R1.TestnetGlobalId : WalletV5R1.MainnetGlobalId);
                expectedAddresses.Add(w.Address.ToRawString());
                addressRequests.Add(new { op = "wallet", wallet = kind, seed = Hex(seed), workchain, testnet });
            }
        }

        var results = TonOracle.Call(requests.Concat(addressRequests));
        for (var i = 0; i < expected.Count; i++)
        {
            var js = results[i]!;
            Assert.Equal(js["body"]!.GetValue<string>(), Hex(BagOfCells.Serialize(expected[i].Body)));
            Assert.Equal(js["message"]!.GetValue<string>(), Hex(expected[i].ToBoc()));
            Assert.Equal(js["messageHash"]!.GetValue<string>(), Hex(expected[i].MessageHash));
        }

        for (var i = 0; i < expectedAddresses.Count; i++)
        {
            Assert.Equal(results[expected.Count + i]!["raw"]!.GetValue<string>(), expectedAddresses[i]);
        }
    }

    [Fact]
    public void Normalized_hash_ignores_the_envelope()
    {
        using var key = Mnemonic.ToKeyPair(VectorWords);
        var wallet = new WalletV4R2(key.PublicKey);
        var transfer = wallet.CreateTransfer(key, 0, 1700000000, []);
        var plain = ExternalMessage.Create(wallet.Address, transfer.Body);
        Assert.NotEqual(Hex(transfer.MessageHash), Hex(plain.Hash()));
        Assert.Equal(Hex(transfer.NormalizedMessageHash), Hex(ExternalMessage.NormalizedHash(plain)));
        var normalized = new CellBuilder().StoreUInt(0b10, 2).StoreAddressNone().StoreAddress(wallet.Address).StoreCoins(0).StoreBit(false).StoreBit(true).StoreRef(transfer.Body).EndCell();
        Assert.Equal(Hex(normalized.Hash()), Hex(transfer.NormalizedMessageHash));
    }

    [Fact]
    public void Transfers_signed_by_Cocoon_are_accepted_by_the_real_wallet_code_in_sandbox_and_move_funds()
    {
        var seed = new byte[32];
        new Random(5).NextBytes(seed);
        using var key = Ed25519KeyPair.FromSeed(seed);
        const uint now = 1_800_000_000;
        var requests = new List<object>();
        var recipients = new List<TonAddress[]>();
        var sentHashes = new List<string[]>();
        foreach (var wallet in new IWalletContract[] { new WalletV4R2(key.PublicKey), new WalletV5R1(key.PublicKey) })
        {
            var a = new TonAddress(0, Enumerable.Repeat((byte)0x11, 32).ToArray());
            var b = new TonAddress(0, Enumerable.Repeat((byte)0x22, 32).ToArray());
            recipients.Add([a, b]);

            // First send deploys the wallet (StateInit, seqno 0); the second uses seqno 1 and two messages.
            var first = wallet.CreateTransfer(key, 0, now + 60, [new WalletMessage(new InternalMessage(a, 1_500_000_000, false, InternalMessage.TextComment("cocoon")), SendMode.PayGasSeparately)]);
            var second = wallet.CreateTransfer(key, 1, now + 60, [
                new WalletMessage(new InternalMessage(a, 250_000_000, false), SendMode.PayGasSeparately),
                new WalletMessage(new InternalMessage(b, 700_000_000, false, InternalMessage.TextComment("two")), SendMode.PayGasSeparately),
            ]);

            sentHashes.Add([Hex(first.MessageHash), Hex(second.MessageHash)]);
            requests.Add(new
            {
                op = "sandbox",
                now,
                wallet = wallet.Address.ToRawString(),
                fund = "5000000000",
                watch = new[] { a.ToRawString(), b.ToRawString() },
                messages = new[] { Hex(first.ToBoc()), Hex(second.ToBoc()) },
                replayLast = true,
            });
        }

        var results = TonOracle.Call(requests);
        for (var w = 0; w < 2; w++)
        {
            var steps = results[w]!.AsArray();

            // The message hash Cocoon computed is the one recorded in the wallet's transaction.
            var sent = sentHashes[w];
            Assert.Equal(sent[0], steps[0]!["inMessageHash"]!.GetValue<string>());
            Assert.Equal(sent[1], steps[1]!["inMessageHash"]!.GetValue<string>());
            var a = recipients[w][0].ToRawString();
            var b = recipients[w][1].ToRawString();
            Assert.False(steps[^1]!["replayAccepted"]!.GetValue<bool>());
            steps.RemoveAt(steps.Count - 1);
            Assert.All(steps, s =>
            {
                Assert.False(s!["aborted"]!.GetValue<bool>());
                Assert.True(s["computeSuccess"]!.GetValue<bool>());
                Assert.True(s["actionSuccess"]!.GetValue<bool>());
            });
            Assert.Equal("1500000000", steps[0]!["received"]![a]!.GetValue<string>());
            Assert.Equal(1, steps[0]!["outMessages"]!.GetValue<int>());
            Assert.Equal(1, steps[0]!["seqno"]!.GetValue<int>());
            Assert.Equal("250000000", steps[1]!["received"]![a]!.GetValue<string>());
            Assert.Equal("700000000", steps[1]!["received"]![b]!.GetValue<string>());
            Assert.Equal(2, steps[1]!["outMessages"]!.GetValue<int>());
            Assert.Equal(2, steps[1]!["seqno"]!.GetValue<int>());
        }
    }

    [Fact]
    public void A_transfer_with_a_bad_signature_is_rejected_in_sandbox()
    {
        var seed = new byte[32];
        new Random(6).NextBytes(seed);
        using var key = Ed25519KeyPair.FromSeed(seed);
        using var other = Ed25519KeyPair.FromSeed(new byte[32]);
        var wallet = new WalletV4R2(key.PublicKey);
        var a = new TonAddress(0, Enumerable.Repeat((byte)0x33, 32).ToArray());

        // Signed with another key but wrapped with this wallet's StateInit.
        var body = wallet.CreateTransferBody(other, 0, 1_800_000_060, [new WalletMessage(new InternalMessage(a, 1_000_000_000, false), SendMode.PayGasSeparately)]);
        var message = ExternalMessage.Create(wallet.Address, body, wallet.StateInit);
        var raw = TonOracle.CallRaw([new
        {
            op = "sandbox",
            now = 1_800_000_000u,
            wallet = wallet.Address.ToRawString(),
            fund = "5000000000",
            watch = new[] { a.ToRawString() },
            messages = new[] { Hex(BagOfCells.Serialize(message)) },
        }])[0]!;

        // The sandbox refuses an external message whose compute phase fails (it is not accepted at all).
        Assert.NotNull(raw["error"]);
        Assert.Contains("External message not accepted", raw["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
