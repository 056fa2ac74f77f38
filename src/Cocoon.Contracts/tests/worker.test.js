'use strict';
const { test, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { Blockchain } = require('@ton/sandbox');
const { beginCell, toNano } = require('@ton/core');
const { OP, ERR, committedCode, keyPair, signedBody, deploy, exitCodeOf, reportGas, getInt, valueSent } = require('./helpers.js');

const FEE = 1n;                    // worker_fee_per_token, nanoTON
const TOP_UP_FEE = toNano('0.01');

let chain, owner, proxy, stranger, proxyKey, worker;

function workerData(ownerAddr, proxyAddr, publicKey) {
    const params = beginCell().storeCoins(FEE).endCell();
    return beginCell().storeAddress(ownerAddr).storeAddress(proxyAddr).storeBuffer(publicKey).storeUint(0, 2)
        .storeUint(0, 64).storeCoins(0).storeRef(params).endCell();
}

function topUpBody() {
    return beginCell().storeUint(OP.workerTopUp, 32).storeUint(1, 64).endCell();
}

function payout(tokens, opts = {}) {
    return signedBody({ op: opts.op ?? OP.workerPayoutSigned, qid: opts.qid ?? 5, tokens, target: opts.target ?? worker,
        secretKey: opts.secretKey ?? proxyKey.secretKey, excesses: opts.excesses ?? null });
}

async function send(from, body, value = toNano('0.1')) {
    return from.send({ to: worker, value, body, bounce: false });
}

async function balanceOf(address) {
    return (await chain.getContract(address)).balance;
}

beforeEach(async () => {
    chain = await Blockchain.create();
    owner = await chain.treasury('worker-owner');
    proxy = await chain.treasury('proxy');
    stranger = await chain.treasury('stranger');
    proxyKey = keyPair(3);
    const d = await deploy(chain, proxy, committedCode('worker'), workerData(owner.address, proxy.address, proxyKey.publicKey),
        toNano('5'), topUpBody());
    worker = d.address;
    assert.equal(exitCodeOf(d.result, worker), 0);
    reportGas('worker', 'deploy+top_up', d.result, worker);
});

test('get-methods after a prefunding deploy', async () => {
    assert.equal(await getInt(chain, worker, 'get_balance'), toNano('5') - TOP_UP_FEE);
    assert.equal(await getInt(chain, worker, 'get_tokens_paid'), 0n);
    assert.equal(await getInt(chain, worker, 'get_state'), 0n);
    assert.equal(await getInt(chain, worker, 'get_worker_fee_per_token'), FEE);
});

test('anyone may top up', async () => {
    const r = await send(stranger, topUpBody(), toNano('1'));
    assert.equal(exitCodeOf(r, worker), 0);
    reportGas('worker', 'top_up', r, worker);
    assert.equal(await getInt(chain, worker, 'get_balance'), toNano('6') - 2n * TOP_UP_FEE);
});

test('signed payout sends (new - paid) * fee to the owner; tokens only ever grow', async () => {
    const r = await send(stranger, payout(toNano('1'), { excesses: stranger.address }));
    assert.equal(exitCodeOf(r, worker), 0);
    reportGas('worker', 'payout_signed', r, worker);
    assert.equal(valueSent(r, worker, owner.address), toNano('1'));
    const excess = valueSent(r, worker, stranger.address);
    assert.ok(excess > toNano('0.09') && excess < toNano('0.1'), `excesses ${excess}`);
    assert.equal(await getInt(chain, worker, 'get_tokens_paid'), toNano('1'));

    assert.equal(exitCodeOf(await send(stranger, payout(toNano('1'))), worker), ERR.tokensNotIncreasing);
    assert.equal(exitCodeOf(await send(stranger, payout(toNano('0.5'))), worker), ERR.tokensNotIncreasing);

    const r2 = await send(proxy, payout(toNano('1.25'), { qid: 6 }));
    assert.equal(exitCodeOf(r2, worker), 0);
    assert.equal(valueSent(r2, worker, owner.address), toNano('0.25'));
    assert.equal(await getInt(chain, worker, 'get_balance'), toNano('5') - TOP_UP_FEE - toNano('1.25'));
});

test('payout refusals: bad signature, wrong target, not enough funds', async () => {
    assert.equal(exitCodeOf(await send(proxy, payout(10n, { secretKey: keyPair(4).secretKey })), worker), ERR.badSignature);
    assert.equal(exitCodeOf(await send(proxy, payout(10n, { target: owner.address })), worker), ERR.wrongTarget);
    assert.equal(exitCodeOf(await send(proxy, payout(toNano('5'))), worker), ERR.notEnoughFunds);
    const charge = signedBody({ op: OP.clientChargeSigned, qid: 1, tokens: 10n, target: worker, secretKey: proxyKey.secretKey });
    assert.equal(exitCodeOf(await send(proxy, charge), worker), ERR.unknownOp);
    assert.equal(await getInt(chain, worker, 'get_tokens_paid'), 0n);
});

test('last payout pays the owner, returns the prefund to the proxy and closes', async () => {
    await send(proxy, payout(100n));
    const r = await send(stranger, payout(toNano('2'), { op: OP.workerLastPayoutSigned }));
    assert.equal(exitCodeOf(r, worker), 0);
    reportGas('worker', 'last_payout_signed', r, worker);
    assert.equal(valueSent(r, worker, owner.address), toNano('2') - 100n);
    assert.ok(valueSent(r, worker, proxy.address) > toNano('2.9'));
    assert.equal(await balanceOf(worker), 0n);
    assert.equal(await getInt(chain, worker, 'get_state'), 2n);
    assert.equal(exitCodeOf(await send(proxy, payout(toNano('3'))), worker), ERR.wrongState);
    assert.equal(exitCodeOf(await send(proxy, topUpBody()), worker), ERR.wrongState);
});

test('last payout with fewer tokens than paid is refused', async () => {
    await send(proxy, payout(100n));
    assert.equal(exitCodeOf(await send(proxy, payout(99n, { op: OP.workerLastPayoutSigned })), worker), ERR.tokensNotIncreasing);
});

function withdrawBody(amount) {
    return beginCell().storeUint(OP.workerWithdraw, 32).storeUint(2, 64).storeCoins(amount).endCell();
}

test('owner withdraws TON beyond the prefund; more, or another sender, is refused', async () => {
    // a plain transfer-like top-up is credited to the prefund, so nothing is free yet
    assert.equal(exitCodeOf(await send(owner, withdrawBody(toNano('0.001'))), worker), ERR.notEnoughFunds);
    // TON arriving with a refused, non-bounceable message stays in the contract without being credited
    await chain.sendMessage({
        info: { type: 'internal', ihrDisabled: true, bounce: false, bounced: false, src: stranger.address, dest: worker,
            value: { coins: toNano('1') }, ihrFee: 0n, forwardFee: 0n, createdLt: 0n, createdAt: 0 },
        body: withdrawBody(0n),
    });
    assert.equal(exitCodeOf(await send(stranger, withdrawBody(1n)), worker), ERR.wrongSender);
    const r = await send(owner, withdrawBody(toNano('0.5')));
    assert.equal(exitCodeOf(r, worker), 0);
    reportGas('worker', 'owner_withdraw', r, worker);
    assert.ok(valueSent(r, worker, owner.address) > toNano('0.5'));
    assert.equal(await getInt(chain, worker, 'get_balance'), toNano('5') - TOP_UP_FEE);
    assert.equal(exitCodeOf(await send(owner, withdrawBody(toNano('1'))), worker), ERR.notEnoughFunds);
});
