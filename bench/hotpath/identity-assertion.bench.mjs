// The signed identity assertion on a kept-alive client: its identity is a
// cached, immutable object, so the assertion signed for it (per upstream) is
// reused until half its lifetime has passed — a WeakMap hit and an array
// read, 0 B/op in our code. For scale: one ES256 signature (a miss).
// Baseline: a WeakMap lookup of the identity, the least such a cache costs.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeCompileContext, validateConfig } from '../../dist/config/load.js';
import { compileAssertion } from '../../dist/proxy/assertion/index.js';
import { makeIdentity } from '../../dist/auth/identity.js';
import { suite } from './lib.mjs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-assertion-'));
const jwk = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'k1' };
writeFileSync(path.join(dir, 'keys.json'), JSON.stringify({ keys: [jwk] }));
const cfg = {
  identity_assertion: { issuer: 'https://gw.bench', keys_file: path.join(dir, 'keys.json'), ttl: '1h' },
  upstreams: { orders: { targets: ['http://127.0.0.1:9'] } },
  routes: [{ name: 'r', match: { path_prefix: '/' }, anonymous: true, identity_assertion: true, upstream: 'orders' }],
};
const plan = validateConfig(cfg, '');
const issues = [];
const signer = compileAssertion(plan.config, ['orders'], makeCompileContext(plan, issues));
if (issues.length) throw new Error(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
const id = makeIdentity('keys', 'robot', { tier: 'gold' }, {}, Infinity);
const first = signer.token(id, 0);
const weak = new WeakMap([[id, [first]]]);
const fresh = Array.from({ length: 256 }, (_, i) => makeIdentity('keys', `u${i}`, {}, {}, Infinity));

await suite('Identity assertion', {
  note: 'ES256, ttl 1h',
  baseline: { name: 'WeakMap.get(identity)[0] (floor)', fn: () => weak.get(id)[0], check: (v) => v === first },
  cases: [
    { name: 'reused assertion (same identity, upstream)', fn: () => signer.token(id, 0), check: (v) => v === first, target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'miss: sign ES256 (new identity)', calls: 20_000, inner: 20, fn: (i) => signer.signNew(fresh[i & 255], 0, Date.now()).token, check: (v) => typeof v === 'string' },
  ],
});
