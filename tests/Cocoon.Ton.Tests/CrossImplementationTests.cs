using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using Cocoon.Ton.Addresses;
using Cocoon.Ton.Boc;
using Cocoon.Ton.Cells;
using Cocoon.Ton.Tests.Oracle;

namespace Cocoon.Ton.Tests;

/// <summary>Cells, BoCs, builder primitives, dictionaries and addresses made on one side and read on the other.</summary>
public class CrossImplementationTests
{
    private static string Hex(ReadOnlySpan<byte> b) => Convert.ToHexStringLower(b);

    private static readonly BocOptions[] AllOptions = [new(false, true), new(true, false), new(true, true), new(false, false)];

    private static void AssertDescribes(Cell cell, JsonNode js, string context)
    {
        Assert.True(Hex(cell.Hash()) == js["hash"]!.GetValue<string>(), $"hash differs for {context}");
        Assert.Equal(js["depth"]!.GetValue<int>(), cell.Depth());
        Assert.Equal(js["level"]!.GetValue<int>(), cell.Level);
        for (var l = 0; l < 4; l++)
        {
            Assert.Equal(js["hashes"]![l]!.GetValue<string>(), Hex(cell.Hash(l)));
            Assert.Equal(js["depths"]![l]!.GetValue<int>(), cell.Depth(l));
        }

        Assert.Equal(js["boc"]!.GetValue<string>(), Hex(BagOfCells.Serialize(cell, AllOptions[0])));
        Assert.Equal(js["bocIdx"]!.GetValue<string>(), Hex(BagOfCells.Serialize(cell, AllOptions[1])));
        Assert.Equal(js["bocIdxCrc"]!.GetValue<string>(), Hex(BagOfCells.Serialize(cell, AllOptions[2])));
        Assert.Equal(js["bocPlain"]!.GetValue<string>(), Hex(BagOfCells.Serialize(cell, AllOptions[3])));
    }

    [Fact]
    public void Random_trees_made_by_Cocoon_hash_and_serialize_identically_in_ton_core()
    {
        var random = new RandomCells(1001);
        var cells = new List<Cell>();
        var requests = new List<object>();
        for (var i = 0; i < 1500; i++)
        {
            var cell = i % 5 == 0 ? random.Exotic(3, []) : random.Ordinary(random.Random.Next(0, 5));
            if (i % 7 == 0)
            {
                cell = RandomCells.MerkleProof(cell.IsExotic && cell.Type == CellType.PrunedBranch ? random.Ordinary(2) : random.Ordinary(3, [random.Pruned(1)]));
            }

            cells.Add(cell);
            requests.Add(new { op = "boc", boc = Hex(BagOfCells.Serialize(cell, AllOptions[i % 4])) });
        }

        var results = TonOracle.Call(requests);
        for (var i = 0; i < cells.Count; i++)
        {
            var roots = results[i]!["roots"]!.AsArray();
            Assert.Single(roots);
            AssertDescribes(cells[i], roots[0]!, $"tree {i}");
        }
    }

    [Fact]
    public void Random_trees_made_by_ton_core_parse_hash_and_reserialize_identically_in_Cocoon()
    {
        var requests = Enumerable.Range(0, 6).Select(s => (object)new { op = "randomTrees", seed = 77 + s, count = 250, depth = 4 }).ToList();
        var results = TonOracle.Call(requests);
        var n = 0;
        foreach (var batch in results)
        {
            foreach (var js in batch!.AsArray())
            {
                foreach (var key in new[] { "boc", "bocIdx", "bocIdxCrc", "bocPlain" })
                {
                    var cell = BagOfCells.ParseHex(js![key]!.GetValue<string>());
                    AssertDescribes(cell, js, $"ton-core tree {n} via {key}");
                }

                n++;
            }
        }

        Assert.Equal(1500, n);
    }

    [Fact]
    public void Merkle_proofs_with_pruned_branches_made_by_ton_core_hash_identically_in_Cocoon()
    {
        var requests = Enumerable.Range(0, 40).Select(i => (object)new { op = "merkleProof", seed = 500 + i, size = 20 + (i * 12), fraction = i % 2 == 0 ? 0.05 : 0.3 }).ToList();
        var results = TonOracle.Call(requests);
        foreach (var js in results)
        {
            var proof = BagOfCells.ParseHex(js!["proof"]!["boc"]!.GetValue<string>());
            AssertDescribes(proof, js["proof"]!, "ton-core Merkle proof");
            Assert.Equal(CellType.MerkleProof, proof.Type);
            var dictHash = js["dictHash"]!.GetValue<string>();
            Assert.Equal(dictHash, Hex(proof.Refs[0].Hash(0)));
            Assert.True(proof.Refs[0].Level >= 1, "the proved dictionary should contain pruned branches");

            // Cocoon's HashmapE of the same entries is the dictionary the proof is about.
            var entries = js["entries"]!.AsArray().Select(e => new KeyValuePair<BigInteger, BigInteger>(e![0]!.GetValue<long>(), e[1]!.GetValue<long>()));
            var root = HashmapE.Serialize(entries, 32, (v, b) => b.StoreUInt(v, 32))!;
            Assert.Equal(dictHash, Hex(root.Hash()));
        }
    }

    [Fact]
    public void Multi_root_boc_from_Cocoon_is_read_by_ton_core_with_roots_in_order()
    {
        var random = new RandomCells(5);
        var requests = new List<object>();
        var expected = new List<Cell[]>();
        for (var i = 0; i < 50; i++)
        {
            var shared = random.Ordinary(2);
            var roots = Enumerable.Range(0, random.Random.Next(2, 5))
                .Select(_ => new CellBuilder().StoreUInt((ulong)random.Random.Next(), 32).StoreRef(shared).EndCell()).ToArray();
            expected.Add(roots);
            var boc = BagOfCells.Serialize(roots, AllOptions[i % 4]);
            Assert.Equal(roots.Select(r => Hex(r.Hash())), BagOfCells.Parse(boc).Select(r => Hex(r.Hash())));
            requests.Add(new { op = "boc", boc = Hex(boc) });
        }

        var results = TonOracle.Call(requests);
        for (var i = 0; i < expected.Count; i++)
        {
            var roots = results[i]!["roots"]!.AsArray();
            Assert.Equal(expected[i].Select(r => Hex(r.Hash())), roots.Select(r => r!["hash"]!.GetValue<string>()));
        }
    }

    private sealed record Op(object Json, Action<CellBuilder> Write, Func<CellSlice, JsonNode?> Read);

    private static Op RandomOp(RandomCells r, int availableBits, int availableRefs)
    {
        var rnd = r.Random;
        while (true)
        {
            switch (rnd.Next(10))
            {
                case 0:
                {
                    var bits = rnd.Next(0, Math.Min(257, availableBits + 1));
                    var v = r.NextUnsignedValue(bits);
                    return new Op(new { t = "uint", bits, v = v.ToString(CultureInfo.InvariantCulture) }, b => b.StoreUInt(v, bits), s => s.LoadBigUInt(bits).ToString(CultureInfo.InvariantCulture));
                }

                case 1:
                {
                    if (availableBits < 1)
                    {
                        continue;
                    }

                    var bits = rnd.Next(1, Math.Min(258, availableBits + 1));
                    var v = r.NextSignedValue(bits);
                    return new Op(new { t = "int", bits, v = v.ToString(CultureInfo.InvariantCulture) }, b => b.StoreInt(v, bits), s => s.LoadBigInt(bits).ToString(CultureInfo.InvariantCulture));
                }

                case 2:
                {
                    if (availableBits < 4 + 120)
                    {
                        continue;
                    }

                    var v = r.NextUnsignedValue(rnd.Next(0, 121));
                    return new Op(new { t = "coins", v = v.ToString(CultureInfo.InvariantCulture) }, b => b.StoreCoins(v), s => s.LoadCoins().ToString(CultureInfo.InvariantCulture));
                }

                case 3:
                {
                    if (availableBits < 5 + 248)
                    {
                        continue;
                    }

                    var v = r.NextUnsignedValue(rnd.Next(0, 249));
                    var signedV = r.NextSignedValue(rnd.Next(1, 248));
                    if (rnd.Next(2) == 0)
                    {
                        return new Op(new { t = "varuint", n = 32, v = v.ToString(CultureInfo.InvariantCulture) }, b => b.StoreVarUInt(v, 32), s => s.LoadVarUInt(32).ToString(CultureInfo.InvariantCulture));
                    }

                    return new Op(new { t = "varint", n = 32, v = signedV.ToString(CultureInfo.InvariantCulture) }, b => b.StoreVarInt(signedV, 32), s => s.LoadVarInt(32).ToString(CultureInfo.InvariantCulture));
                }

                case 4:
                {
                    if (availableBits < 267)
                    {
                        continue;
                    }

                    TonAddress? a = rnd.Next(4) == 0 ? null : new TonAddress(rnd.Next(3) switch { 0 => -1, 1 => 0, _ => rnd.Next(-128, 128) }, r.RandomBytes(32));
                    return new Op(new { t = "addr", v = a?.ToRawString() }, b => b.StoreAddress(a), s => s.LoadMaybeAddress()?.ToRawString());
                }

                case 5:
                {
                    var bytes = r.RandomBytes(rnd.Next(0, (availableBits / 8) + 1));
                    return new Op(new { t = "bytes", v = Hex(bytes) }, b => b.StoreBytes(bytes), s => Hex(s.LoadBytes(bytes.Length)));
                }

                case 6:
                {
                    if (availableBits < 1)
                    {
                        continue;
                    }

                    var v = rnd.Next(2) == 0;
                    return new Op(new { t = "bit", v }, b => b.StoreBit(v), s => s.LoadBit());
                }

                case 7:
                {
                    if (availableRefs < 1)
                    {
                        continue;
                    }

                    var c = r.Ordinary(rnd.Next(0, 3));
                    return new Op(new { t = "ref", v = Hex(BagOfCells.Serialize(c)) }, b => b.StoreRef(c), s => Hex(s.LoadRef().Hash()));
                }

                case 8:
                {
                    if (availableRefs < 1 || availableBits < 1)
                    {
                        continue;
                    }

                    var c = rnd.Next(3) == 0 ? null : r.Ordinary(rnd.Next(0, 3));
                    return new Op(new { t = "maybe", v = c is null ? null : Hex(BagOfCells.Serialize(c)) }, b => b.StoreMaybeRef(c), s => s.LoadMaybeRef() is { } x ? Hex(x.Hash()) : null);
                }

                default:
                {
                    if (availableRefs < 1 || availableBits < 1)
                    {
                        continue;
                    }

                    var keyBits = new[] { 1, 3, 8, 16, 32, 64, 100, 256 }[rnd.Next(8)];
                    var valueBits = rnd.Next(1, 65);
                    var count = keyBits == 1 ? rnd.Next(0, 3) : rnd.Next(0, 40);
                    var entries = new Dictionary<BigInteger, BigInteger>();
                    for (var i = 0; i < count; i++)
                    {
                        // Mix clustered and spread keys so every label kind shows up.
                        var k = rnd.Next(2) == 0 ? r.NextUnsignedValue(keyBits) : r.NextUnsignedValue(Math.Min(keyBits, 6));
                        entries[k] = r.NextUnsignedValue(valueBits);
                    }

                    var json = new { t = "dict", keyBits, valueBits, v = entries.Select(e => new[] { e.Key.ToString(CultureInfo.InvariantCulture), e.Value.ToString(CultureInfo.InvariantCulture) }).ToArray() };
                    return new Op(
                        json,
                        b => b.StoreHashmapE(entries, keyBits, (v, vb) => vb.StoreUInt(v, valueBits)),
                        s =>
                        {
                            var d = s.LoadHashmapE(keyBits, vs => vs.LoadBigUInt(valueBits));
                            var arr = new JsonArray();
                            foreach (var e in d.OrderBy(e => e.Key))
                            {
                                arr.Add(new JsonArray(e.Key.ToString(CultureInfo.InvariantCulture), e.Value.ToString(CultureInfo.InvariantCulture)));
                            }

                            return arr;
                        });
                }
            }
        }
    }

    [Fact]
    public void Builder_primitives_write_and_read_the_same_bits_as_ton_core()
    {
        var r = new RandomCells(4242);
        var cases = new List<(Cell Cell, List<Op> Ops)>();
        var requests = new List<object>();
        for (var i = 0; i < 600; i++)
        {
            var b = new CellBuilder();
            var ops = new List<Op>();
            var count = r.Random.Next(1, 8);
            for (var k = 0; k < count; k++)
            {
                var probe = new CellBuilder();
                var op = RandomOp(r, b.AvailableBits, b.AvailableRefs);
                op.Write(probe);
                if (probe.BitLength > b.AvailableBits || probe.RefCount > b.AvailableRefs)
                {
                    continue;
                }

                op.Write(b);
                ops.Add(op);
            }

            var cell = b.EndCell();
            cases.Add((cell, ops));
            var opsJson = ops.Select(o => o.Json).ToArray();
            requests.Add(new { op = "build", ops = opsJson });
            requests.Add(new { op = "read", boc = Hex(BagOfCells.Serialize(cell)), ops = opsJson });
        }

        var results = TonOracle.Call(requests);
        for (var i = 0; i < cases.Count; i++)
        {
            var (cell, ops) = cases[i];
            var built = results[2 * i]!;
            Assert.True(
                built["boc"]!.GetValue<string>() == Hex(BagOfCells.Serialize(cell)),
                $"case {i}: ton-core built a different cell for {System.Text.Json.JsonSerializer.Serialize(ops.Select(o => o.Json))}");

            // Read what ton-core built with Cocoon's slice; compare with what ton-core read from Cocoon's cell.
            var theirs = BagOfCells.ParseHex(built["boc"]!.GetValue<string>()).BeginParse();
            var readByTonCore = results[(2 * i) + 1]!.AsArray();
            for (var k = 0; k < ops.Count; k++)
            {
                var mine = ops[k].Read(theirs);
                Assert.True(JsonNode.DeepEquals(readByTonCore[k], mine), $"case {i} op {k}: ton-core read {readByTonCore[k]?.ToJsonString()}, Cocoon read {mine?.ToJsonString()}");
            }

            Assert.Equal(0, theirs.RemainingBits);
            Assert.Equal(0, theirs.RemainingRefs);
        }
    }

    [Fact]
    public void Addresses_print_and_parse_like_ton_core_in_every_form()
    {
        var r = new RandomCells(9);
        var addresses = Enumerable.Range(0, 600).Select(i => new TonAddress(i % 3 == 0 ? -1 : i % 3 == 1 ? 0 : r.Random.Next(-128, 128), r.RandomBytes(32))).ToList();
        var requests = addresses.Select(a => (object)new { op = "address", workchain = a.Workchain, hash = Hex(a.Hash) }).ToList();

        // And the other direction: ton-core parses the forms Cocoon prints. Address.parseFriendly in ton-core
        // 0.63.1 reads the workchain byte as unsigned unless it is 0xff, so only workchains -1..127 agree there;
        // Cocoon reads it as the int8 of the spec.
        requests.AddRange(addresses.Take(200).Select(a => a.Workchain < -1 ? new TonAddress(-a.Workchain - 1, a.Hash) : a).ToList().Select((a, i) => (object)new { op = "parseAddress", text = a.ToFriendlyString(i % 2 == 0, i % 3 == 0, i % 5 != 0) }));
        var results = TonOracle.Call(requests);
        for (var i = 0; i < addresses.Count; i++)
        {
            var a = addresses[i];
            var js = results[i]!;
            Assert.Equal(js["raw"]!.GetValue<string>(), a.ToRawString());
            foreach (var (key, value) in js["forms"]!.AsObject())
            {
                var bounceable = key[0] == 'b';
                var testOnly = key[1] == 't';
                var urlSafe = key[2] == 'u';
                var text = value!.GetValue<string>();
                Assert.Equal(text, a.ToFriendlyString(bounceable, testOnly, urlSafe));
                Assert.True(TonAddress.TryParseFriendly(text, out var parsed, out var error), error);
                Assert.Equal(a, parsed.Address);
                Assert.Equal(bounceable, parsed.IsBounceable);
                Assert.Equal(testOnly, parsed.IsTestOnly);
            }
        }

        for (var i = 0; i < 200; i++)
        {
            var js = results[addresses.Count + i]!;
            var a = addresses[i].Workchain < -1 ? new TonAddress(-addresses[i].Workchain - 1, addresses[i].Hash) : addresses[i];
            Assert.Equal(a.ToRawString(), js["raw"]!.GetValue<string>());
            Assert.Equal(i % 2 == 0, js["bounceable"]!.GetValue<bool>());
            Assert.Equal(i % 3 == 0, js["testOnly"]!.GetValue<bool>());
        }
    }

    [Fact]
    public void Contract_addresses_match_ton_core()
    {
        var r = new RandomCells(31);
        var requests = new List<object>();
        var expected = new List<string>();
        for (var i = 0; i < 100; i++)
        {
            var code = r.Ordinary(2);
            var data = r.Ordinary(2);
            var wc = i % 2 == 0 ? 0 : -1;
            expected.Add(TonAddress.FromStateInit(wc, new StateInit(code, data)).ToRawString());
            requests.Add(new { op = "contractAddress", workchain = wc, code = Hex(BagOfCells.Serialize(code)), data = Hex(BagOfCells.Serialize(data)) });
        }

        var results = TonOracle.Call(requests);
        Assert.Equal(expected, results.Select(x => x!.GetValue<string>()));
    }
}
