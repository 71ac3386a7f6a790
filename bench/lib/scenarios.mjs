// Every row the bench can measure. A row is one system (Portcullis, a peer,
// or the upstream alone) under one load. Rows name their baseline (another
// row of the same run) and the targets from the issues, so ratios are always
// between figures measured minutes apart on the same machine.
import { BIG_BYTES, PORTS, UPSTREAM_BODY, haproxyPort } from './servers.mjs';
import { AUDIENCE, ISSUER } from './tokens.mjs';
import { CPUS } from './system.mjs';

const gw = (p) => `http://127.0.0.1:${PORTS.gateway}${p}`;
const ng = (p) => `http://127.0.0.1:${PORTS.nginx}${p}`;
const hp = (fe, p = '/api/orders') => `http://127.0.0.1:${haproxyPort(fe)}${p}`;
// The Node peers (bench/peers/): `/…` passes through, `/jwt/…` verifies RS256 first.
const fy = (p) => `http://127.0.0.1:${PORTS.fastify}${p}`;
const fg = (p) => `http://127.0.0.1:${PORTS.fastgw}${p}`;
const PATH = '/api/orders';

/** The gateway config every Portcullis row starts from. */
function base(extra = {}) {
  return {
    server: {
      listen: [{ host: '127.0.0.1', port: PORTS.gateway }],
      threads: CPUS.threads,
      limits: { max_body: '4MiB', idle_timeout: '120s' },
      ...extra.server,
    },
    upstreams: {
      up: { targets: [`http://127.0.0.1:${PORTS.upstream}`], connections: 128 },
      up2: { targets: [`http://127.0.0.1:${PORTS.upstream}`], connections: 128 },
    },
    // Off unless a row turns it on: the access log's cost is its own row (pass-observed).
    access_log: { enabled: false },
    ...(extra.top ?? {}),
    routes: extra.routes,
  };
}

const jwtAuth = (t, alg, extra = {}) => ({
  type: 'jwt',
  issuer: ISSUER,
  audience: [AUDIENCE],
  algorithms: [alg],
  ...(alg === 'HS256' ? { secret: t.hsSecret } : { keys: [alg === 'RS256' ? t.rsPubPem : t.esPubPem] }),
  required_claims: ['sub', 'exp'],
  forward_claims: { sub: 'x-user-id' },
  ...extra,
});

const bearer = (tok) => ({ Authorization: `Bearer ${tok}` });

const OIDC_SECRET = 'bench-session-secret-0123456789abcdefghij';
/**
 * Seals a session cookie for the oidc-session row with the gateway's own code
 * (dist/, so only after the bench built it) and sets the row's load and checks.
 */
async function prepareOidcSession(row) {
  const { deriveKey, seal } = await import('../../dist/auth/oidc/jwe.js');
  const { randomBytes } = await import('node:crypto');
  const now = Math.floor(Date.now() / 1000);
  const key = deriveKey(OIDC_SECRET, 'session', 'sso');
  const cookie = (exp) => `_ga=GA1.2.3; theme=dark; __Host-portcullis=${seal(key, { v: 2, sid: randomBytes(16).toString('base64url'), sub: 'alice', c: { sub: 'alice', email: 'alice@example.test' }, iat: now, exp, ref: 0 })}`;
  const good = cookie(now + 86400);
  row.load = { headers: { Cookie: good } };
  // Refused sessions from an API client (Accept: application/json) get a 401; a browser would be sent to log in.
  const api = (c) => ({ Cookie: c, Accept: 'application/json' });
  row.checks = [
    { name: 'session cookie', headers: { Cookie: good }, expect: 200 },
    { name: 'expired session', headers: api(cookie(now - 60)), expect: 401 },
    { name: 'tampered session', headers: api(good.slice(0, -6) + (good.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA')), expect: 401 },
    { name: 'no session', headers: { Accept: 'application/json' }, expect: 401 },
  ];
}

/**
 * The oidc-session row with 100 000 live revocations loaded from
 * session.revocation_file before the gateway serves (none names the session
 * under load): the hit path must not pay for the list.
 */
async function prepareOidcSessionRevoked(row) {
  await prepareOidcSession(row);
  const { randomBytes } = await import('node:crypto');
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const now = Math.floor(Date.now() / 1000);
  const lines = ['# portcullis OIDC session revocations v1: "r KEY EXP BEFORE" and "f FLOOR" lines, epoch seconds'];
  for (let i = 0; i < 100_000; i++) lines.push(`r ${randomBytes(16).toString('hex')} ${now + 86400} ${now}`);
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'bench-revocations-')), 'revocations');
  writeFileSync(file, lines.join('\n') + '\n');
  row.gateway.authenticators.sso.session.revocation_file = file;
}

/** Functional checks of a JWT-protected endpoint: what every system must get right before it is timed. */
function jwtChecks(t, goodToken) {
  return [
    { name: 'valid token', headers: bearer(goodToken), expect: 200 },
    { name: 'no token', headers: {}, expect: 401 },
    { name: 'alg none', headers: bearer(t.hostile.none), expect: 401 },
    { name: 'expired', headers: bearer(t.hostile.expired), expect: 401 },
    { name: 'bad signature', headers: bearer(t.hostile.badSignature), expect: 401 },
    { name: 'alg confusion (HS256 keyed with the RSA public key)', headers: bearer(t.hostile.algConfusion), expect: 401 },
    { name: 'wrong issuer', headers: bearer(t.hostile.wrongIssuer), expect: 401 },
  ];
}
const limitChecks = [{ name: 'low limit gives 429', repeat: 3, expect: 429 }];

/**
 * Rows in run order (baselines first). Fields:
 *  id, scenario (chart group), system, url, load {headers, tokensFile, method, bodySize},
 *  expect (status the load should get), checks, gateway (Portcullis config),
 *  needs (tools/peers), baseline {id, metric}, targets [{label, vs, metric, max|min}],
 *  connections (override), kind ('wrk' | 'paced' | 'idle'), note.
 */
export function scenarios(t) {
  const T = t.tokens;
  const rows = [];
  const add = (r) => rows.push({ kind: 'wrk', expect: 200, checks: [], needs: [], ...r });

  // --- floors and pass-through ------------------------------------------------
  add({ id: 'direct', scenario: 'direct upstream', system: 'upstream', url: `http://127.0.0.1:${PORTS.upstream}${PATH}`,
    note: 'wrk straight to the nginx upstream: the ceiling of this layout (no gateway CPU)' });
  add({ id: 'respond', scenario: 'respond floor', system: 'portcullis', url: gw(PATH),
    gateway: base({ routes: [{ name: 'floor', match: { path_prefix: '/' }, anonymous: true,
      respond: { status: 200, body: UPSTREAM_BODY, headers: { 'content-type': 'application/json' } } }] }),
    baseline: { id: 'direct', metric: 'rps' } });
  add({ id: 'nginx-pass', scenario: 'pass-through', system: 'nginx', needs: ['nginx-peer'], url: ng(PATH), baseline: { id: 'direct', metric: 'rps' } });
  add({ id: 'haproxy-pass', scenario: 'pass-through', system: 'haproxy', needs: ['haproxy'], url: hp('pass'), baseline: { id: 'direct', metric: 'rps' } });
  add({ id: 'fastify-pass', scenario: 'pass-through', system: 'fastify', needs: ['fastify'], url: fy(PATH), baseline: { id: 'direct', metric: 'rps' },
    note: 'fastify 5 + @fastify/reply-from (undici); bench/peers/fastify-gateway.mjs' });
  add({ id: 'fastgw-pass', scenario: 'pass-through', system: 'fast-gateway', needs: ['fast-gateway'], url: fg(PATH), baseline: { id: 'direct', metric: 'rps' },
    note: 'fast-gateway (restana + fast-proxy-lite on node:http); bench/peers/fast-gateway.mjs' });
  add({ id: 'pass', scenario: 'pass-through', system: 'portcullis', url: gw(PATH),
    gateway: base({ routes: [{ name: 'pass', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' }] }),
    baseline: { id: 'direct', metric: 'rps' },
    targets: [
      { label: 'CPU ≤ 1.5× nginx (stretch 1.25×)', vs: 'nginx-pass', metric: 'cpu', max: 1.5 },
      { label: 'CPU ≤ 2× nginx (issue 2)', vs: 'nginx-pass', metric: 'cpu', max: 2 },
      { label: 'CPU ≤ 1/3 of fastify', vs: 'fastify-pass', metric: 'cpu', max: 0.333 },
      { label: 'CPU ≤ 1/3 of fast-gateway', vs: 'fastgw-pass', metric: 'cpu', max: 0.333 },
    ] });

  // --- JWT ------------------------------------------------------------------
  const jwtRoute = (auth, extra = {}) => ({ name: 'jwt', match: { path_prefix: '/' }, authenticate: [auth], upstream: 'up', ...extra });
  add({ id: 'haproxy-jwt-rs256', scenario: 'JWT RS256 hit (same token)', system: 'haproxy', needs: ['haproxy'], url: hp('jwt-rs256'),
    load: { headers: bearer(T.rs256) }, checks: jwtChecks(t, T.rs256), baseline: { id: 'haproxy-pass', metric: 'rps' },
    note: 'HAProxy verifies every request (no token cache)' });
  add({ id: 'fastify-jwt-hit', scenario: 'JWT RS256 hit (same token)', system: 'fastify', needs: ['fastify'], url: fy(`/jwt${PATH}`),
    load: { headers: bearer(T.rs256) }, checks: jwtChecks(t, T.rs256), baseline: { id: 'fastify-pass', metric: 'rps' },
    note: '@fastify/jwt (fast-jwt) in an onRequest hook; verifies every request (no token cache by default)' });
  add({ id: 'fastgw-jwt-hit', scenario: 'JWT RS256 hit (same token)', system: 'fast-gateway', needs: ['fast-gateway'], url: fg(`/jwt${PATH}`),
    load: { headers: bearer(T.rs256) }, checks: jwtChecks(t, T.rs256), baseline: { id: 'fastgw-pass', metric: 'rps' },
    note: 'fast-jwt verifier in a route middleware; verifies every request (no token cache by default)' });
  add({ id: 'jwt-hit', scenario: 'JWT RS256 hit (same token)', system: 'portcullis', url: gw(PATH),
    gateway: base({ top: { authenticators: { rs: jwtAuth(t, 'RS256') } }, routes: [jwtRoute('rs')] }),
    load: { headers: bearer(T.rs256) }, checks: jwtChecks(t, T.rs256),
    baseline: { id: 'pass', metric: 'rps' },
    targets: [
      { label: 'CPU ≤ 0.6× HAProxy jwt_verify', vs: 'haproxy-jwt-rs256', metric: 'cpu', max: 0.6 },
      { label: 'CPU ≤ 1/5 of fastify + @fastify/jwt', vs: 'fastify-jwt-hit', metric: 'cpu', max: 0.2 },
      { label: 'CPU ≤ 1/5 of fast-gateway + fast-jwt', vs: 'fastgw-jwt-hit', metric: 'cpu', max: 0.2 },
      { label: 'req/s ≥ 0.9× pass-through', vs: 'pass', metric: 'rps', min: 0.9 },
    ] });
  add({ id: 'haproxy-jwt-rs256-miss', scenario: 'JWT RS256 miss (distinct tokens)', system: 'haproxy', needs: ['haproxy'], url: hp('jwt-rs256'),
    load: { tokensFile: t.files.rsDistinct }, checks: jwtChecks(t, T.rs256), baseline: { id: 'haproxy-pass', metric: 'rps' } });
  add({ id: 'jwt-miss-rs256', scenario: 'JWT RS256 miss (distinct tokens)', system: 'portcullis', url: gw(PATH),
    gateway: base({ top: { authenticators: { rs: jwtAuth(t, 'RS256', { cache: { max_entries: 1000 } }) } }, routes: [jwtRoute('rs')] }),
    load: { tokensFile: t.files.rsDistinct }, checks: jwtChecks(t, T.rs256), baseline: { id: 'pass', metric: 'rps' },
    note: '10k distinct tokens in rotation through a 1000-entry cache: every request verifies a signature',
    targets: [{ label: 'CPU ≤ 1.0× HAProxy', vs: 'haproxy-jwt-rs256-miss', metric: 'cpu', max: 1.0 }] });
  add({ id: 'haproxy-jwt-es256-miss', scenario: 'JWT ES256 miss (distinct tokens)', system: 'haproxy', needs: ['haproxy'], url: hp('jwt-es256'),
    load: { tokensFile: t.files.esDistinct }, checks: [{ name: 'valid token', headers: bearer(T.es256), expect: 200 }, { name: 'RS256 token on an ES256 route', headers: bearer(T.rs256), expect: 401 }],
    baseline: { id: 'haproxy-pass', metric: 'rps' } });
  add({ id: 'jwt-miss-es256', scenario: 'JWT ES256 miss (distinct tokens)', system: 'portcullis', url: gw(PATH),
    gateway: base({ top: { authenticators: { es: jwtAuth(t, 'ES256', { cache: { max_entries: 1000 } }) } }, routes: [jwtRoute('es')] }),
    load: { tokensFile: t.files.esDistinct }, checks: [{ name: 'valid token', headers: bearer(T.es256), expect: 200 }, { name: 'RS256 token on an ES256 route', headers: bearer(T.rs256), expect: 401 }],
    baseline: { id: 'pass', metric: 'rps' },
    targets: [{ label: 'CPU ≤ 1.0× HAProxy', vs: 'haproxy-jwt-es256-miss', metric: 'cpu', max: 1.0 }] });
  add({ id: 'jwt-scopes-route-by', scenario: 'JWT + scopes + route_by', system: 'portcullis', url: gw(PATH),
    gateway: base({ top: { authenticators: { rs: jwtAuth(t, 'RS256') } }, routes: [jwtRoute('rs', {
      upstream: undefined,
      authorize: { scopes: ['orders:read'], roles: ['buyer'] },
      route_by: { claim: 'region', map: { eu: 'up', us: 'up2' }, otherwise: 'deny' },
    })] }),
    load: { headers: bearer(T.rs256) }, checks: [{ name: 'valid token with scope and region', headers: bearer(T.rs256), expect: 200 }, { name: 'no token', headers: {}, expect: 401 }],
    baseline: { id: 'jwt-hit', metric: 'rps' },
    targets: [{ label: 'req/s ≥ 0.95× JWT hit', vs: 'jwt-hit', metric: 'rps', min: 0.95 }] });
  const bigLimits = {
    global: { key: 'global', rate: 1e9, per: '1s' },
    'per-ip': { key: 'ip', rate: 1e9, per: '1s' },
    'per-user': { key: 'claim:sub', rate: 1e9, per: '1s' },
  };
  add({ id: 'jwt-3-limits', scenario: 'JWT + 3 rate limits', system: 'portcullis', url: gw(PATH),
    gateway: base({ top: { authenticators: { rs: jwtAuth(t, 'RS256') }, rate_limits: bigLimits },
      routes: [jwtRoute('rs', { rate_limit: ['global', 'per-ip', 'per-user'] })] }),
    load: { headers: bearer(T.rs256) }, checks: [{ name: 'valid token', headers: bearer(T.rs256), expect: 200 }],
    baseline: { id: 'jwt-hit', metric: 'rps' },
    targets: [{ label: 'req/s ≥ 0.95× JWT hit', vs: 'jwt-hit', metric: 'rps', min: 0.95 }] });
  add({ id: 'haproxy-hs256-sub', scenario: 'JWT HS256 + per-sub limit', system: 'haproxy', needs: ['haproxy'], url: hp('jwt-hs256-sub'),
    load: { headers: bearer(T.hs256) }, checks: [{ name: 'valid token', headers: bearer(T.hs256), expect: 200 }, { name: 'alg none', headers: bearer(t.hostile.none), expect: 401 }, { name: 'RS256 token', headers: bearer(T.rs256), expect: 401 }],
    baseline: { id: 'haproxy-pass', metric: 'rps' } });
  add({ id: 'jwt-hs256-sub', scenario: 'JWT HS256 + per-sub limit', system: 'portcullis', url: gw(PATH),
    gateway: base({ top: { authenticators: { hs: jwtAuth(t, 'HS256') }, rate_limits: { 'per-user': bigLimits['per-user'] } },
      routes: [jwtRoute('hs', { rate_limit: ['per-user'] })] }),
    load: { headers: bearer(T.hs256) }, checks: [{ name: 'valid token', headers: bearer(T.hs256), expect: 200 }, { name: 'alg none', headers: bearer(t.hostile.none), expect: 401 }, { name: 'RS256 token', headers: bearer(T.rs256), expect: 401 }],
    baseline: { id: 'pass', metric: 'rps' },
    targets: [{ label: 'CPU ≤ 1.0× HAProxy', vs: 'haproxy-hs256-sub', metric: 'cpu', max: 1.0 }] });

  // --- saying no ------------------------------------------------------------
  add({ id: 'haproxy-401', scenario: '401 flood (garbage tokens)', system: 'haproxy', needs: ['haproxy'], url: hp('jwt-rs256'),
    load: { tokensFile: t.files.garbage }, expect: 401, checks: [{ name: 'garbage token', headers: bearer('garbage'), expect: 401 }],
    baseline: { id: 'haproxy-pass', metric: 'rps' } });
  add({ id: 'flood-401', scenario: '401 flood (garbage tokens)', system: 'portcullis', url: gw(PATH),
    gateway: base({ top: { authenticators: { rs: jwtAuth(t, 'RS256') } }, routes: [jwtRoute('rs')] }),
    load: { tokensFile: t.files.garbage }, expect: 401, checks: [{ name: 'garbage token', headers: bearer('garbage'), expect: 401 }],
    baseline: { id: 'respond', metric: 'rps' },
    targets: [
      { label: 'CPU ≤ 1.0× HAProxy 401', vs: 'haproxy-401', metric: 'cpu', max: 1.0 },
      { label: 'req/s ≥ 0.9× respond floor', vs: 'respond', metric: 'rps', min: 0.9 },
    ] });
  add({ id: 'nginx-403', scenario: '403 flood (denied network)', system: 'nginx', needs: ['nginx-peer'], url: ng('/deny'), expect: 403,
    checks: [{ name: 'denied network', expect: 403 }], baseline: { id: 'nginx-pass', metric: 'rps' } });
  add({ id: 'haproxy-403', scenario: '403 flood (denied network)', system: 'haproxy', needs: ['haproxy'], url: hp('deny'), expect: 403,
    checks: [{ name: 'denied network', expect: 403 }], baseline: { id: 'haproxy-pass', metric: 'rps' } });
  add({ id: 'flood-403', scenario: '403 flood (denied network)', system: 'portcullis', url: gw(PATH), expect: 403,
    gateway: base({ routes: [{ name: 'deny', match: { path_prefix: '/' }, anonymous: true, authorize: { ip_deny: ['127.0.0.0/8'] }, upstream: 'up' }] }),
    checks: [{ name: 'denied network', expect: 403 }],
    baseline: { id: 'respond', metric: 'rps' },
    targets: [
      { label: 'CPU ≤ 1.0× HAProxy 403', vs: 'haproxy-403', metric: 'cpu', max: 1.0 },
      { label: 'req/s ≥ 0.9× respond floor', vs: 'respond', metric: 'rps', min: 0.9 },
    ] });
  add({ id: 'nginx-429', scenario: '429 flood (tiny limit)', system: 'nginx', needs: ['nginx-peer'], url: ng('/limited'), expect: 429,
    checks: limitChecks, baseline: { id: 'nginx-pass', metric: 'rps' } });
  add({ id: 'haproxy-429', scenario: '429 flood (tiny limit)', system: 'haproxy', needs: ['haproxy'], url: hp('limited'), expect: 429,
    checks: limitChecks, baseline: { id: 'haproxy-pass', metric: 'rps' } });
  add({ id: 'flood-429', scenario: '429 flood (tiny limit)', system: 'portcullis', url: gw(PATH), expect: 429,
    gateway: base({ top: { rate_limits: { tiny: { key: 'ip', rate: 1, per: '1h', burst: 1 } } },
      routes: [{ name: 'limited', match: { path_prefix: '/' }, anonymous: true, rate_limit: ['tiny'], upstream: 'up' }] }),
    checks: limitChecks,
    baseline: { id: 'respond', metric: 'rps' },
    targets: [
      { label: 'CPU ≤ 1.2× HAProxy 429', vs: 'haproxy-429', metric: 'cpu', max: 1.2 },
      { label: 'req/s ≥ 0.9× respond floor', vs: 'respond', metric: 'rps', min: 0.9 },
    ] });

  // --- external authorization -------------------------------------------------
  add({ id: 'nginx-authz', scenario: 'external authz', system: 'nginx', needs: ['nginx-peer', 'authz'], url: ng('/authz'),
    baseline: { id: 'nginx-pass', metric: 'rps' }, note: 'auth_request calls the Node authz service on every request; CPU of both processes' });
  add({ id: 'authz-cached', scenario: 'external authz', system: 'portcullis', needs: ['authz'], url: gw(PATH),
    gateway: base({ top: { authorizers: { az: { url: `http://127.0.0.1:${PORTS.authz}/authz`, timeout: '1s', cache: { ttl: '5m' } } } },
      routes: [{ name: 'authz', match: { path_prefix: '/' }, anonymous: true, authorize: { external: 'az' }, upstream: 'up' }] }),
    baseline: { id: 'pass', metric: 'rps' }, note: 'decision cache warm (default key: everything the service is sent); CPU of gateway + authz service',
    targets: [
      { label: 'CPU ≤ 0.3× nginx auth_request', vs: 'nginx-authz', metric: 'cpu', max: 0.3 },
      { label: 'req/s ≥ 0.9× pass-through', vs: 'pass', metric: 'rps', min: 0.9 },
    ] });

  // The floor under every uncached row: the authz service alone, as the gateway calls it (POST, a small JSON body, keep-alive).
  add({ id: 'authz-direct', scenario: 'external authz', system: 'upstream', needs: ['authz'], url: `http://127.0.0.1:${PORTS.authz}/authz`,
    load: { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ route: 'authz', method: 'GET', path: PATH, query: '', host: '127.0.0.1', ip: '127.0.0.1', headers: {}, identity: null }) },
    note: 'wrk straight at the Node authz service: its own CPU per call, the part of every authz row no gateway can remove' });
  // Uncached: every request is one call through the worker pool (the service's
  // answer depends on something the gateway cannot key on, e.g. time or body).
  const azRoute = [{ name: 'authz', match: { path_prefix: '/' }, anonymous: true, authorize: { external: 'az' }, upstream: 'up' }];
  add({ id: 'authz-uncached', scenario: 'external authz', system: 'portcullis', needs: ['authz'], url: gw(PATH),
    gateway: base({ top: { authorizers: { az: { url: `http://127.0.0.1:${PORTS.authz}/authz`, timeout: '1s' } } }, routes: azRoute }),
    baseline: { id: 'pass', metric: 'rps' }, note: 'no decision cache: one worker-pool callout per request; CPU of gateway + authz service',
    targets: [{ label: 'CPU ≤ 0.5× nginx auth_request', vs: 'nginx-authz', metric: 'cpu', max: 0.5 }] });
  // --- token introspection (RFC 7662) against the same Node service ---------------
  const introspection = (ttl) => ({ type: 'introspection', endpoint: `http://127.0.0.1:${PORTS.authz}/introspect`, client_id: 'bench', client_secret: 'bench-secret',
    cache_ttl: ttl, negative_cache_ttl: ttl, timeout: '1s' });
  const inRoute = [{ name: 'introspected', match: { path_prefix: '/' }, authenticate: ['in'], upstream: 'up' }];
  add({ id: 'introspection-cached', scenario: 'token introspection', system: 'portcullis', needs: ['authz'], url: gw(PATH),
    gateway: base({ top: { authenticators: { in: introspection('5m') } }, routes: inRoute }),
    load: { headers: bearer('opaque-bench-token') }, checks: [{ name: 'token', headers: bearer('opaque-bench-token'), expect: 200 }, { name: 'no token', expect: 401 }],
    baseline: { id: 'pass', metric: 'rps' }, note: 'one opaque token, its introspection answer cached; CPU of gateway + service',
    targets: [{ label: 'CPU ≤ 0.3× nginx auth_request', vs: 'nginx-authz', metric: 'cpu', max: 0.3 }] });
  add({ id: 'introspection-uncached', scenario: 'token introspection', system: 'portcullis', needs: ['authz'], url: gw(PATH),
    gateway: base({ top: { authenticators: { in: introspection('0s') } }, routes: inRoute }),
    load: { tokensFile: t.files.garbage }, checks: [{ name: 'token', headers: bearer('opaque-bench-token'), expect: 200 }, { name: 'no token', expect: 401 }],
    baseline: { id: 'pass', metric: 'rps' }, note: 'cache_ttl 0, distinct tokens: one worker-pool callout per request; CPU of gateway + service',
    targets: [{ label: 'CPU ≤ 0.5× nginx auth_request', vs: 'nginx-authz', metric: 'cpu', max: 0.5 }] });

  // --- observability ------------------------------------------------------------
  add({ id: 'pass-observed', scenario: 'pass-through + metrics + access log', system: 'portcullis', url: gw(PATH),
    gateway: base({ top: { admin: { listen: { host: '127.0.0.1', port: PORTS.admin } }, access_log: { enabled: true, path: 'access.log' } },
      routes: [{ name: 'pass', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' }] }),
    baseline: { id: 'pass', metric: 'rps' }, note: 'admin listener (metrics) on, every request logged as a JSON line to a file',
    targets: [{ label: 'req/s ≥ 0.95× pass-through', vs: 'pass', metric: 'rps', min: 0.95 }] });

  // --- large bodies -------------------------------------------------------------
  const bigUp = { method: 'POST', bodySize: BIG_BYTES, headers: { 'Content-Type': 'application/octet-stream' } };
  add({ id: 'direct-up-1m', scenario: '1 MiB upload', system: 'upstream', url: `http://127.0.0.1:${PORTS.upstream}/upload`, load: bigUp, connections: 16 });
  add({ id: 'nginx-up-1m', scenario: '1 MiB upload', system: 'nginx', needs: ['nginx-peer'], url: ng('/upload'), load: bigUp, connections: 16, baseline: { id: 'direct-up-1m', metric: 'rps' } });
  add({ id: 'up-1m', scenario: '1 MiB upload', system: 'portcullis', url: gw('/upload'), load: bigUp, connections: 16,
    gateway: base({ routes: [{ name: 'pass', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' }] }),
    baseline: { id: 'direct-up-1m', metric: 'rps' }, targets: [{ label: 'CPU vs nginx (no target)', vs: 'nginx-up-1m', metric: 'cpu' }] });
  add({ id: 'direct-down-1m', scenario: '1 MiB download', system: 'upstream', url: `http://127.0.0.1:${PORTS.upstream}/big`, connections: 16 });
  add({ id: 'nginx-down-1m', scenario: '1 MiB download', system: 'nginx', needs: ['nginx-peer'], url: ng('/big'), connections: 16, baseline: { id: 'direct-down-1m', metric: 'rps' } });
  add({ id: 'down-1m', scenario: '1 MiB download', system: 'portcullis', url: gw('/big'), connections: 16,
    gateway: base({ routes: [{ name: 'pass', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' }] }),
    baseline: { id: 'direct-down-1m', metric: 'rps' }, targets: [{ label: 'CPU vs nginx (no target)', vs: 'nginx-down-1m', metric: 'cpu' }] });

  // --- many connections ---------------------------------------------------------
  add({ id: 'nginx-10k-idle', scenario: '10k idle keep-alive + load', system: 'nginx', kind: 'idle', needs: ['nginx-peer'], url: ng(PATH),
    idle: { port: PORTS.nginx, path: PATH, count: 10_000 }, baseline: { id: 'nginx-pass', metric: 'rps' } });
  add({ id: 'pass-10k-idle', scenario: '10k idle keep-alive + load', system: 'portcullis', kind: 'idle', url: gw(PATH),
    gateway: base({ routes: [{ name: 'pass', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' }] }),
    idle: { port: PORTS.gateway, path: PATH, count: 10_000 }, baseline: { id: 'pass', metric: 'rps' },
    targets: [{ label: 'CPU vs nginx (no target)', vs: 'nginx-10k-idle', metric: 'cpu' }] });

  // --- latency at half of saturation (paced load, bench/lib/paced.mjs) -------
  add({ id: 'paced-direct', scenario: 'p99 at half saturation', system: 'upstream', kind: 'paced', url: `http://127.0.0.1:${PORTS.upstream}${PATH}`, rateFrom: 'pass',
    note: 'paced client (bench/lib/paced.mjs) at a fixed rate = ½ of pass-through req/s' });
  add({ id: 'paced-pass', scenario: 'p99 at half saturation', system: 'portcullis', kind: 'paced', url: gw(PATH), rateFrom: 'pass',
    gateway: base({ routes: [{ name: 'pass', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' }] }),
    baseline: { id: 'paced-direct', metric: 'p99' },
    targets: [{ label: 'p99 added over direct ≤ 1 ms', vs: 'paced-direct', metric: 'p99-added', maxAddedUs: 1000 }] });

  // --- scaling: server.threads 1 vs 2 (gateway on both cores) -------------------
  add({ id: 'pass-t1-2cores', scenario: 'threads 1 vs 2 (gateway on CPUs 0-1)', system: 'portcullis', url: gw(PATH), cpus: 'all',
    gateway: base({ routes: [{ name: 'pass', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' }] }),
    baseline: { id: 'pass', metric: 'rps' }, note: 'layout change: gateway may run on both cores, sharing CPU 0 with wrk and the upstream' });
  add({ id: 'pass-t2-2cores', scenario: 'threads 1 vs 2 (gateway on CPUs 0-1)', system: 'portcullis', url: gw(PATH), cpus: 'all',
    gateway: base({ server: { threads: 2 }, routes: [{ name: 'pass', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' }] }),
    baseline: { id: 'pass-t1-2cores', metric: 'rps' } });

  // OIDC session hit: a browser that logged in sends its session cookie on every
  // request. The cookie is sealed here with the gateway's session secret (what
  // the callback would have set after a login), so no provider is needed: a
  // hit never contacts it (its discovery fails at startup, which is logged).
  add({ id: 'oidc-session', scenario: 'OIDC session hit', system: 'portcullis', url: gw(PATH),
    gateway: base({ top: { authenticators: { sso: {
      type: 'oidc', issuer: 'http://127.0.0.1:9/', client_id: 'bench', public_url: 'https://app.bench.test',
      session: { secret: OIDC_SECRET }, forward_claims: { sub: 'x-user-id' }, timeout: '200ms' } } },
    routes: [{ name: 'sso', match: { path_prefix: '/' }, authenticate: ['sso'], upstream: 'up' }] }),
    prepare: prepareOidcSession, checks: [],
    baseline: { id: 'jwt-hit', metric: 'rps' },
    targets: [{ label: 'req/s ≥ 0.9× JWT hit', vs: 'jwt-hit', metric: 'rps', min: 0.9 }] });
  add({ id: 'oidc-session-100k', scenario: 'OIDC session hit, 100k revocations', system: 'portcullis', url: gw(PATH),
    gateway: base({ top: { authenticators: { sso: {
      type: 'oidc', issuer: 'http://127.0.0.1:9/', client_id: 'bench', public_url: 'https://app.bench.test',
      session: { secret: OIDC_SECRET }, forward_claims: { sub: 'x-user-id' }, timeout: '200ms' } } },
    routes: [{ name: 'sso', match: { path_prefix: '/' }, authenticate: ['sso'], upstream: 'up' }] }),
    prepare: prepareOidcSessionRevoked, checks: [],
    baseline: { id: 'oidc-session', metric: 'cpu' },
    targets: [{ label: 'CPU ≤ 1.05× without revocations (issue 15)', vs: 'oidc-session', metric: 'cpu', max: 1.05 }] });

  // --- CORS ---------------------------------------------------------------------
  const ORIGIN = 'https://app.bench.test';
  const cors = { allow_origins: [ORIGIN, 'https://*.bench.test'], allow_methods: ['GET', 'POST'], allow_headers: ['authorization', 'content-type'], expose_headers: ['x-request-id'], allow_credentials: true, max_age: '10m' };
  add({ id: 'cors-preflight', scenario: 'CORS preflight', system: 'portcullis', url: gw(PATH), expect: 204,
    gateway: base({ routes: [{ name: 'spa', match: { path_prefix: '/' }, anonymous: true, cors, upstream: 'up' }] }),
    load: { method: 'OPTIONS', headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' } },
    checks: [{ name: 'a disallowed origin gets 403', method: 'OPTIONS', headers: { Origin: 'https://app.bench.test.evil.example', 'Access-Control-Request-Method': 'POST' }, expect: 403 }],
    baseline: { id: 'respond', metric: 'cpu' },
    targets: [{ label: 'CPU ≤ 1.1× the respond floor (issue 15)', vs: 'respond', metric: 'cpu', max: 1.1 }] });
  add({ id: 'cors-actual', scenario: 'pass-through, CORS request', system: 'portcullis', url: gw(PATH),
    gateway: base({ routes: [{ name: 'spa', match: { path_prefix: '/' }, anonymous: true, cors, upstream: 'up' }] }),
    load: { headers: { Origin: ORIGIN } },
    baseline: { id: 'pass', metric: 'cpu' },
    targets: [{ label: 'CPU ≤ 1.02× without CORS (issue 15)', vs: 'pass', metric: 'cpu', max: 1.02 }] });
  return rows;
}
