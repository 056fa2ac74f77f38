'use strict';
// Cross-implementation oracle for Cocoon.Ton. Reads one JSON batch { requests: [...] } on stdin and writes
// { results: [...] } on stdout, one result per request ({ error } when @ton/* refuses the input).
// Driven by tests/Cocoon.Ton.Tests/Oracle/TonOracle.cs; one process per batch keeps the test run short.
const { Cell, beginCell, Address, Dictionary, contractAddress, internal, external, storeMessage, SendMode } = require('@ton/core');
const { mnemonicToPrivateKey, mnemonicValidate, mnemonicNew, keyPairFromSeed, sign } = require('@ton/crypto');
const { WalletContractV4, WalletContractV5R1 } = require('@ton/ton');
const crypto = require('crypto');

function hex(buf) { return Buffer.from(buf).toString('hex'); }
function bocOf(cell, idx, crc32) { return hex(cell.toBoc({ idx, crc32 })); }

function describe(cell) {
  return {
    hash: hex(cell.hash()),
    depth: cell.depth(),
    level: cell.level(),
    hashes: [0, 1, 2, 3].map((l) => hex(cell.hash(l))),
    depths: [0, 1, 2, 3].map((l) => cell.depth(l)),
    boc: bocOf(cell, false, true),
    bocIdx: bocOf(cell, true, false),
    bocIdxCrc: bocOf(cell, true, true),
    bocPlain: bocOf(cell, false, false),
  };
}

// Deterministic PRNG so a failing batch can be replayed from its seed.
function rng(seed) {
  let s = BigInt(seed) & 0xffffffffffffffffn;
  return () => {
    s ^= s << 13n; s &= 0xffffffffffffffffn;
    s ^= s >> 7n;
    s ^= s << 17n; s &= 0xffffffffffffffffn;
    return Number(s & 0xffffffffn) / 4294967296;
  };
}

function randomTree(r, depth, pool) {
  const b = beginCell();
  const bits = Math.floor(r() * 1024);
  let left = bits;
  while (left > 0) {
    const w = Math.min(left, 1 + Math.floor(r() * 48));
    b.storeUint(BigInt(Math.floor(r() * 2 ** 32)) * 65536n + BigInt(Math.floor(r() * 65536)) & ((1n << BigInt(w)) - 1n), w);
    left -= w;
  }
  const refs = depth <= 0 ? 0 : Math.floor(r() * 5);
  for (let i = 0; i < refs; i++) {
    if (pool.length > 0 && r() < 0.25) {
      b.storeRef(pool[Math.floor(r() * pool.length)]);
    } else {
      const c = randomTree(r, depth - 1 - Math.floor(r() * 2), pool);
      pool.push(c);
      b.storeRef(c);
    }
  }
  return b.endCell();
}

// ton-core's storeVarUint(v, bits) takes the width of the length prefix, not TL-B's n of VarUInteger n.
function lenBits(n) { return Math.ceil(Math.log2(n)); }

function buildOps(ops) {
  const b = beginCell();
  for (const op of ops) {
    switch (op.t) {
      case 'uint': b.storeUint(BigInt(op.v), op.bits); break;
      case 'int': b.storeInt(BigInt(op.v), op.bits); break;
      case 'bit': b.storeBit(op.v); break;
      case 'coins': b.storeCoins(BigInt(op.v)); break;
      case 'varuint': b.storeVarUint(BigInt(op.v), lenBits(op.n)); break;
      case 'varint': b.storeVarInt(BigInt(op.v), lenBits(op.n)); break;
      case 'addr': b.storeAddress(op.v === null ? null : Address.parse(op.v)); break;
      case 'bytes': b.storeBuffer(Buffer.from(op.v, 'hex')); break;
      case 'ref': b.storeRef(Cell.fromBoc(Buffer.from(op.v, 'hex'))[0]); break;
      case 'maybe': b.storeMaybeRef(op.v === null ? null : Cell.fromBoc(Buffer.from(op.v, 'hex'))[0]); break;
      case 'dict': {
        const d = Dictionary.empty(Dictionary.Keys.BigUint(op.keyBits), Dictionary.Values.BigUint(op.valueBits));
        for (const [k, v] of op.v) d.set(BigInt(k), BigInt(v));
        b.storeDict(d);
        break;
      }
      default: throw new Error('unknown op ' + op.t);
    }
  }
  return b.endCell();
}

function readOps(cell, ops) {
  const s = cell.beginParse();
  const out = [];
  for (const op of ops) {
    switch (op.t) {
      case 'uint': out.push(s.loadUintBig(op.bits).toString()); break;
      case 'int': out.push(s.loadIntBig(op.bits).toString()); break;
      case 'bit': out.push(s.loadBit()); break;
      case 'coins': out.push(s.loadCoins().toString()); break;
      case 'varuint': out.push(s.loadVarUintBig(lenBits(op.n)).toString()); break;
      case 'varint': out.push(s.loadVarIntBig(lenBits(op.n)).toString()); break;
      case 'addr': { const a = s.loadMaybeAddress(); out.push(a ? a.toRawString() : null); break; }
      case 'bytes': out.push(hex(s.loadBuffer(op.v.length / 2))); break;
      case 'ref': out.push(hex(s.loadRef().hash())); break;
      case 'maybe': { const c = s.loadMaybeRef(); out.push(c ? hex(c.hash()) : null); break; }
      case 'dict': {
        const d = s.loadDict(Dictionary.Keys.BigUint(op.keyBits), Dictionary.Values.BigUint(op.valueBits));
        out.push(d.keys().map((k) => [k.toString(), d.get(k).toString()]).sort((a, b) => (BigInt(a[0]) < BigInt(b[0]) ? -1 : 1)));
        break;
      }
      default: throw new Error('unknown op ' + op.t);
    }
  }
  return out;
}

function walletOf(kind, publicKey, workchain, testnet) {
  if (kind === 'v4r2') return WalletContractV4.create({ workchain, publicKey });
  // The context carries the wallet's own workchain (wallet-contract-v5 wallet_id); @ton/ton would default it to 0.
  return WalletContractV5R1.create({ workchain, publicKey, walletId: { networkGlobalId: testnet ? -3 : -239, context: { workchain, subwalletNumber: 0, walletVersion: 'v5r1' } } });
}

function messagesOf(list) {
  return list.map((m) => internal({ to: Address.parse(m.to), value: BigInt(m.value), bounce: m.bounce, body: m.text === undefined ? (m.body ? Cell.fromBoc(Buffer.from(m.body, 'hex'))[0] : undefined) : m.text }));
}

async function transfer(req) {
  const kp = keyPairFromSeed(Buffer.from(req.seed, 'hex'));
  const wallet = walletOf(req.wallet, kp.publicKey, req.workchain ?? 0, false);
  const args = { seqno: req.seqno, secretKey: kp.secretKey, messages: messagesOf(req.messages), sendMode: req.mode, timeout: req.validUntil };
  const body = wallet.createTransfer(args);
  const ext = beginCell().store(storeMessage(external({ to: wallet.address, init: req.seqno === 0 ? wallet.init : undefined, body }))).endCell();
  return { address: wallet.address.toRawString(), body: bocOf(body, false, true), bodyHash: hex(body.hash()), message: bocOf(ext, false, true), messageHash: hex(ext.hash()) };
}

async function sandboxTransfer(req) {
  // Deploys nothing by hand: funds the wallet address from a treasury, then sends the external message that
  // Cocoon.Ton built and signed (with StateInit on seqno 0), and reports what the real wallet code did.
  const { Blockchain } = require('@ton/sandbox');
  const chain = await Blockchain.create();
  chain.now = req.now;
  const treasury = await chain.treasury('funder');
  const walletAddr = Address.parse(req.wallet);
  await treasury.send({ to: walletAddr, value: BigInt(req.fund), bounce: false });
  const results = [];
  for (const msgHex of req.messages) {
    const before = {};
    for (const d of req.watch) before[d] = (await chain.getContract(Address.parse(d))).balance;
    const res = await chain.sendMessage(Cell.fromBoc(Buffer.from(msgHex, 'hex'))[0]);
    const walletTx = res.transactions.find((t) => t.inMessage && t.inMessage.info.type === 'external-in');
    const desc = walletTx.description;
    const after = {};
    for (const d of req.watch) after[d] = (await chain.getContract(Address.parse(d))).balance;
    const seqno = (await chain.runGetMethod(walletAddr, 'seqno', [])).stackReader.readNumber();
    results.push({
      aborted: desc.aborted,
      computeSuccess: desc.computePhase.type === 'vm' ? desc.computePhase.success : false,
      exitCode: desc.computePhase.type === 'vm' ? desc.computePhase.exitCode : null,
      actionSuccess: desc.actionPhase ? desc.actionPhase.success : null,
      outMessages: walletTx.outMessagesCount,
      // The hash the chain records: transaction cell -> ^[in_msg:(Maybe ^Message) ...] -> the message cell.
      inMessageHash: hex(walletTx.raw.refs[0].refs[0].hash()),
      seqno,
      received: Object.fromEntries(req.watch.map((d) => [d, (after[d] - before[d]).toString()])),
      transactions: res.transactions.length,
    });
  }
  if (req.replayLast) {
    // Sending the last message again must fail: the wallet's seqno has moved on.
    let accepted = true;
    try {
      await chain.sendMessage(Cell.fromBoc(Buffer.from(req.messages[req.messages.length - 1], 'hex'))[0]);
    } catch (e) {
      accepted = false;
    }
    results.push({ replayAccepted: accepted });
  }
  return results;
}

async function handle(req) {
  switch (req.op) {
    case 'boc': {
      // Parse a BoC made by Cocoon.Ton; hash and re-serialize every root.
      const roots = Cell.fromBoc(Buffer.from(req.boc, 'hex'));
      return { roots: roots.map(describe) };
    }
    case 'randomTrees': {
      const r = rng(req.seed);
      const out = [];
      for (let i = 0; i < req.count; i++) {
        const pool = [];
        out.push(describe(randomTree(r, req.depth, pool)));
      }
      return out;
    }
    case 'merkleProof': {
      // A Merkle proof with pruned branches made by ton-core's own dictionary code.
      const r = rng(req.seed);
      const d = Dictionary.empty(Dictionary.Keys.Uint(32), Dictionary.Values.Uint(32));
      const keys = [];
      for (let i = 0; i < req.size; i++) { const k = Math.floor(r() * 4294967295); keys.push(k); d.set(k, Math.floor(r() * 4294967295)); }
      const chosen = keys.filter(() => r() < req.fraction);
      if (chosen.length === 0) chosen.push(keys[0]);
      const proof = d.generateMerkleProof(chosen);
      const root = beginCell().storeDictDirect(d).endCell();
      return { proof: describe(proof), dictHash: hex(root.hash()), entries: d.keys().map((k) => [k, d.get(k)]) };
    }
    case 'build': {
      const cell = buildOps(req.ops);
      return { boc: bocOf(cell, false, true), hash: hex(cell.hash()) };
    }
    case 'read': {
      return readOps(Cell.fromBoc(Buffer.from(req.boc, 'hex'))[0], req.ops);
    }
    case 'address': {
      const a = new Address(req.workchain, Buffer.from(req.hash, 'hex'));
      const forms = {};
      for (const bounceable of [true, false]) for (const testOnly of [true, false]) for (const urlSafe of [true, false]) {
        forms[`${bounceable ? 'b' : 'n'}${testOnly ? 't' : 'm'}${urlSafe ? 'u' : 's'}`] = a.toString({ bounceable, testOnly, urlSafe });
      }
      return { raw: a.toRawString(), forms };
    }
    case 'parseAddress': {
      const f = Address.parseFriendly(req.text);
      return { raw: f.address.toRawString(), bounceable: f.isBounceable, testOnly: f.isTestOnly };
    }
    case 'contractAddress': {
      const code = Cell.fromBoc(Buffer.from(req.code, 'hex'))[0];
      const data = Cell.fromBoc(Buffer.from(req.data, 'hex'))[0];
      return contractAddress(req.workchain, { code, data }).toRawString();
    }
    case 'mnemonic': {
      const valid = await mnemonicValidate(req.words);
      if (!valid) return { valid };
      const kp = await mnemonicToPrivateKey(req.words);
      return { valid, publicKey: hex(kp.publicKey), seed: hex(kp.secretKey.subarray(0, 32)) };
    }
    case 'mnemonicNew': {
      const words = await mnemonicNew(24);
      const kp = await mnemonicToPrivateKey(words);
      return { words, publicKey: hex(kp.publicKey) };
    }
    case 'sign': {
      const kp = keyPairFromSeed(Buffer.from(req.seed, 'hex'));
      return { publicKey: hex(kp.publicKey), signature: hex(sign(Buffer.from(req.data, 'hex'), kp.secretKey)) };
    }
    case 'wallet': {
      const kp = keyPairFromSeed(Buffer.from(req.seed, 'hex'));
      const w = walletOf(req.wallet, kp.publicKey, req.workchain, req.testnet);
      return { raw: w.address.toRawString(), init: bocOf(beginCell().storeRef(w.init.code).storeRef(w.init.data).endCell(), false, true), publicKey: hex(kp.publicKey) };
    }
    case 'transfer': return transfer(req);
    case 'sandbox': return sandboxTransfer(req);
    case 'textComment': {
      const c = beginCell().storeUint(0, 32).storeStringTail(req.text).endCell();
      return bocOf(c, false, true);
    }
    default: throw new Error('unknown op ' + req.op);
  }
}

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const batch = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const results = [];
  for (const req of batch.requests) {
    try {
      results.push({ ok: await handle(req) });
    } catch (e) {
      results.push({ error: String(e && e.message ? e.message : e) });
    }
  }
  process.stdout.write(JSON.stringify({ results }));
}

main().catch((e) => { process.stderr.write(String(e && e.stack ? e.stack : e)); process.exit(1); });
