// The mtls authenticator on a warm connection: uWS hands over the verified
// client certificate as a new PEM string on every request, with the same
// content; the cached identity must cost a string compare and nothing
// allocated in our code. Also: several clients interleaved (map hit), and
// for scale the miss (parse with X509Certificate, build the identity).
// Baseline: a Map lookup of the PEM, the least any cache keyed on it costs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeCompileContext, validateConfig } from '../../dist/config/load.js';
import { compileMtls } from '../../dist/auth/mtls/index.js';
import { suite } from './lib.mjs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-mtls-'));
const ssl = (args) => execFileSync('openssl', args, { stdio: 'ignore', cwd: dir });
ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=bench-ca',
  '-addext', 'basicConstraints=critical,CA:TRUE', '-keyout', 'ca.key', '-out', 'ca.crt']);
const pems = [];
for (let i = 0; i < 8; i++) {
  writeFileSync(path.join(dir, 'ext'), `subjectAltName=URI:spiffe://example.org/device/${i},DNS:d${i}.devices.example.org\nextendedKeyUsage=clientAuth\n`);
  ssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/O=Bench/CN=device-${i}`, '-keyout', `d${i}.key`, '-out', `d${i}.csr`]);
  ssl(['x509', '-req', '-in', `d${i}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext', '-out', `d${i}.crt`]);
  pems.push(readFileSync(path.join(dir, `d${i}.crt`), 'utf8'));
}
/** A copy with the same content in a different string object (as each uWS call returns). */
const copyOf = (s) => (s + ' ').slice(0, -1);

function authenticator(maxEntries) {
  const cfg = {
    server: { listen: [{ host: '127.0.0.1', port: 8443, tls: { cert: 's.crt', key: 's.key', client_ca: 'ca.crt', client_cert: 'optional' } }] },
    authenticators: { devices: { type: 'mtls', consumer_from: 'san_uri', allow: { san_uri_prefix: ['spiffe://example.org/'] }, forward: {}, forward_claims: { subject_cn: 'x-device' }, cache: { max_entries: maxEntries } } },
    routes: [{ name: 'r', match: { path_prefix: '/' }, authenticate: ['devices'], respond: { status: 200 } }],
  };
  const plan = validateConfig(cfg, '');
  const issues = [];
  const a = compileMtls('devices', plan.config.authenticators.devices, 'authenticators.devices', makeCompileContext(plan, issues));
  if (issues.length) throw new Error(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  return a;
}

function view(pem) {
  return {
    method: 'GET', path: '/api', query: '', host: 'api.example.com', clientIp: '127.0.0.1',
    clientIp16: new Uint8Array(16), clientIsV4: true, routeIndex: 0, identity: null, reason: 0, retryAfter: 0, limitName: '',
    clientCert: pem,
    header() { return ''; }, queryParam() { return undefined; }, cookie() { return undefined; },
  };
}

const warm = authenticator(1000);
const a = view(pems[0]);
const b = view(copyOf(pems[0]));
const AUTH_OK = warm.authenticate(a); // the first request parses
const mixed = authenticator(1000);
const mixedViews = pems.map((p) => view(p));
for (const v of mixedViews) mixed.authenticate(v);
const cold = authenticator(0);
const coldViews = pems.map((p) => view(copyOf(p)));
const map = new Map([[pems[0], {}]]);

await suite('mTLS identity', {
  note: 'EC P-256 client certificates with SAN URI + DNS, allow san_uri_prefix, XFCC forward',
  baseline: { name: 'Map.get(pem) (floor)', fn: () => map.get(pems[0]), check: (v) => v !== undefined },
  cases: [
    { name: 'warm connection (same certificate, new string each request)', fn: (i) => { const v = (i & 1) ? b : a; v.identity = null; return warm.authenticate(v); }, check: (v) => v === AUTH_OK && a.identity !== null, target: { label: '0 B/op', maxBytes: 0 } },
    { name: '8 clients interleaved (map hit)', fn: (i) => { const v = mixedViews[i & 7]; v.identity = null; return mixed.authenticate(v); }, check: (v) => v === AUTH_OK, target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'miss: parse + identity (no cache)', calls: 20_000, inner: 20, fn: (i) => cold.authenticate(coldViews[i & 7]), check: (v) => v === AUTH_OK },
  ],
});
