'use strict';
const { test, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { Blockchain } = require('@ton/sandbox');
const { beginCell, toNano } = require('@ton/core');
const { ERR, committedCode, deploy, exitCodeOf, reportGas } = require('./helpers.js');

const OP = {
    addWorkerType: 0xe34b1c60, delWorkerType: 0x8d94a79a, addProxyType: 0x71860e80, delProxyType: 0x3c41d0b2,
    addModelHash: 0xa3083851, delModelHash: 0xfc31f947, registerProxy: 0x927c7cb5, unregisterProxy: 0x6d49eaf2,
    changeParams: 0xc52ed8d4, proxySaveState: 0x53109c0f,
};

// DESIGN 5 parameters in RootParams order; the fake-TON defaults of reference/cocoon.md section 3.
const PARAMS = {
    paramsVersion: 1n, pricePerToken: 2n, workerFeePerToken: 1n,
    prompt: 10000n, cached: 1000n, completion: 30000n, reasoning: 30000n,
    proxyDelay: 600n, clientDelay: 300n, minProxyStake: toNano('1'), minClientStake: toNano('1'),
};

function paramsCell(p) {
    return beginCell().storeUint(p.paramsVersion, 32).storeCoins(p.pricePerToken).storeCoins(p.workerFeePerToken)
        .storeUint(p.prompt, 32).storeUint(p.cached, 32).storeUint(p.completion, 32).storeUint(p.reasoning, 32)
        .storeUint(p.proxyDelay, 32).storeUint(p.clientDelay, 32).storeCoins(p.minProxyStake).storeCoins(p.minClientStake).endCell();
}

function rootData(ownerAddr) {
    const empty = beginCell().storeMaybeRef(null).storeMaybeRef(null).storeMaybeRef(null).storeMaybeRef(null).endCell();
    return beginCell().storeAddress(ownerAddr).storeRef(empty).storeRef(paramsCell(PARAMS)).endCell();
}

let chain, owner, proxy, stranger, root;

function hashBody(op, hash) {
    return beginCell().storeUint(op, 32).storeUint(1, 64).storeUint(hash, 256).endCell();
}

function registerBody(address, publicKey) {
    return beginCell().storeUint(OP.registerProxy, 32).storeUint(2, 64).storeAddress(address).storeUint(publicKey, 256).endCell();
}

function unregisterBody(address) {
    return beginCell().storeUint(OP.unregisterProxy, 32).storeUint(3, 64).storeAddress(address).endCell();
}

function saveStateBody(seqno, stateHash) {
    return beginCell().storeUint(OP.proxySaveState, 32).storeUint(4, 64).storeUint(seqno, 64).storeUint(stateHash, 256).endCell();
}

async function send(from, body, value = toNano('0.05')) {
    return from.send({ to: root, value, body, bounce: false });
}

async function has(method, hash) {
    const r = await chain.runGetMethod(root, method, [{ type: 'int', value: hash }]);
    return r.stackReader.readBoolean();
}

async function getProxy(address) {
    const r = await chain.runGetMethod(root, 'get_proxy', [{ type: 'slice', cell: beginCell().storeAddress(address).endCell() }]);
    const s = r.stackReader;
    return { registered: s.readBoolean(), publicKey: s.readBigNumber(), seqno: s.readBigNumber(), stateHash: s.readBigNumber() };
}

async function getParams() {
    const s = (await chain.runGetMethod(root, 'get_params')).stackReader;
    const out = {};
    for (const k of Object.keys(PARAMS)) {
        out[k] = s.readBigNumber();
    }
    return out;
}

beforeEach(async () => {
    chain = await Blockchain.create();
    owner = await chain.treasury('root-owner');
    proxy = await chain.treasury('proxy');
    stranger = await chain.treasury('stranger');
    const d = await deploy(chain, owner, committedCode('root'), rootData(owner.address), toNano('1'), hashBody(OP.addModelHash, 1n));
    root = d.address;
    assert.equal(exitCodeOf(d.result, root), 0);
});

test('get_owner and get_params return the deployed values', async () => {
    const r = await chain.runGetMethod(root, 'get_owner');
    assert.ok(r.stackReader.readAddress().equals(owner.address));
    assert.deepEqual(await getParams(), PARAMS);
});

for (const [kind, add, del, getter] of [
    ['worker image hash', OP.addWorkerType, OP.delWorkerType, 'has_worker_hash'],
    ['proxy image hash', OP.addProxyType, OP.delProxyType, 'has_proxy_hash'],
    ['model hash', OP.addModelHash, OP.delModelHash, 'has_model_hash'],
]) {
    test(`owner adds and removes a ${kind}; others are refused`, async () => {
        const h = 0xabcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789n;
        assert.equal(await has(getter, h), false);
        assert.equal(exitCodeOf(await send(stranger, hashBody(add, h)), root), ERR.wrongSender);
        const a = await send(owner, hashBody(add, h));
        assert.equal(exitCodeOf(a, root), 0);
        reportGas('root', `add ${kind}`, a, root);
        assert.equal(await has(getter, h), true);
        assert.equal(await has(getter, h + 1n), false);
        assert.equal(exitCodeOf(await send(stranger, hashBody(del, h)), root), ERR.wrongSender);
        const d = await send(owner, hashBody(del, h));
        assert.equal(exitCodeOf(d, root), 0);
        reportGas('root', `del ${kind}`, d, root);
        assert.equal(await has(getter, h), false);
        assert.equal(exitCodeOf(await send(owner, hashBody(del, h)), root), ERR.notRegistered);
    });
}

test('owner registers and unregisters a proxy; twice, or by another sender, is refused', async () => {
    assert.equal((await getProxy(proxy.address)).registered, false);
    assert.equal(exitCodeOf(await send(stranger, registerBody(proxy.address, 77n)), root), ERR.wrongSender);
    const r = await send(owner, registerBody(proxy.address, 77n));
    assert.equal(exitCodeOf(r, root), 0);
    reportGas('root', 'register_proxy', r, root);
    assert.deepEqual(await getProxy(proxy.address), { registered: true, publicKey: 77n, seqno: 0n, stateHash: 0n });
    assert.equal(exitCodeOf(await send(owner, registerBody(proxy.address, 78n)), root), ERR.wrongState);
    assert.equal(exitCodeOf(await send(stranger, unregisterBody(proxy.address)), root), ERR.wrongSender);
    const u = await send(owner, unregisterBody(proxy.address));
    assert.equal(exitCodeOf(u, root), 0);
    reportGas('root', 'unregister_proxy', u, root);
    assert.equal((await getProxy(proxy.address)).registered, false);
    assert.equal(exitCodeOf(await send(owner, unregisterBody(proxy.address)), root), ERR.notRegistered);
});

test('a registered proxy commits its state with a strictly increasing seqno', async () => {
    assert.equal(exitCodeOf(await send(proxy, saveStateBody(1n, 5n)), root), ERR.notRegistered);
    await send(owner, registerBody(proxy.address, 77n));
    const r = await send(proxy, saveStateBody(1n, 0x1234n));
    assert.equal(exitCodeOf(r, root), 0);
    reportGas('root', 'proxy_save_state', r, root);
    assert.deepEqual(await getProxy(proxy.address), { registered: true, publicKey: 77n, seqno: 1n, stateHash: 0x1234n });
    assert.equal(exitCodeOf(await send(proxy, saveStateBody(1n, 0x9999n)), root), ERR.seqnoNotIncreasing);
    assert.equal(exitCodeOf(await send(proxy, saveStateBody(0n, 0x9999n)), root), ERR.seqnoNotIncreasing);
    assert.equal(exitCodeOf(await send(proxy, saveStateBody(10n, 0x5678n)), root), 0);
    assert.deepEqual(await getProxy(proxy.address), { registered: true, publicKey: 77n, seqno: 10n, stateHash: 0x5678n });
    // another address cannot commit for the proxy
    assert.equal(exitCodeOf(await send(stranger, saveStateBody(11n, 1n)), root), ERR.notRegistered);
});

test('owner changes the pricing parameters; the contract bumps params_version', async () => {
    const next = { ...PARAMS, paramsVersion: 999n, pricePerToken: 5n, workerFeePerToken: 3n, cached: 2500n, clientDelay: 86400n, minClientStake: toNano('2') };
    const body = beginCell().storeUint(OP.changeParams, 32).storeUint(5, 64).storeRef(paramsCell(next)).endCell();
    assert.equal(exitCodeOf(await send(stranger, body), root), ERR.wrongSender);
    const r = await send(owner, body);
    assert.equal(exitCodeOf(r, root), 0);
    reportGas('root', 'change_params', r, root);
    assert.deepEqual(await getParams(), { ...next, paramsVersion: 2n });
});

test('excess value returns to the sender; unknown op refused', async () => {
    const r = await send(owner, hashBody(OP.addWorkerType, 9n), toNano('1'));
    const back = r.transactions.find((t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.src.equals(root));
    assert.ok(back.inMessage.info.value.coins > toNano('0.99'));
    assert.equal(exitCodeOf(await send(owner, beginCell().storeUint(0xdeadbeef, 32).endCell()), root), ERR.unknownOp);
});
