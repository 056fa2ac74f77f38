'use strict';
// The signed bodies the contract tests send are built by helpers.signedBody(). This pins that they are the exact
// cells Cocoon.Ton's Ed25519SettlementSigner produces: fixtures/cocoon-ton-signed.json was written by that
// signer (seed 0x2a x 32) and Ed25519 is deterministic, so equal hashes mean equal payload, wrapper and signature.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Address, Cell } = require('@ton/core');
const { keyPairFromSeed, signVerify } = require('@ton/crypto');
const { signedBody } = require('./helpers.js');

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'cocoon-ton-signed.json'), 'utf8'));
const key = keyPairFromSeed(Buffer.from(fixture.seedHex, 'hex'));

test('the fixture key is the seed\'s Ed25519 key', () => {
    assert.equal(key.publicKey.toString('hex'), fixture.publicKeyHex);
});

for (const v of fixture.vectors) {
    test(`helpers.signedBody equals Cocoon.Ton's signed body for op 0x${v.op.toString(16)}`, () => {
        const csharp = Cell.fromBase64(v.bodyBoc64);
        const ours = signedBody({ op: v.op, qid: BigInt(v.queryId), tokens: BigInt(v.tokens), target: Address.parse(fixture.target),
            secretKey: key.secretKey, excesses: v.excesses === null ? null : Address.parse(v.excesses) });
        assert.equal(ours.hash().toString('hex'), csharp.hash().toString('hex'));
        const s = csharp.beginParse();
        s.skip(32 + 64);
        s.loadMaybeAddress();
        const signature = s.loadBuffer(64);
        assert.ok(signVerify(s.loadRef().hash(), signature, key.publicKey));
    });
}
