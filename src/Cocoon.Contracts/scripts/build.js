'use strict';
// Compiles every contract with @ton/tolk-js and writes build/<name>.json (code BoC base64 + code hash hex).
// `node scripts/build.js` writes; tests call compileContract() to compare with the committed files.
const fs = require('node:fs');
const path = require('node:path');
const { runTolkCompiler } = require('@ton/tolk-js');

const ROOT = path.resolve(__dirname, '..');
const CONTRACTS = ['root', 'client', 'worker'];

async function compileContract(name) {
    const result = await runTolkCompiler({
        entrypointFileName: `${name}.tolk`,
        fsReadCallback: (p) => fs.readFileSync(path.join(ROOT, 'contracts', p), 'utf8'),
    });
    if (result.status !== 'ok') {
        throw new Error(`${name}.tolk: ${result.message}`);
    }
    return { name, tolkVersion: result.tolkVersion, codeBoc64: result.codeBoc64, codeHashHex: result.codeHashHex };
}

function buildPath(name) {
    return path.join(ROOT, 'build', `${name}.json`);
}

async function main() {
    const only = process.argv.slice(2);
    fs.mkdirSync(path.join(ROOT, 'build'), { recursive: true });
    for (const name of only.length ? only : CONTRACTS) {
        const built = await compileContract(name);
        fs.writeFileSync(buildPath(name), JSON.stringify(built, null, 2) + '\n');
        console.log(`${name}: ${built.codeHashHex}`);
    }
}

module.exports = { CONTRACTS, compileContract, buildPath };

if (require.main === module) {
    main().catch((e) => {
        console.error(e.message);
        process.exit(1);
    });
}
