'use strict';
// The committed build/<name>.json must be exactly what the pinned compiler makes of contracts/*.tolk.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { Cell } = require('@ton/core');
const { CONTRACTS, compileContract, buildPath } = require('../scripts/build.js');

for (const name of CONTRACTS) {
    test(`recompiling ${name}.tolk gives the committed code hash`, async () => {
        const committed = JSON.parse(fs.readFileSync(buildPath(name), 'utf8'));
        const built = await compileContract(name);
        assert.equal(built.codeHashHex, committed.codeHashHex, `${name}: run \`npm run build\` and commit build/${name}.json`);
        assert.equal(built.codeBoc64, committed.codeBoc64);
        assert.equal(Cell.fromBase64(committed.codeBoc64).hash().toString('hex').toUpperCase(), committed.codeHashHex.toUpperCase());
    });
}
