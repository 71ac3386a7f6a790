// The slow-path stages on their hot path: what a request costs once its slow
// answer is cached. Baseline: a JWT verified-token cache hit (the issue's
// target: an OIDC session-cookie hit and a warm external-authz decision
// should cost about the same, ≥ 0.9× the throughput).
import crypto from 'node:crypto';
import http from 'node:http';
import { makeCompileContext, validateConfig } from '../../dist/config/load.js';
import { compileJwt } from '../../dist/auth/jwt/index.js';
import { compileOidc } from '../../dist/auth/oidc/index.js';
import { deriveKey, seal } from '../../dist/auth/oidc/jwe.js';
import { compileIntrospection } from '../../dist/auth/introspection/index.js';
import { compileAuthorizer } from '../../dist/policy/external-authorizer/index.js';
import { compileExternalAuthn } from '../../dist/auth/external/index.js';
import { findCookie } from '../../dist/auth/cookie-header.js';
import { createWorkerPool } from '../../dist/workers/pool.js';
import { suite } from './lib.mjs';

const now = Math.floor(Date.now() / 1000);
const ISS = 'https://issuer.bench.portcullis.test/';
const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const input = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: ISS, aud: 'bench-api', sub: 'alice', exp: now + 3600, scope: 'orders:read' })}`;
const jwt = `${input}.${crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;

// A local service answering introspection and authz calls (only to warm the caches).
const svc = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ active: true, sub: 'alice', scope: 'orders:read', exp: now + 3600 }));
  });
});
await new Promise((r) => svc.listen(0, '127.0.0.1', r));
const svcUrl = `http://127.0.0.1:${svc.address().port}`;
const SECRET = 'bench-session-secret-0123456789abcdefghij';

const plan = validateConfig({
  upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
  authenticators: {
    rs: { type: 'jwt', issuer: ISS, audience: ['bench-api'], algorithms: ['RS256'], keys: [publicKey.export({ type: 'spki', format: 'pem' })], forward_claims: { sub: 'x-user-id' } },
    // The issuer is never contacted: the session cookie is sealed here and discovery may fail.
    sso: { type: 'oidc', issuer: 'http://127.0.0.1:1', client_id: 'c', public_url: 'https://app.test', session: { secret: SECRET }, forward_claims: { sub: 'x-user-id' }, timeout: '100ms' },
    // With back-channel logout a hit checks three revocation keys (session id, provider sid, provider sub).
    sso3: { type: 'oidc', issuer: 'http://127.0.0.1:1', client_id: 'c', public_url: 'https://app.test', session: { secret: SECRET }, forward_claims: { sub: 'x-user-id' }, timeout: '100ms', backchannel_logout_path: '/bc' },
    intro: { type: 'introspection', endpoint: `${svcUrl}/introspect`, client_id: 'gw', client_secret: 's', forward_claims: { sub: 'x-user-id' } },
    // The default cache key: everything the service is sent (method, path, query, host, ip, the sent headers).
    ext: { type: 'external', url: `${svcUrl}/authn`, send: { headers: ['authorization'] }, cache: { ttl: '1h' }, forward_claims: { sub: 'x-user-id' }, allowed_upstream_headers: [] },
  },
  authorizers: { geo: { url: `${svcUrl}/authz`, cache: { ttl: '1h' } } },
  routes: [{ name: 'r', match: { path_prefix: '/' }, authenticate: ['rs'], upstream: 'u' }],
});
const issues = [];
const ctx = makeCompileContext(plan, issues);
const pool = createWorkerPool({ threads: 1, maxQueue: 64 });
const a = plan.config.authenticators;
const jwtA = compileJwt('rs', a.rs, 'authenticators.rs', ctx);
const oidcA = compileOidc('sso', a.sso, 'authenticators.sso', ctx, pool);
const oidc3 = compileOidc('sso3', a.sso3, 'authenticators.sso3', ctx, pool);
const introA = compileIntrospection('intro', a.intro, 'authenticators.intro', ctx, pool);
const extA = compileExternalAuthn('ext', a.ext, 'authenticators.ext', ctx, pool);
const authz = compileAuthorizer('geo', plan.config.authorizers.geo, 'authorizers.geo', ctx, pool, new Map([['u', 0]]));
if (issues.length) throw new Error(issues.map((i) => `${i.path}: ${i.message}`).join('; '));

const session = seal(deriveKey(SECRET, 'session', 'sso'), { v: 2, sid: crypto.randomBytes(16).toString('base64url'), sub: 'alice', c: { sub: 'alice', email: 'alice@example.test' }, iat: now, exp: now + 3600, ref: 0 });
const session3 = seal(deriveKey(SECRET, 'session', 'sso3'), { v: 2, sid: crypto.randomBytes(16).toString('base64url'), psid: 'provider-session-1', psub: 'alice', sub: 'alice', c: { sub: 'alice', email: 'alice@example.test' }, iat: now, exp: now + 3600, ref: 0 });
const opaque = 'opaque-access-token-0123456789abcdefghijklmnop';

/** A view as the pipeline hands it: headers read from a small table, cookies found in the Cookie header. */
function view(headers) {
  return {
    method: 'GET', path: '/api/orders', query: '', host: 'app.test', clientIp: '127.0.0.1',
    clientIp16: new Uint8Array(16), clientIsV4: true, routeIndex: 0, identity: null, reason: 0, retryAfter: 0, limitName: '',
    header(n) { return headers[n] ?? ''; },
    queryParam() { return undefined; },
    cookie(n) { const h = headers.cookie; return h ? findCookie(h, n) : undefined; },
  };
}
const jwtView = view({ authorization: `Bearer ${jwt}` });
const oidcView = view({ cookie: `_ga=GA1.2.3; theme=dark; __Host-portcullis=${session}`, accept: 'text/html' });
const introView = view({ authorization: `Bearer ${opaque}` });
const oidc3View = view({ cookie: `_ga=GA1.2.3; theme=dark; __Host-portcullis=${session3}`, accept: 'text/html' });
await pool.start();
const AUTH_OK = jwtA.authenticate(jwtView);
if (oidcA.authenticate(oidcView) !== AUTH_OK) throw new Error('OIDC session did not open');
if (oidc3.authenticate(oidc3View) !== AUTH_OK) throw new Error('OIDC session (3 keys) did not open');
const warm = introA.authenticate(introView);
if ((await warm).outcome !== AUTH_OK) throw new Error('introspection did not warm');
const extView = view({ authorization: `Bearer ${opaque}` });
if ((await extA.authenticate(extView)).outcome !== AUTH_OK) throw new Error('external authn did not warm');
const authzView = view({});
authzView.identity = jwtView.identity;
const d0 = await authz.authorize(authzView);
if (typeof authz.authorize(authzView).then === 'function') throw new Error('authz decision not cached');

await suite('Slow-path stages on a cache hit', {
  note: 'OIDC cookie found in a 3-cookie header; authz key: the default, everything sent (method, path, query, host, ip, identity); external authn key: the default (method, path, query, host, ip, header:authorization)',
  baseline: { name: 'JWT verified-token cache hit', fn: () => { jwtView.identity = null; return jwtA.authenticate(jwtView); }, check: (v) => v === AUTH_OK },
  cases: [
    { name: 'OIDC session cookie hit', fn: () => { oidcView.identity = null; return oidcA.authenticate(oidcView); }, check: (v) => v === AUTH_OK && oidcView.identity !== null, target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'OIDC session cookie hit, back-channel logout on (3 revocation keys)', fn: () => { oidc3View.identity = null; return oidc3.authenticate(oidc3View); }, check: (v) => v === AUTH_OK && oidc3View.identity !== null, target: { label: '0 B/op', maxBytes: 0 } },
    { name: 'introspection cache hit (sha256 of token)', fn: () => { introView.identity = null; return introA.authenticate(introView); }, check: (v) => v === AUTH_OK },
    { name: 'external authn cache hit', fn: () => { extView.identity = null; return extA.authenticate(extView); }, check: (v) => v === AUTH_OK && extView.identity !== null },
    { name: 'JWT hit + warm external authz decision', fn: () => { jwtView.identity = null; jwtA.authenticate(jwtView); authzView.identity = jwtView.identity; return authz.authorize(authzView); }, check: (v) => v === d0 },
  ],
});

oidcA.close();
oidc3.close();
introA.close();
extA.close();
authz.close?.();
jwtA.close?.();
await pool.close();
svc.close();
