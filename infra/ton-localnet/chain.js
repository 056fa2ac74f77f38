'use strict';
// The local chain: an @ton/sandbox Blockchain, a funded faucet, the owner's wallet v5r1 and the root contract,
// the transaction log the toncenter API serves, and the state file that makes all of it survive a restart.
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { Blockchain, snapshotToSerializable, snapshotFromSerializable } = require('@ton/sandbox');
const { Address, Cell, Dictionary, beginCell, contractAddress, internal, loadTransaction, storeMessageRelaxed, storeStateInit } = require('@ton/core');
const { keyPairFromSeed, sign } = require('@ton/crypto');

const STATE_FORMAT = 'cocoon-ton-localnet/1';

// Wallet v5r1 code as ton-org/ton ships it (ton-blockchain/wallet-contract-v5 build/wallet_v5.compiled.json);
// Cocoon.Ton's WalletCode.V5R1Hex is the same BoC and both are checked against its well-known code hash.
const WALLET_V5R1_HEX = 'b5ee9c7241021401000281000114ff00f4a413f4bcf2c80b01020120020d020148030402dcd020d749c120915b8f6320d70b1f2082106578746ebd21821073696e74bdb0925f03e082106578746eba8eb48020d72101d074d721fa4030fa44f828fa443058bd915be0ed44d0810141d721f4058307f40e6fa1319130e18040d721707fdb3ce03120d749810280b99130e070e2100f020120050c020120060902016e07080019adce76a2684020eb90eb85ffc00019af1df6a2684010eb90eb858fc00201480a0b0017b325fb51341c75c875c2c7e00011b262fb513435c280200019be5f0f6a2684080a0eb90fa02c0102f20e011e20d70b1f82107369676ebaf2e08a7f0f01e68ef0eda2edfb218308d722028308d723208020d721d31fd31fd31fed44d0d200d31f20d31fd3ffd70a000af90140ccf9109a28945f0adb31e1f2c087df02b35007b0f2d0845125baf2e0855036baf2e086f823bbf2d0882292f800de01a47fc8ca00cb1f01cf16c9ed542092f80fde70db3cd81003f6eda2edfb02f404216e926c218e4c0221d73930709421c700b38e2d01d72820761e436c20d749c008f2e09320d74ac002f2e09320d71d06c712c2005230b0f2d089d74cd7393001a4e86c128407bbf2e093d74ac000f2e093ed55e2d20001c000915be0ebd72c08142091709601d72c081c12e25210b1e30f20d74a111213009601fa4001fa44f828fa443058baf2e091ed44d0810141d718f405049d7fc8ca0040048307f453f2e08b8e14038307f45bf2e08c22d70a00216e01b3b0f2d090e2c85003cf1612f400c9ed54007230d72c08248e2d21f2e092d200ed44d0d2005113baf2d08f54503091319c01810140d721d70a00f2e08ee2c8ca0058cf16c9ed5493f2c08de20010935bdb31e1d74cd0b4d6c35e';
const WALLET_V5R1_HASH = '20834b7b72b112147e1b2fb457b84e74d1a30f04f737d4f62a668e9552d2b72f';
const WALLET_V4R2_HASH = 'feb5ff6820e2ff0d9483e7e0d62c817d846789fb4ae580c878866d959dabd5c0';
const WALLET_V5R1_CODE = Cell.fromHex(WALLET_V5R1_HEX);
if (WALLET_V5R1_CODE.hash().toString('hex') !== WALLET_V5R1_HASH) {
    throw new Error('wallet v5r1 code constant is damaged');
}

// Mainnet global id, workchain 0, subwallet 0 (ton-org/ton WalletV5R1WalletId.ts): what Cocoon.Ton's WalletV5R1
// uses by default, so the owner wallet here has the address C# computes for the same key.
const V5R1_WALLET_ID = (-239 ^ (0x80000000 | 0)) | 0;

// DESIGN 5 pricing at deploy, in RootParams order (root.tolk); the fake-TON values of
// shared/reference/cocoon.md section 3 (2 and 1 nanoTON per token), as the contract tests use them.
const DEFAULT_ROOT_PARAMS = {
    pricePerToken: 2n,
    workerFeePerToken: 1n,
    promptTokensPriceMultiplier: 10000n,
    cachedTokensPriceMultiplier: 1000n,
    completionTokensPriceMultiplier: 30000n,
    reasoningTokensPriceMultiplier: 30000n,
    proxyDelayBeforeClose: 600n,
    clientDelayBeforeClose: 300n,
    minProxyStake: 1000000000n,
    minClientStake: 1000000000n,
};

const OP_ROOT_CHANGE_PRICE = 0xc52ed8d4;
const FAUCET_SEED = 'cocoon-localnet-faucet';
const MAX_FAUCET_NANO = 100000n * 1000000000n;
const FAUCET_BALANCE = 1000000n * 1000000000n;
const FAUCET_REFILL_BELOW = 10n * 1000000000n;

class BadRequest extends Error {
    constructor(message) {
        super(message);
        this.status = 400;
    }
}

function parseAddress(text, what = 'address') {
    if (typeof text !== 'string' || text.length === 0) {
        throw new BadRequest(`${what} is required`);
    }
    try {
        return Address.parse(text);
    } catch (e) {
        throw new BadRequest(`${what} '${text}' is not a TON address (${e.message})`);
    }
}

function friendly(address) {
    return address.toString({ bounceable: true, urlSafe: true, testOnly: false });
}

function paramsCell(version, p) {
    return beginCell().storeUint(version, 32).storeCoins(p.pricePerToken).storeCoins(p.workerFeePerToken)
        .storeUint(p.promptTokensPriceMultiplier, 32).storeUint(p.cachedTokensPriceMultiplier, 32)
        .storeUint(p.completionTokensPriceMultiplier, 32).storeUint(p.reasoningTokensPriceMultiplier, 32)
        .storeUint(p.proxyDelayBeforeClose, 32).storeUint(p.clientDelayBeforeClose, 32)
        .storeCoins(p.minProxyStake).storeCoins(p.minClientStake).endCell();
}

// RootStorage of root.tolk: owner ^RootData(four empty maps) ^RootParams (params_version 0 until the deploy's
// root_change_price makes it 1).
function rootData(owner, params) {
    const empty = beginCell().storeMaybeRef(null).storeMaybeRef(null).storeMaybeRef(null).storeMaybeRef(null).endCell();
    return beginCell().storeAddress(owner).storeRef(empty).storeRef(paramsCell(0, params)).endCell();
}

function readParams(file) {
    if (!file) {
        return { ...DEFAULT_ROOT_PARAMS };
    }
    const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    const p = { ...DEFAULT_ROOT_PARAMS };
    for (const [k, v] of Object.entries(raw)) {
        if (!(k in p)) {
            throw new Error(`${file}: unknown root parameter '${k}' (known: ${Object.keys(p).join(', ')})`);
        }
        p[k] = BigInt(v);
    }
    return p;
}

class OwnerWallet {
    constructor(seed) {
        this.keyPair = keyPairFromSeed(seed);
        this.publicKey = this.keyPair.publicKey;
        const data = beginCell().storeBit(1).storeUint(0, 32).storeInt(V5R1_WALLET_ID, 32).storeBuffer(this.publicKey).storeBit(0).endCell();
        this.init = { code: WALLET_V5R1_CODE, data };
        this.address = contractAddress(0, this.init);
    }

    // A signed v5r1 external request (ton-blockchain/wallet-contract-v5): "sign" wallet_id valid_until seqno
    // (Maybe ^OutList) has_extended=0 signature, with one action_send_msg in mode 3.
    external(seqno, validUntil, messageRelaxed) {
        const action = beginCell().storeRef(Cell.EMPTY).storeUint(0x0ec3c86d, 32).storeUint(3, 8)
            .storeRef(beginCell().store(storeMessageRelaxed(messageRelaxed)).endCell()).endCell();
        const unsigned = beginCell().storeUint(0x7369676e, 32).storeInt(V5R1_WALLET_ID, 32).storeUint(validUntil, 32)
            .storeUint(seqno, 32).storeMaybeRef(action).storeBit(0).endCell();
        const body = beginCell().storeSlice(unsigned.beginParse()).storeBuffer(sign(unsigned.hash(), this.keyPair.secretKey)).endCell();
        return {
            info: { type: 'external-in', src: null, dest: this.address, importFee: 0n },
            init: seqno === 0 ? this.init : undefined,
            body,
        };
    }
}

function loadOrCreateOwnerKey(file) {
    if (fs.existsSync(file)) {
        const j = JSON.parse(fs.readFileSync(file, 'utf8'));
        const seed = Buffer.from(String(j.seedHex ?? ''), 'hex');
        if (seed.length !== 32) {
            throw new Error(`${file}: seedHex must be 32 bytes of hex`);
        }
        return { seed, created: false };
    }
    const seed = crypto.randomBytes(32);
    const pub = keyPairFromSeed(seed).publicKey;
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ seedHex: seed.toString('hex'), publicKeyHex: pub.toString('hex') }, null, 2) + '\n', { mode: 0o600 });
    return { seed, created: true };
}

class LocalChain {
    constructor(options) {
        this.options = options;
        this.stateFile = options.stateFile ?? null;
        this.timeOffset = 0;
        this.lastNow = 0;
        this.txByAccount = new Map(); // raw address -> entries, newest first
        this.txCount = 0;
        this.queue = Promise.resolve();
    }

    static async open(options) {
        const chain = new LocalChain(options);
        await chain._open();
        return chain;
    }

    async _open() {
        const o = this.options;
        if (this.stateFile) {
            this._lock();
        }
        // The sandbox's slim config: mainnet's with the validator sets, suspended and precompiled-contract lists and
        // bridge parameters left out; the same gas and forwarding prices and global version (12). Every emulator
        // call passes the config, so get-methods run ~4x faster and the state file is ~4x smaller than with the full one.
        this.blockchain = await Blockchain.create({ config: 'slim' });
        this.blockchain.verbosity = { print: false, blockchainLogs: false, vmLogs: 'none', debugLogs: false };
        const { seed, created } = loadOrCreateOwnerKey(o.ownerKeyFile);
        this.ownerKeyFile = o.ownerKeyFile;
        this.ownerKeyCreated = created;
        this.owner = new OwnerWallet(seed);

        let saved = null;
        if (this.stateFile && fs.existsSync(this.stateFile)) {
            saved = JSON.parse(fs.readFileSync(this.stateFile, 'utf8'));
            if (saved.format !== STATE_FORMAT) {
                throw new Error(`${this.stateFile} is not a ${STATE_FORMAT} state file (format '${saved.format}')`);
            }
            await this.blockchain.loadFrom(snapshotFromSerializable(saved.snapshot));
            this.timeOffset = Number(saved.timeOffset ?? 0);
            this.lastNow = Number(saved.lastNow ?? 0);
            for (const e of saved.transactions ?? []) {
                this._index(e);
            }
            for (const list of this.txByAccount.values()) {
                list.sort((a, b) => (a.ltBig < b.ltBig ? -1 : a.ltBig > b.ltBig ? 1 : 0));
            }
            this.root = { address: Address.parse(saved.root.address), codeHashHex: saved.root.codeHashHex };
            if (saved.root.ownerPublicKeyHex !== this.owner.publicKey.toString('hex')) {
                throw new Error(`${this.stateFile}: the root was deployed with owner key ${saved.root.ownerPublicKeyHex}, `
                    + `but ${this.ownerKeyFile} holds ${this.owner.publicKey.toString('hex')}`);
            }
            this.faucet = await this.blockchain.treasury(FAUCET_SEED);
            this.restored = true;
            return;
        }

        this.restored = false;
        this.faucet = await this.blockchain.treasury(FAUCET_SEED);
        const built = JSON.parse(fs.readFileSync(o.rootBuildFile, 'utf8'));
        const code = Cell.fromBase64(built.codeBoc64);
        if (code.hash().toString('hex').toUpperCase() !== String(built.codeHashHex).toUpperCase()) {
            throw new Error(`${o.rootBuildFile}: codeBoc64 does not hash to codeHashHex`);
        }
        const params = readParams(o.paramsFile);
        const init = { code, data: rootData(this.owner.address, params) };
        const rootAddress = contractAddress(0, init);
        this.root = { address: rootAddress, codeHashHex: code.hash().toString('hex').toUpperCase() };

        await this._exclusive(async () => {
            // Fund the owner's wallet, then let the owner deploy the root with a root_change_price carrying the
            // initial parameters (the contract accepts no message without an owner op; params_version becomes 1).
            await this._record(await this.faucet.send({ to: this.owner.address, value: o.ownerBalance, bounce: false }));
            const body = beginCell().storeUint(OP_ROOT_CHANGE_PRICE, 32).storeUint(0, 64).storeRef(paramsCell(0, params)).endCell();
            const msg = internal({ to: rootAddress, value: 1000000000n, bounce: false, init, body });
            const result = await this.blockchain.sendMessage(this.owner.external(0, this.now() + 600, msg));
            await this._record(result);
            const deployTx = result.transactions.find((t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.dest.equals(rootAddress));
            const d = deployTx?.description;
            if (!d || d.type !== 'generic' || d.computePhase.type !== 'vm' || d.computePhase.exitCode !== 0) {
                throw new Error('deploying the root contract failed');
            }
        });
    }

    // One localnet per state file: FILE.lock holds the owner's pid; a lock left by a process that is gone is taken over.
    _lock() {
        const lockFile = `${this.stateFile}.lock`;
        fs.mkdirSync(path.dirname(path.resolve(lockFile)), { recursive: true });
        for (let attempt = 0; attempt < 2; attempt++) {
            try {
                fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
                this.lockFile = lockFile;
                process.on('exit', () => this.unlock());
                return;
            } catch (e) {
                if (e.code !== 'EEXIST') {
                    throw e;
                }
                const pid = Number(fs.readFileSync(lockFile, 'utf8'));
                if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
                    throw new Error(`${this.stateFile} is in use by another localnet (pid ${pid}, ${lockFile})`);
                }
                fs.rmSync(lockFile, { force: true });
            }
        }
        throw new Error(`cannot take ${lockFile}`);
    }

    unlock() {
        if (this.lockFile) {
            fs.rmSync(this.lockFile, { force: true });
            this.lockFile = null;
        }
    }

    // Wall-clock seconds plus what /advance added; never behind the last transaction (the sandbox refuses that).
    now() {
        const t = Math.max(Math.floor(Date.now() / 1000) + this.timeOffset, this.lastNow);
        this.lastNow = t;
        return t;
    }

    // One operation at a time: the sandbox, the log and the state file change together.
    _exclusive(fn) {
        const run = this.queue.then(() => {
            this.blockchain.now = this.now();
            return fn();
        });
        this.queue = run.catch(() => undefined);
        return run;
    }

    async _record(result) {
        for (const tx of result.transactions) {
            const info = tx.inMessage?.info;
            const dest = info?.type === 'internal' || info?.type === 'external-in' ? info.dest : null;
            if (!dest) {
                continue;
            }
            this._index({
                account: dest.toRawString(),
                lt: tx.lt.toString(),
                hash: tx.hash().toString('base64'),
                now: tx.now,
                boc: tx.raw.toBoc().toString('base64'),
            });
        }
        // The sandbox also keeps every transaction object for its own getTransactions, which is not used here;
        // dropping them keeps a long-running localnet's memory flat (the log above is what the API serves).
        if (Array.isArray(this.blockchain.transactions)) {
            this.blockchain.transactions.length = 0;
        }
        this._save();
    }

    // Per account, oldest first: logical times only grow, so a new transaction is appended (a loaded log is sorted once).
    _index(entry) {
        let list = this.txByAccount.get(entry.account);
        if (!list) {
            list = [];
            this.txByAccount.set(entry.account, list);
        }
        list.push({ account: entry.account, lt: entry.lt, hash: entry.hash, now: entry.now, boc: entry.boc, ltBig: BigInt(entry.lt) });
        this.txCount++;
    }

    // Written to a temporary file and renamed, so a crash leaves the previous state whole.
    _save() {
        if (!this.stateFile) {
            return;
        }
        const snap = this.blockchain.snapshot();
        const serial = snapshotToSerializable({ ...snap, transactions: [] });
        const transactions = [];
        for (const list of this.txByAccount.values()) {
            for (const e of list) {
                transactions.push({ account: e.account, lt: e.lt, hash: e.hash, now: e.now, boc: e.boc });
            }
        }
        const state = {
            format: STATE_FORMAT,
            timeOffset: this.timeOffset,
            lastNow: this.lastNow,
            root: {
                address: this.root.address.toRawString(),
                codeHashHex: this.root.codeHashHex,
                ownerWallet: this.owner.address.toRawString(),
                ownerPublicKeyHex: this.owner.publicKey.toString('hex'),
            },
            snapshot: serial,
            transactions,
        };
        const tmp = `${this.stateFile}.tmp-${process.pid}`;
        fs.mkdirSync(path.dirname(path.resolve(this.stateFile)), { recursive: true });
        fs.writeFileSync(tmp, JSON.stringify(state));
        fs.renameSync(tmp, this.stateFile);
    }

    // sendBoc: the external message is applied at once with everything it causes (the sandbox has no blocks).
    sendBoc(bocBase64) {
        let cell;
        try {
            if (typeof bocBase64 !== 'string' || bocBase64.length === 0) {
                throw new Error('boc is required');
            }
            const cells = Cell.fromBoc(Buffer.from(bocBase64, 'base64'));
            if (cells.length !== 1) {
                throw new Error(`a bag of ${cells.length} roots, not one message`);
            }
            cell = cells[0];
            const s = cell.beginParse();
            if (s.remainingBits < 2 || s.loadUint(2) !== 0b10) {
                throw new Error('not an inbound external message (ext_in_msg_info$10)');
            }
        } catch (e) {
            throw liteServerError(`failed to parse external message: external message is not a valid bag of cells or message (${e.message})`);
        }
        return this._exclusive(async () => {
            let result;
            try {
                result = await this.blockchain.sendMessage(cell);
            } catch (e) {
                // Nothing changed: the sandbox refuses an external message that the contract did not accept.
                throw liteServerError(`External message was not accepted\n${firstLine(e.message)}`);
            }
            await this._record(result);
            return { hash: cell.hash(), result };
        });
    }

    faucetSend(addressText, amount) {
        const to = parseAddress(addressText);
        let value;
        try {
            value = BigInt(amount);
        } catch {
            throw new BadRequest(`amount '${amount}' is not an integer number of nanoTON`);
        }
        if (value <= 0n || value > MAX_FAUCET_NANO) {
            throw new BadRequest(`amount must be between 1 and ${MAX_FAUCET_NANO} nanoTON`);
        }
        return this._exclusive(async () => {
            // The faucet is a sandbox treasury; it is refilled to 1M TON whenever a transfer would leave it short.
            const account = await this.blockchain.getContract(this.faucet.address);
            if (account.balance < value + FAUCET_REFILL_BELOW) {
                account.balance = FAUCET_BALANCE;
            }
            const result = await this.faucet.send({ to, value, bounce: false });
            await this._record(result);
            const tx = result.transactions.find((t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.dest.equals(to));
            return {
                address: friendly(to),
                amount: value.toString(),
                transaction_id: tx ? { '@type': 'internal.transactionId', lt: tx.lt.toString(), hash: tx.hash().toString('base64') } : null,
            };
        });
    }

    advance(seconds) {
        const s = Number(seconds);
        if (!Number.isInteger(s) || s <= 0 || s > 10 * 365 * 86400) {
            throw new BadRequest('seconds must be a positive whole number of seconds');
        }
        return this._exclusive(async () => {
            this.timeOffset += s;
            this.blockchain.now = this.now();
            this._save();
            return { now: this.lastNow, time_offset: this.timeOffset };
        });
    }

    async contract(address) {
        return this.blockchain.getContract(address);
    }

    runGetMethod(addressText, method, stack) {
        const address = parseAddress(addressText);
        if (typeof method !== 'string' && typeof method !== 'number') {
            throw new BadRequest('method must be a get-method name or id');
        }
        const args = parseStackArgs(stack);
        return this._exclusive(async () => {
            const c = await this.contract(address);
            const last = lastTxId(c);
            if (c.accountState?.type !== 'active') {
                return { gas_used: 0, stack: [], exit_code: -13, last_transaction_id: last };
            }
            try {
                const r = await this.blockchain.runGetMethod(address, method, args);
                return { gas_used: Number(r.gasUsed), stack: r.stack.map(stackItemJson), exit_code: r.exitCode, last_transaction_id: last };
            } catch (e) {
                if (typeof e.exitCode === 'number') {
                    return { gas_used: Number(e.gasUsed ?? 0), stack: [], exit_code: e.exitCode, last_transaction_id: last };
                }
                throw e;
            }
        });
    }

    getAddressInformation(addressText) {
        const address = parseAddress(addressText);
        return this._exclusive(async () => {
            const c = await this.contract(address);
            const st = c.accountState;
            const active = st?.type === 'active';
            return {
                '@type': 'raw.fullAccountState',
                balance: c.balance.toString(),
                code: active && st.state.code ? st.state.code.toBoc().toString('base64') : '',
                data: active && st.state.data ? st.state.data.toBoc().toString('base64') : '',
                last_transaction_id: lastTxId(c),
                frozen_hash: st?.type === 'frozen' ? Buffer.from(st.stateHash.toString(16).padStart(64, '0'), 'hex').toString('base64') : '',
                sync_utime: this.now(),
                state: st?.type === 'active' ? 'active' : st?.type === 'frozen' ? 'frozen' : 'uninitialized',
            };
        });
    }

    getWalletInformation(addressText) {
        const address = parseAddress(addressText);
        return this._exclusive(async () => {
            const c = await this.contract(address);
            const st = c.accountState;
            const active = st?.type === 'active';
            const out = {
                wallet: false,
                balance: c.balance.toString(),
                account_state: active ? 'active' : st?.type === 'frozen' ? 'frozen' : 'uninitialized',
                last_transaction_id: lastTxId(c),
            };
            if (!active || !st.state.code) {
                return out;
            }
            const codeHash = st.state.code.hash().toString('hex');
            const type = codeHash === WALLET_V5R1_HASH ? 'wallet v5 r1' : codeHash === WALLET_V4R2_HASH ? 'wallet v4 r2' : null;
            if (!type) {
                return out;
            }
            out.wallet = true;
            out.wallet_type = type;
            out.seqno = Number((await this.blockchain.runGetMethod(address, 'seqno')).stackReader.readBigNumber());
            out.wallet_id = Number((await this.blockchain.runGetMethod(address, 'get_subwallet_id')).stackReader.readBigNumber());
            return out;
        });
    }

    getTransactions(params) {
        const address = parseAddress(params.address);
        const limit = params.limit === undefined ? 10 : Number(params.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
            throw new BadRequest('limit must be between 1 and 100');
        }
        const fromLt = params.lt === undefined || params.lt === null ? null : toBigInt(params.lt, 'lt');
        const toLt = params.to_lt === undefined || params.to_lt === null ? 0n : toBigInt(params.to_lt, 'to_lt');
        const fromHash = params.hash ? normalizeHash(params.hash) : null;
        return this._exclusive(async () => {
            const list = this.txByAccount.get(address.toRawString()) ?? [];
            let i = list.length - 1;
            if (fromLt !== null) {
                while (i >= 0 && list[i].ltBig > fromLt) {
                    i--;
                }
                if (i < 0) {
                    return [];
                }
                if (fromHash && list[i].ltBig === fromLt && list[i].hash !== fromHash) {
                    throw new BadRequest(`transaction ${fromLt} of ${friendly(address)} has another hash`);
                }
            }
            const out = [];
            for (; i >= 0 && out.length < limit; i--) {
                if (list[i].ltBig <= toLt) {
                    break;
                }
                out.push(transactionJson(list[i], address));
            }
            return out;
        });
    }

    info() {
        return {
            root: friendly(this.root.address),
            root_raw: this.root.address.toRawString(),
            root_code_hash: this.root.codeHashHex,
            owner_wallet: friendly(this.owner.address),
            owner_wallet_raw: this.owner.address.toRawString(),
            owner_public_key: this.owner.publicKey.toString('hex'),
            owner_key_file: path.resolve(this.ownerKeyFile),
            faucet: friendly(this.faucet.address),
            now: this.now(),
            time_offset: this.timeOffset,
            transactions: this.txCount,
            state_file: this.stateFile ? path.resolve(this.stateFile) : null,
            restored: this.restored,
        };
    }
}

function isAlive(pid) {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return e.code === 'EPERM';
    }
}

function liteServerError(detail) {
    const e = new Error(`LITE_SERVER_UNKNOWN: cannot apply external message to current state : ${detail}`);
    e.status = 500;
    return e;
}

function firstLine(s) {
    return String(s ?? '').split('\n').slice(0, 3).join('\n');
}

function toBigInt(v, what) {
    try {
        return BigInt(v);
    } catch {
        throw new BadRequest(`${what} '${v}' is not an integer`);
    }
}

// toncenter takes transaction hashes as base64 or hex.
function normalizeHash(h) {
    const s = String(h);
    if (/^[0-9a-fA-F]{64}$/.test(s)) {
        return Buffer.from(s, 'hex').toString('base64');
    }
    const b = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (b.length !== 32) {
        throw new BadRequest(`hash '${s}' is not 32 bytes of base64 or hex`);
    }
    return b.toString('base64');
}

function lastTxId(c) {
    const hash = Buffer.from(c.lastTransactionHash.toString(16).padStart(64, '0'), 'hex');
    return { '@type': 'internal.transactionId', lt: c.lastTransactionLt.toString(), hash: hash.toString('base64') };
}

// Request stack entries as toncenter v2 takes them: ["num", "0x…" | decimal], ["tvm.Cell", b64], ["tvm.Slice", b64].
function parseStackArgs(stack) {
    if (stack === undefined || stack === null) {
        return [];
    }
    if (!Array.isArray(stack)) {
        throw new BadRequest('stack must be an array');
    }
    return stack.map((entry, i) => {
        if (!Array.isArray(entry) || entry.length !== 2) {
            throw new BadRequest(`stack[${i}] must be [type, value]`);
        }
        const [type, value] = entry;
        try {
            switch (type) {
                case 'num':
                case 'number':
                case 'int': {
                    const s = String(value).trim();
                    const neg = s.startsWith('-');
                    const v = BigInt(neg ? s.slice(1) : s);
                    return { type: 'int', value: neg ? -v : v };
                }
                case 'tvm.Cell':
                case 'cell':
                    return { type: 'cell', cell: Cell.fromBase64(value) };
                case 'tvm.Slice':
                case 'slice':
                    return { type: 'slice', cell: Cell.fromBase64(value) };
                default:
                    throw new Error(`unknown type '${type}'`);
            }
        } catch (e) {
            throw new BadRequest(`stack[${i}]: ${e.message}`);
        }
    });
}

// Answer stack entries as toncenter v2 writes them (ton-org/ton TonClient.ts parseStack reads these).
function stackItemJson(item) {
    switch (item.type) {
        case 'int':
            return ['num', (item.value < 0n ? '-0x' + (-item.value).toString(16) : '0x' + item.value.toString(16))];
        case 'null':
            return ['null', null];
        case 'cell':
            return ['cell', { bytes: item.cell.toBoc().toString('base64') }];
        case 'slice':
            return ['slice', { bytes: item.cell.toBoc().toString('base64') }];
        case 'builder':
            return ['builder', { bytes: item.cell.toBoc().toString('base64') }];
        case 'tuple':
            return ['tuple', { '@type': 'tvm.tuple', elements: item.items.map(typedStackEntry) }];
        default:
            return ['unsupported', null];
    }
}

// Nested entries in tonlib's typed form.
function typedStackEntry(item) {
    switch (item.type) {
        case 'int':
            return { '@type': 'tvm.stackEntryNumber', number: { '@type': 'tvm.numberDecimal', number: item.value.toString() } };
        case 'cell':
            return { '@type': 'tvm.stackEntryCell', cell: { '@type': 'tvm.cell', bytes: item.cell.toBoc().toString('base64') } };
        case 'slice':
            return { '@type': 'tvm.stackEntrySlice', slice: { '@type': 'tvm.slice', bytes: item.cell.toBoc().toString('base64') } };
        case 'tuple':
            return { '@type': 'tvm.stackEntryTuple', tuple: { '@type': 'tvm.tuple', elements: item.items.map(typedStackEntry) } };
        default:
            return { '@type': 'tvm.stackEntryUnsupported' };
    }
}

// A transaction as toncenter v2 getTransactions lists it; `data` is the transaction cell (base64 BoC), from which
// clients read phases and exit codes.
function transactionJson(entry, address) {
    const raw = Cell.fromBase64(entry.boc);
    const tx = loadTransaction(raw.beginParse());
    const msgs = raw.refs[0].beginParse();
    const inCell = msgs.loadBit() ? msgs.loadRef() : null;
    const outDict = msgs.loadDict(Dictionary.Keys.Uint(15), Dictionary.Values.Cell());
    const outKeys = outDict.keys().sort((a, b) => a - b);
    const fees = tx.totalFees.coins;
    const d = tx.description;
    const storageFee = d.type === 'generic' && d.storagePhase ? d.storagePhase.storageFeesCollected : 0n;
    return {
        '@type': 'raw.transaction',
        address: { '@type': 'accountAddress', account_address: friendly(address) },
        utime: tx.now,
        data: entry.boc,
        transaction_id: { '@type': 'internal.transactionId', lt: entry.lt, hash: entry.hash },
        fee: fees.toString(),
        storage_fee: storageFee.toString(),
        other_fee: (fees - storageFee).toString(),
        in_msg: tx.inMessage ? messageJson(tx.inMessage, inCell) : null,
        out_msgs: outKeys.map((k) => messageJson(tx.outMessages.get(k), outDict.get(k))),
    };
}

function messageJson(msg, cell) {
    const info = msg.info;
    const body = msg.body;
    let source = '';
    let destination = '';
    let value = '0';
    let fwdFee = '0';
    let ihrFee = '0';
    let createdLt = '0';
    if (info.type === 'internal') {
        source = friendly(info.src);
        destination = friendly(info.dest);
        value = info.value.coins.toString();
        fwdFee = info.forwardFee.toString();
        ihrFee = info.ihrFee.toString();
        createdLt = info.createdLt.toString();
    } else if (info.type === 'external-in') {
        destination = friendly(info.dest);
    } else {
        source = friendly(info.src);
        createdLt = info.createdLt.toString();
    }
    return {
        '@type': 'raw.message',
        hash: cell.hash().toString('base64'),
        source,
        destination,
        value,
        fwd_fee: fwdFee,
        ihr_fee: ihrFee,
        created_lt: createdLt,
        body_hash: body.hash().toString('base64'),
        msg_data: {
            '@type': 'msg.dataRaw',
            body: body.toBoc().toString('base64'),
            init_state: msg.init ? beginCell().store(storeStateInit(msg.init)).endCell().toBoc().toString('base64') : '',
        },
        message: textComment(body),
    };
}

function textComment(body) {
    try {
        const s = body.beginParse();
        if (s.remainingBits < 32 || s.loadUint(32) !== 0) {
            return '';
        }
        return s.loadStringTail();
    } catch {
        return '';
    }
}

module.exports = { LocalChain, BadRequest, DEFAULT_ROOT_PARAMS, STATE_FORMAT };
