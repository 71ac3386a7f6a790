// The JWT authenticator on a verified-token cache hit (the common case: a
// client sends the same token many times), on a garbage token (the 401 path),
// and — for scale — one RS256 signature check on a miss. Baseline: a plain
// Map lookup of the token, the least any cache can cost.
import crypto from 'node:crypto';
import { makeCompileContext, validateConfig } from '../../dist/config/load.js';
import { compileJwt } from '../../dist/auth/jwt/index.js';
import { QuerySingletons } from '../../dist/auth/query-credential.js';
import { suite } from './lib.mjs';

const ISS = 'https://issuer.bench.portcullis.test/';
const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const pub = publicKey.export({ type: 'spki', format: 'pem' });
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const sign = (claims) => {
  const input = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${input}.${crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
};
const token = sign({ iss: ISS, aud: 'bench-api', sub: 'alice', exp: now + 3600, scope: 'orders:read' });
const distinct = Array.from({ length: 256 }, (_, i) => sign({ iss: ISS, aud: 'bench-api', sub: `u${i}`, exp: now + 3600 }));

function authenticator(cacheEntries) {
  const cfg = {
    authenticators: { rs: { type: 'jwt', issuer: ISS, audience: ['bench-api'], algorithms: ['RS256'], keys: [pub], forward_claims: { sub: 'x-user-id' }, cache: { max_entries: cacheEntries } } },
    routes: [{ name: 'r', match: { path_prefix: '/' }, authenticate: ['rs'], respond: { status: 200 } }],
  };
  const plan = validateConfig(cfg, '');
  const issues = [];
  const a = compileJwt('rs', plan.config.authenticators.rs, 'authenticators.rs', makeCompileContext(plan, issues));
  if (issues.length) throw new Error(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  return a;
}

/** A RequestView as the pipeline hands it to a stage (one object, reused). */
function view(authz) {
  return {
    method: 'GET', path: '/api/orders', query: '', host: 'api.example.com', clientIp: '127.0.0.1',
    clientIp16: new Uint8Array(16), clientIsV4: true, routeIndex: 0, identity: null, reason: 0, retryAfter: 0, limitName: '',
    auth: authz,
    header(n) { return n === 'authorization' ? this.auth : ''; },
    queryParam() { return undefined; },
    cookie() { return undefined; },
  };
}

const hit = authenticator(1000);
const hitView = view(`Bearer ${token}`);
await hit.authenticate(hitView); // fills the cache (the first call verifies)
const garbageView = view('Bearer abc.def');
// A cached token's non-canonical sibling (the signature's unused low bits set):
// not a cache hit, refused by the shape scan before any decoding.
const A64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const sibling = token.slice(0, -1) + A64[A64.indexOf(token.at(-1)) | 1];
const siblingView = view(`Bearer ${sibling}`);
// The chain's singleton check of credential query parameters, on a query
// that carries the token once among other parameters (the normal case).
const singletons = new QuerySingletons(['access_token']);
const tokenQuery = `page=2&sort=desc&access_token=${token}&fields=id,total`;
const missAuth = authenticator(0);
const missViews = distinct.map((t) => view(`Bearer ${t}`));
const map = new Map([[token, { sub: 'alice' }]]);
const AUTH_OK = hit.authenticate(hitView);

await suite('JWT authenticator', {
  note: 'RS256, 2048-bit key',
  baseline: { name: 'Map.get(token) (floor)', fn: () => map.get(token), check: (v) => v !== undefined },
  cases: [
    { name: 'cache hit (same token)', fn: () => { hitView.identity = null; return hit.authenticate(hitView); }, check: (v) => v === AUTH_OK && hitView.identity !== null, target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'garbage token → 401', fn: () => { garbageView.reason = 0; return garbageView.reason || hit.authenticate(garbageView); }, check: (v) => typeof v === 'number' && v !== AUTH_OK, target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'non-canonical sibling → 401', fn: () => { siblingView.reason = 0; return siblingView.reason || hit.authenticate(siblingView); }, check: (v) => typeof v === 'number' && v !== AUTH_OK, target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'query token: singleton check (once)', fn: () => singletons.repeated(tokenQuery), check: (v) => v === false, target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'miss: verify RS256 (no cache)', calls: 20_000, inner: 20, fn: (i) => missAuth.authenticate(missViews[i & 255]), check: (v) => v === AUTH_OK },
  ],
});
