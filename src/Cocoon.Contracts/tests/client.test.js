'use strict';
const { test, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { Blockchain } = require('@ton/sandbox');
const { beginCell, toNano } = require('@ton/core');
const { OP, ERR, committedCode, keyPair, signedBody, deploy, exitCodeOf, reportGas, getInt, valueSent } = require('./helpers.js');

const PRICE = 2n;          // nanoTON per adjusted token
const DELAY = 300;         // client_delay_before_close, seconds
const STAKE = toNano('1');
const TOP_UP_FEE = toNano('0.01');

let chain, owner, proxy, stranger, proxyKey, client;

function clientData(ownerAddr, proxyAddr, publicKey) {
    const identity = beginCell().storeAddress(ownerAddr).storeAddress(proxyAddr).storeBuffer(publicKey).endCell();
    const params = beginCell().storeCoins(PRICE).storeUint(DELAY, 32).endCell();
    return beginCell().storeUint(0, 2).storeCoins(0).storeCoins(STAKE).storeUint(0, 64).storeUint(0, 32)
        .storeRef(identity).storeRef(params).endCell();
}

function topUpBody(qid = 1) {
    return beginCell().storeUint(OP.clientTopUp, 32).storeUint(qid, 64).endCell();
}

function charge(tokens, opts = {}) {
    return signedBody({ op: OP.clientChargeSigned, qid: opts.qid ?? 7, tokens, target: opts.target ?? client,
        secretKey: opts.secretKey ?? proxyKey.secretKey, excesses: 'excesses' in opts ? opts.excesses : proxy.address, ...opts.extra });
}

async function send(from, body, value = toNano('0.1')) {
    return from.send({ to: client, value, body, bounce: false });
}

beforeEach(async () => {
    chain = await Blockchain.create();
    chain.now = 1_800_000_000;
    owner = await chain.treasury('owner');
    proxy = await chain.treasury('proxy');
    stranger = await chain.treasury('stranger');
    proxyKey = keyPair(1);
    const d = await deploy(chain, owner, committedCode('client'), clientData(owner.address, proxy.address, proxyKey.publicKey),
        toNano('3'), topUpBody());
    client = d.address;
    assert.equal(exitCodeOf(d.result, client), 0);
    reportGas('client', 'deploy+top_up', d.result, client);
});

test('deploy with a top-up credits the value less the fee; get-methods', async () => {
    assert.equal(await getInt(chain, client, 'get_balance'), toNano('3') - TOP_UP_FEE);
    assert.equal(await getInt(chain, client, 'get_stake'), STAKE);
    assert.equal(await getInt(chain, client, 'get_tokens_charged'), 0n);
    assert.equal(await getInt(chain, client, 'get_state'), 0n);
});

test('anyone may top up', async () => {
    const r = await send(stranger, topUpBody(2), toNano('2'));
    assert.equal(exitCodeOf(r, client), 0);
    reportGas('client', 'top_up', r, client);
    assert.equal(await getInt(chain, client, 'get_balance'), toNano('5') - 2n * TOP_UP_FEE);
});

test('top-up at or below the fee is refused', async () => {
    const r = await send(stranger, topUpBody(2), TOP_UP_FEE);
    assert.equal(exitCodeOf(r, client), ERR.notEnoughFunds);
});

test('proxy-signed charge pays the proxy and only ever grows', async () => {
    const r = await send(stranger, charge(1_000_000_000n, { excesses: stranger.address }));
    assert.equal(exitCodeOf(r, client), 0);
    reportGas('client', 'charge_signed', r, client);
    assert.equal(await getInt(chain, client, 'get_tokens_charged'), 1_000_000_000n);
    assert.equal(await getInt(chain, client, 'get_balance'), toNano('3') - TOP_UP_FEE - 2n * 1_000_000_000n);
    assert.equal(valueSent(r, client, proxy.address), 2n * 1_000_000_000n);
    const excess = valueSent(r, client, stranger.address);
    assert.ok(excess > toNano('0.09') && excess < toNano('0.1'), `excesses ${excess}`);

    const replay = await send(stranger, charge(1_000_000_000n));
    assert.equal(exitCodeOf(replay, client), ERR.tokensNotIncreasing);
    const smaller = await send(stranger, charge(999n));
    assert.equal(exitCodeOf(smaller, client), ERR.tokensNotIncreasing);

    const more = await send(proxy, charge(1_000_000_100n, { qid: 8, excesses: stranger.address }));
    assert.equal(exitCodeOf(more, client), 0);
    assert.equal(valueSent(more, client, proxy.address), 200n);
    assert.equal(await getInt(chain, client, 'get_balance'), toNano('3') - TOP_UP_FEE - 2n * 1_000_000_100n);
});

test('a charge above the balance takes only the balance', async () => {
    const r = await send(stranger, charge(10_000_000_000n, { excesses: null }));
    assert.equal(exitCodeOf(r, client), 0);
    assert.equal(valueSent(r, client, proxy.address), toNano('3') - TOP_UP_FEE);
    assert.equal(valueSent(r, client, stranger.address), 0n); // addr_none excesses: nothing sent back
    assert.equal(await getInt(chain, client, 'get_balance'), 0n);
    assert.equal(await getInt(chain, client, 'get_stake'), 0n);
    assert.equal(await getInt(chain, client, 'get_tokens_charged'), 10_000_000_000n);
});

test('charge refusals: bad signature, wrong target, op or qid mismatch, wrong op', async () => {
    const other = keyPair(2);
    assert.equal(exitCodeOf(await send(proxy, charge(5n, { secretKey: other.secretKey })), client), ERR.badSignature);
    assert.equal(exitCodeOf(await send(proxy, charge(5n, { target: stranger.address })), client), ERR.wrongTarget);
    assert.equal(exitCodeOf(await send(proxy, charge(5n, { extra: { payloadQid: 99 } })), client), ERR.malformed);
    assert.equal(exitCodeOf(await send(proxy, charge(5n, { extra: { payloadOp: OP.workerPayoutSigned } })), client), ERR.malformed);
    // a tampered wrapper signature
    const good = charge(5n).beginParse();
    const tampered = beginCell().storeUint(good.loadUint(32), 32).storeUint(good.loadUintBig(64), 64).storeAddress(good.loadMaybeAddress())
        .storeBuffer(Buffer.alloc(64, 7)).storeRef(good.loadRef()).endCell();
    assert.equal(exitCodeOf(await send(proxy, tampered), client), ERR.badSignature);
    assert.equal(await getInt(chain, client, 'get_tokens_charged'), 0n);
});

test('a worker payout signed for this address is not a charge', async () => {
    const body = signedBody({ op: OP.workerPayoutSigned, qid: 1, tokens: 5n, target: client, secretKey: proxyKey.secretKey });
    assert.equal(exitCodeOf(await send(proxy, body), client), ERR.unknownOp);
});

function withdrawBody(amount) {
    return beginCell().storeUint(OP.clientWithdraw, 32).storeUint(3, 64).storeCoins(amount).endCell();
}

test('owner withdraws the balance above the stake; more, or another sender, is refused', async () => {
    const free = toNano('3') - TOP_UP_FEE - STAKE;
    assert.equal(exitCodeOf(await send(owner, withdrawBody(free + 1n)), client), ERR.notEnoughFunds);
    assert.equal(exitCodeOf(await send(stranger, withdrawBody(1n)), client), ERR.wrongSender);
    const before = (await chain.getContract(owner.address)).balance;
    const r = await send(owner, withdrawBody(free));
    assert.equal(exitCodeOf(r, client), 0);
    reportGas('client', 'withdraw', r, client);
    assert.equal(await getInt(chain, client, 'get_balance'), STAKE);
    const after = (await chain.getContract(owner.address)).balance;
    assert.ok(after - before > free - toNano('0.1'), `owner got back ${after - before}`);
});

function refundBody() {
    return beginCell().storeUint(OP.clientRequestRefund, 32).storeUint(4, 64).endCell();
}

test('close request, too early refused, close after client_delay_before_close', async () => {
    assert.equal(exitCodeOf(await send(stranger, refundBody()), client), ERR.wrongSender);
    const r = await send(owner, refundBody());
    assert.equal(exitCodeOf(r, client), 0);
    reportGas('client', 'request_refund', r, client);
    assert.equal(await getInt(chain, client, 'get_state'), 1n);
    assert.equal(await getInt(chain, client, 'get_unlock_ts'), BigInt(chain.now + DELAY));
    // closing: no top-up, no withdrawal
    assert.equal(exitCodeOf(await send(owner, topUpBody()), client), ERR.wrongState);
    assert.equal(exitCodeOf(await send(owner, withdrawBody(1n)), client), ERR.wrongState);
    chain.now += DELAY - 1;
    assert.equal(exitCodeOf(await send(owner, refundBody()), client), ERR.tooEarly);
    // the proxy may still charge while closing
    assert.equal(exitCodeOf(await send(proxy, charge(100n)), client), 0);
    chain.now += 1;
    const before = (await chain.getContract(owner.address)).balance;
    const close = await send(owner, refundBody());
    assert.equal(exitCodeOf(close, client), 0);
    reportGas('client', 'close', close, client);
    assert.equal(await getInt(chain, client, 'get_state'), 2n);
    assert.equal(await getInt(chain, client, 'get_balance'), 0n);
    const after = (await chain.getContract(owner.address)).balance;
    assert.ok(after - before > toNano('2.9'), `owner got back ${after - before}`);
    assert.equal((await chain.getContract(client)).balance, 0n);
    // closed: charges refused
    assert.equal(exitCodeOf(await send(proxy, charge(200n)), client), ERR.wrongState);
});

test('proxy-signed grant refund charges the final tokens and returns the rest to the owner', async () => {
    await send(owner, refundBody());
    const body = signedBody({ op: OP.clientGrantRefundSigned, qid: 9, tokens: 500n, target: client, secretKey: proxyKey.secretKey });
    const before = (await chain.getContract(owner.address)).balance;
    const r = await send(proxy, body);
    assert.equal(exitCodeOf(r, client), 0);
    reportGas('client', 'grant_refund_signed', r, client);
    assert.equal(await getInt(chain, client, 'get_state'), 2n);
    assert.equal(await getInt(chain, client, 'get_tokens_charged'), 500n);
    const after = (await chain.getContract(owner.address)).balance;
    assert.ok(after - before > toNano('2.9'), `owner got back ${after - before}`);
});

test('grant refund with fewer tokens than charged is refused', async () => {
    await send(proxy, charge(1000n));
    const body = signedBody({ op: OP.clientGrantRefundSigned, qid: 9, tokens: 999n, target: client, secretKey: proxyKey.secretKey });
    assert.equal(exitCodeOf(await send(proxy, body), client), ERR.tokensNotIncreasing);
});

test('an unknown op or empty body is refused', async () => {
    assert.equal(exitCodeOf(await send(stranger, beginCell().endCell()), client), ERR.unknownOp);
    assert.equal(exitCodeOf(await send(stranger, beginCell().storeUint(0x12345678, 32).endCell()), client), ERR.unknownOp);
});

test('leftover bits in the signed payload or in the wrapper are refused', async () => {
    const payload = beginCell().storeUint(OP.clientChargeSigned, 32).storeUint(7, 64).storeUint(5, 64).storeAddress(client).storeUint(1, 1).endCell();
    const { sign } = require('@ton/crypto');
    const body = beginCell().storeUint(OP.clientChargeSigned, 32).storeUint(7, 64).storeAddress(null)
        .storeBuffer(sign(payload.hash(), proxyKey.secretKey)).storeRef(payload).endCell();
    assert.equal(exitCodeOf(await send(proxy, body), client), ERR.malformed);
    const good = charge(5n).beginParse();
    const extra = beginCell().storeSlice(good).storeUint(0, 8).endCell();
    assert.equal(exitCodeOf(await send(proxy, extra), client), 9);
    assert.equal(await getInt(chain, client, 'get_tokens_charged'), 0n);
});

test('an external excesses address is refused and nothing is charged', async () => {
    const { ExternalAddress } = require('@ton/core');
    const r = await send(proxy, charge(5n, { excesses: new ExternalAddress(5n, 8) }));
    assert.equal(exitCodeOf(r, client), 9);
    assert.equal(await getInt(chain, client, 'get_tokens_charged'), 0n);
});
