'use strict';
// Times @ton/core / @ton/ton on the same inputs as tests/Cocoon.Ton.Benchmarks so the report can give ratios.
// Usage: node bench.js            (prints ns/op per case)
//        node bench.js --write-inputs DIR   (writes the shared inputs; already committed under Benchmarks/Inputs)
const fs = require('fs');
const path = require('path');
const { Cell, beginCell, Address, internal, SendMode } = require('@ton/core');
const { keyPairFromSeed, sign } = require('@ton/crypto');
const { WalletContractV4 } = require('@ton/ton');

const inputs = process.argv[2] === '--write-inputs' ? process.argv[3] : path.join(__dirname, '..', 'Cocoon.Ton.Benchmarks', 'Inputs');

function rng(seed) {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 4294967296; };
}

function tree(r, depth) {
  const b = beginCell();
  const bits = Math.floor(r() * 1000);
  for (let i = 0; i < bits; i++) b.storeBit(r() < 0.5);
  const refs = depth <= 0 ? 0 : 1 + Math.floor(r() * 3);
  for (let i = 0; i < refs; i++) b.storeRef(tree(r, depth - 1));
  return b.endCell();
}

if (process.argv[2] === '--write-inputs') {
  fs.mkdirSync(inputs, { recursive: true });
  const big = tree(rng(42), 6);
  fs.writeFileSync(path.join(inputs, 'large.boc'), big.toBoc({ idx: false, crc32: true }));
  console.log('large.boc cells:', Cell.fromBoc(fs.readFileSync(path.join(inputs, 'large.boc')))[0].depth());
  process.exit(0);
}

function bench(name, fn) {
  // Warm up, then pick an iteration count that runs ~1 s and report the best of 5 rounds.
  let n = 1;
  for (;;) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    const dt = Number(process.hrtime.bigint() - t);
    if (dt > 2e8) break;
    n *= 2;
  }
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / n);
  }
  console.log(`${name.padEnd(28)} ${best.toFixed(0).padStart(12)} ns/op`);
  return best;
}

const walletCode = WalletContractV4.create({ workchain: 0, publicKey: Buffer.alloc(32) }).init.code;
const walletBoc = walletCode.toBoc({ idx: false, crc32: true });
const largeBoc = fs.readFileSync(path.join(inputs, 'large.boc'));
const large = Cell.fromBoc(largeBoc)[0];
const data = Buffer.alloc(1023 / 8 | 0, 0x5a);
const children = [0, 1, 2, 3].map((i) => beginCell().storeUint(i, 8).endCell());
const seed = Buffer.alloc(32, 7);
const kp = keyPairFromSeed(seed);
const wallet = WalletContractV4.create({ workchain: 0, publicKey: kp.publicKey });
const to = Address.parse('EQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4wJB');
const hash32 = Buffer.alloc(32, 1);

bench('CellBuildAndHash', () => {
  const b = beginCell().storeBuffer(data).storeUint(5, 7);
  for (const c of children) b.storeRef(c);
  return b.endCell().hash();
});
bench('ParseWalletCode', () => Cell.fromBoc(walletBoc));
bench('ParseLarge', () => Cell.fromBoc(largeBoc));
bench('SerializeWalletCode', () => walletCode.toBoc({ idx: false, crc32: true }));
bench('SerializeLarge', () => large.toBoc({ idx: false, crc32: true }));
bench('SignV4Transfer', () => wallet.createTransfer({ seqno: 1, secretKey: kp.secretKey, sendMode: SendMode.PAY_GAS_SEPARATELY, timeout: 1800000000, messages: [internal({ to, value: 1000000000n, bounce: false, body: 'hello' })] }));
bench('BareEd25519Sign', () => sign(hash32, kp.secretKey));
