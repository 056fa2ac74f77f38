// Cross-implementation oracle for Cocoon.Attestation (driven by tests/Cocoon.Attestation.Tests/OracleTests.cs).
// Reads a JSON array of cases {name, quote, collateral?, now} from the file named on the command line (quote and
// collateral are file paths, now is unix seconds) and prints one JSON array with, per case, the fields
// @phala/dcap-qvl parses and its verdict:
//   - with collateral: dcap-qvl's complete verify() (chain, CRLs, signatures, TCB info, QE identity, TCB status);
//   - without collateral: DCAP steps 1-4 (PCK chain to Intel's root, QE report signature, attestation key
//     binding, quote signature) composed from dcap-qvl's own building blocks, because verify() needs collateral.
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const qvl = require('@phala/dcap-qvl');

const hex = (b) => Buffer.from(b).toString('hex');

function fields(quote, raw) {
  const td = quote.report.type === 'td15' ? quote.report.data.base : quote.report.data;
  const auth = quote.authData.intoV3();
  const out = {
    version: quote.header.version,
    attestationKeyType: quote.header.attestationKeyType,
    teeType: quote.header.teeType,
    qeSvn: quote.header.qeSvn,
    pceSvn: quote.header.pceSvn,
    qeVendorId: hex(quote.header.qeVendorId),
    userData: hex(quote.header.userData),
    reportType: quote.report.type,
    teeTcbSvn: hex(td.teeTcbSvn),
    mrSeam: hex(td.mrSeam),
    mrSignerSeam: hex(td.mrSignerSeam),
    seamAttributes: hex(td.seamAttributes),
    tdAttributes: hex(td.tdAttributes),
    xfam: hex(td.xfam),
    mrtd: hex(td.mrTd),
    mrConfigId: hex(td.mrConfigId),
    mrOwner: hex(td.mrOwner),
    mrOwnerConfig: hex(td.mrOwnerConfig),
    rtmr0: hex(td.rtMr0),
    rtmr1: hex(td.rtMr1),
    rtmr2: hex(td.rtMr2),
    rtmr3: hex(td.rtMr3),
    reportData: hex(td.reportData),
    signedLength: quote.signedLength(),
    quoteSignature: hex(auth.ecdsaSignature),
    attestationKey: hex(auth.ecdsaAttestationKey),
    qeReport: hex(auth.qeReport),
    qeReportSignature: hex(auth.qeReportSignature),
    qeAuthData: hex(auth.qeAuthData),
    certDataType: auth.certificationData.certType,
    certDataLength: auth.certificationData.body.length,
  };
  if (quote.report.type === 'td15') {
    out.teeTcbSvn2 = hex(quote.report.data.teeTcbSvn2);
    out.mrServiceTd = hex(quote.report.data.mrServiceTd);
  }
  try {
    const certs = qvl.utils.extractCerts(auth.certificationData.body);
    out.fmspc = hex(qvl.utils.getFmspc(qvl.utils.getIntelExtension(certs[0])));
  } catch (e) {
    out.fmspc = null;
  }
  return out;
}

function verifySteps1To4(raw, quote, nowSecs) {
  const auth = quote.authData.intoV3();
  const certs = qvl.utils.extractCerts(auth.certificationData.body);
  if (certs.length < 2) throw new Error('PCK chain too short');
  qvl.utils.verifyCertificateChain(certs[0], certs.slice(1), nowSecs, [], qvl.constants.TRUSTED_ROOT_CA_DER);
  const leaf = new crypto.X509Certificate(qvl.utils.derToPem(certs[0], 'CERTIFICATE'));
  const rs = (sig) => qvl.utils.encodeAsDer(Buffer.from(sig));
  if (!crypto.createVerify('SHA256').update(Buffer.from(auth.qeReport)).verify(leaf.publicKey, rs(auth.qeReportSignature))) {
    throw new Error('QE report signature invalid');
  }
  const expected = crypto.createHash('sha256')
    .update(Buffer.concat([Buffer.from(auth.ecdsaAttestationKey), Buffer.from(auth.qeAuthData)])).digest();
  const reportData = Buffer.from(auth.qeReport).subarray(320, 384);
  if (!expected.equals(reportData.subarray(0, 32)) || reportData.subarray(32).some((b) => b !== 0)) {
    throw new Error('attestation key binding mismatch');
  }
  const key = crypto.createPublicKey({ key: Buffer.concat([Buffer.from([4]), Buffer.from(auth.ecdsaAttestationKey)]).length === 65
    ? { kty: 'EC', crv: 'P-256',
        x: Buffer.from(auth.ecdsaAttestationKey).subarray(0, 32).toString('base64url'),
        y: Buffer.from(auth.ecdsaAttestationKey).subarray(32, 64).toString('base64url') }
    : null, format: 'jwk' });
  if (!crypto.createVerify('SHA256').update(raw.subarray(0, quote.signedLength())).verify(key, rs(auth.ecdsaSignature))) {
    throw new Error('quote signature invalid');
  }
  return { ok: true, status: null, advisoryIds: [] };
}

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const results = cases.map((c) => {
  const raw = fs.readFileSync(c.quote);
  const result = { name: c.name };
  let quote;
  try {
    quote = qvl.Quote.parse(raw);
    result.fields = fields(quote, raw);
  } catch (e) {
    result.fields = null;
    result.verdict = { ok: false, error: 'parse: ' + e.message };
    return result;
  }
  try {
    if (c.collateral) {
      const collateral = JSON.parse(fs.readFileSync(c.collateral, 'utf8'));
      const r = qvl.verify(raw, collateral, c.now);
      result.verdict = { ok: true, status: r.status, advisoryIds: r.advisory_ids };
    } else {
      result.verdict = verifySteps1To4(raw, quote, c.now);
    }
  } catch (e) {
    result.verdict = { ok: false, error: e.message + (e.cause ? ' (' + e.cause.message + ')' : '') };
  }
  return result;
});
process.stdout.write(JSON.stringify(results, null, 1));
