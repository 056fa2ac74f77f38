#!/usr/bin/env node
'use strict';
// Cocoon's local TON chain: @ton/sandbox behind the toncenter v2 API subset that Cocoon.Ton's ToncenterClient
// calls, a faucet, and the root contract deployed at first start. See README.md.
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { LocalChain, BadRequest } = require('./chain.js');

const USAGE = `usage: node server.js [--port N] [--host H] [--state FILE] [--owner-key FILE] [--root-build FILE]
                      [--params FILE] [--owner-balance NANOTON]
  --port N            port to listen on (0 picks a free one; default 8081)
  --host H            address to bind (default 127.0.0.1)
  --state FILE        chain state file, loaded at start and rewritten after every change (default: none, in memory)
  --owner-key FILE    the root owner's Ed25519 seed ({"seedHex"}); created when missing
                      (default: FILE.owner-key.json next to --state, else a file in the temp folder)
  --root-build FILE   compiled root contract (default: src/Cocoon.Contracts/build/root.json of this repository)
  --params FILE       JSON of root pricing parameters overriding the defaults (first start only)
  --owner-balance N   nanoTON the faucet gives the owner's wallet at first start (default 1000 TON)`;

function parseArgs(argv) {
    const o = {
        port: 8081,
        host: '127.0.0.1',
        stateFile: null,
        ownerKeyFile: null,
        rootBuildFile: path.resolve(__dirname, '..', '..', 'src', 'Cocoon.Contracts', 'build', 'root.json'),
        paramsFile: null,
        ownerBalance: 1000n * 1000000000n,
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const next = () => {
            if (i + 1 >= argv.length) {
                throw new Error(`${a} needs a value`);
            }
            return argv[++i];
        };
        switch (a) {
            case '--port': {
                const p = Number(next());
                if (!Number.isInteger(p) || p < 0 || p > 65535) {
                    throw new Error('--port must be 0..65535');
                }
                o.port = p;
                break;
            }
            case '--host': o.host = next(); break;
            case '--state': o.stateFile = path.resolve(next()); break;
            case '--owner-key': o.ownerKeyFile = path.resolve(next()); break;
            case '--root-build': o.rootBuildFile = path.resolve(next()); break;
            case '--params': o.paramsFile = path.resolve(next()); break;
            case '--owner-balance': o.ownerBalance = BigInt(next()); break;
            case '-h':
            case '--help':
                console.log(USAGE);
                process.exit(0);
                break;
            default:
                throw new Error(`unknown argument '${a}'\n${USAGE}`);
        }
    }
    if (!o.ownerKeyFile) {
        o.ownerKeyFile = o.stateFile
            ? `${o.stateFile}.owner-key.json`
            : path.join(os.tmpdir(), `cocoon-localnet-owner-${process.pid}.json`);
    }
    return o;
}

// toncenter v2 methods served, by name; each takes the JSON-RPC params object.
function methods(chain) {
    return {
        sendBoc: async (p) => {
            await chain.sendBoc(p.boc);
            return { '@type': 'ok' };
        },
        sendBocReturnHash: async (p) => {
            const { hash } = await chain.sendBoc(p.boc);
            return { '@type': 'raw.extMessageInfo', hash: hash.toString('base64') };
        },
        runGetMethod: (p) => chain.runGetMethod(p.address, p.method, p.stack),
        getAddressInformation: (p) => chain.getAddressInformation(p.address),
        getAddressBalance: async (p) => (await chain.getAddressInformation(p.address)).balance,
        getAddressState: async (p) => (await chain.getAddressInformation(p.address)).state,
        getWalletInformation: (p) => chain.getWalletInformation(p.address),
        getTransactions: (p) => chain.getTransactions(p),
    };
}

function send(res, status, obj) {
    const body = JSON.stringify(obj);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
}

function fail(res, status, error, extra = {}) {
    send(res, status, { ok: false, error, code: status, ...extra });
}

async function readJson(req) {
    const chunks = [];
    let size = 0;
    for await (const c of req) {
        size += c.length;
        if (size > 8 * 1024 * 1024) {
            throw new BadRequest('request body over 8 MiB');
        }
        chunks.push(c);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim().length === 0) {
        return {};
    }
    try {
        return JSON.parse(text);
    } catch (e) {
        throw new BadRequest(`request body is not JSON (${e.message})`);
    }
}

function statusOf(e) {
    return typeof e.status === 'number' ? e.status : 500;
}

function createServer(chain) {
    const api = methods(chain);
    return http.createServer(async (req, res) => {
        const url = new URL(req.url, 'http://localhost');
        let route = url.pathname.replace(/\/+$/, '');
        if (route.startsWith('/api/v2')) {
            route = route.slice('/api/v2'.length);
        }
        let rpcId;
        try {
            // toncenter's base is .../api/v2/ and clients post to {base}jsonRPC; any path ending in /jsonRPC is taken
            // so that a base configured as the full .../jsonRPC URL works too.
            if (route.endsWith('/jsonRPC') && req.method === 'POST') {
                const body = await readJson(req);
                rpcId = body.id;
                const fn = api[body.method];
                if (!fn) {
                    fail(res, 404, `method '${body.method}' is not served by the Cocoon localnet`, { id: rpcId, jsonrpc: '2.0' });
                    return;
                }
                const result = await fn(body.params ?? {});
                send(res, 200, { ok: true, result, id: rpcId, jsonrpc: '2.0' });
                return;
            }
            if (route === '/faucet' && req.method === 'POST') {
                const body = await readJson(req);
                send(res, 200, { ok: true, result: await chain.faucetSend(body.address, body.amount) });
                return;
            }
            if (route === '/advance' && req.method === 'POST') {
                const body = await readJson(req);
                send(res, 200, { ok: true, result: await chain.advance(body.seconds) });
                return;
            }
            if ((route === '/info' || route === '') && req.method === 'GET') {
                send(res, 200, { ok: true, result: chain.info() });
                return;
            }
            // toncenter also answers GET /api/v2/<method>?params and POST /api/v2/<method> {params}.
            const name = route.slice(1);
            if (Object.hasOwn(api, name) && (req.method === 'GET' || req.method === 'POST')) {
                const params = req.method === 'GET' ? Object.fromEntries(url.searchParams) : await readJson(req);
                if (typeof params.stack === 'string') {
                    params.stack = JSON.parse(params.stack);
                }
                send(res, 200, { ok: true, result: await api[name](params) });
                return;
            }
            fail(res, 404, `no route ${req.method} ${url.pathname}`);
        } catch (e) {
            const status = statusOf(e);
            if (status >= 500 && !String(e.message).startsWith('LITE_SERVER')) {
                console.error(`localnet: ${req.method} ${url.pathname}: ${e.stack ?? e}`);
            }
            fail(res, status, e.message, rpcId === undefined ? {} : { id: rpcId, jsonrpc: '2.0' });
        }
    });
}

async function main() {
    let options;
    try {
        options = parseArgs(process.argv.slice(2));
    } catch (e) {
        console.error(e.message);
        process.exit(2);
    }
    const chain = await LocalChain.open(options);
    const server = createServer(chain);
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, resolve);
    });
    const port = server.address().port;
    const info = chain.info();
    // The one line launchers wait for (Cocoon.Node's TonLocalnet reads it).
    console.log(JSON.stringify({
        event: 'ready',
        port,
        endpoint: `http://${options.host}:${port}/api/v2/`,
        faucet_url: `http://${options.host}:${port}/faucet`,
        ...info,
    }));
    const stop = (signal) => {
        server.close(() => process.exit(0));
        // The state file is rewritten after every change, so nothing is pending here; don't wait on idle sockets.
        setTimeout(() => process.exit(0), 1000).unref();
        console.error(`localnet: ${signal}, stopping`);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    // A launcher that closes our stdin (e.g. because it died) stops us too.
    if (process.env.COCOON_LOCALNET_EXIT_ON_STDIN_CLOSE === '1') {
        process.stdin.on('end', () => stop('stdin closed'));
        process.stdin.resume();
    }
}

if (require.main === module) {
    main().catch((e) => {
        console.error(`localnet: ${process.env.COCOON_LOCALNET_DEBUG === '1' ? e.stack : e.message ?? e}`);
        process.exit(1);
    });
}

module.exports = { createServer, parseArgs };
