'use strict';
// Shared test helpers: committed code, sandbox deployment, proxy-signed settlements, gas reporting.
const fs = require('node:fs');
const { beginCell, contractAddress, Cell } = require('@ton/core');
const { keyPairFromSeed, sign } = require('@ton/crypto');
const { buildPath } = require('../scripts/build.js');

const OP = {
    excesses: 0x2565934c,
    clientTopUp: 0xf172e6c2,
    clientChargeSigned: 0xbb63ff93,
    clientGrantRefundSigned: 0xefd711e1,
    clientWithdraw: 0xda068e78,
    clientRequestRefund: 0xfafa6cc1,
    workerTopUp: 0xb5238a1f,
    workerPayoutSigned: 0xa040ad28,
    workerLastPayoutSigned: 0xf5f26a36,
    workerWithdraw: 0x201185ff,
};

const ERR = {
    wrongSender: 401,
    badSignature: 402,
    wrongTarget: 403,
    malformed: 404,
    tokensNotIncreasing: 405,
    notEnoughFunds: 406,
    wrongState: 407,
    tooEarly: 408,
    seqnoNotIncreasing: 409,
    notRegistered: 410,
    unknownOp: 0xffff,
};

function committedCode(name) {
    const built = JSON.parse(fs.readFileSync(buildPath(name), 'utf8'));
    return Cell.fromBase64(built.codeBoc64);
}

function keyPair(seedByte) {
    return keyPairFromSeed(Buffer.alloc(32, seedByte));
}

// op:32 qid:64 tokens:64 target_address, exactly as Cocoon.Ton's SettlementPayload.ToCell().
function payloadCell(op, qid, tokens, target) {
    return beginCell().storeUint(op, 32).storeUint(qid, 64).storeUint(tokens, 64).storeAddress(target).endCell();
}

// op qid excesses_address signature ^payload, signature = Ed25519 over the payload cell hash.
function signedBody({ op, qid, tokens, target, secretKey, excesses = null, payloadOp = op, payloadQid = qid }) {
    const payload = payloadCell(payloadOp, payloadQid, tokens, target);
    const signature = sign(payload.hash(), secretKey);
    return beginCell().storeUint(op, 32).storeUint(qid, 64).storeAddress(excesses).storeBuffer(signature).storeRef(payload).endCell();
}

async function deploy(blockchain, via, code, data, value, body) {
    const init = { code, data };
    const address = contractAddress(0, init);
    const result = await via.send({ to: address, value, init, body, bounce: false });
    return { address, result };
}

function txTo(result, address) {
    return result.transactions.find((t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.dest.equals(address));
}

function gasOf(result, address) {
    const tx = txTo(result, address);
    const d = tx.description;
    return d.type === 'generic' && d.computePhase.type === 'vm' ? d.computePhase.gasUsed : 0n;
}

function exitCodeOf(result, address) {
    const d = txTo(result, address).description;
    return d.computePhase.type === 'vm' ? d.computePhase.exitCode : -1;
}

function reportGas(contract, operation, result, address) {
    console.log(`gas ${contract}.${operation}: ${gasOf(result, address)}`);
}

// Sum of the TON carried by the internal messages `from` sent to `to` in this result.
function valueSent(result, from, to) {
    let sum = 0n;
    for (const t of result.transactions) {
        const info = t.inMessage?.info;
        if (info?.type === 'internal' && info.src.equals(from) && info.dest.equals(to)) {
            sum += info.value.coins;
        }
    }
    return sum;
}

async function getInt(blockchain, address, method, args = []) {
    const r = await blockchain.runGetMethod(address, method, args);
    return r.stackReader.readBigNumber();
}

module.exports = { OP, ERR, committedCode, keyPair, payloadCell, signedBody, deploy, txTo, gasOf, exitCodeOf, reportGas, getInt, valueSent };
