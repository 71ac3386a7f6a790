// Authorization end to end: scopes, roles and claims answer 403 with their
// reason; a bad token is 401, never 403; IP rules run before any signature
// work; route_by sends each region to its own upstream; X-Forwarded-For
// drives IP rules only when the peer is a trusted proxy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { JwksServer } from '../auth/jwks-server.js';
import { AUDIENCE, ISSUER, baseServer, bearer, request, rsaKey, sign, type SigningKey } from './util.js';

const FORBIDDEN = (reason: string) => ({ error: 'forbidden', reason });

describe('authorization through the gateway', () => {
  let eu: TestUpstream;
  let us: TestUpstream;
  let fallback: TestUpstream;
  let jwks: JwksServer;
  let gw: RunningGateway;
  let key: SigningKey;
  let admin = '';
  /** Signature verifications the JWT authenticator has run (its own counter, via /metrics). */
  const verifications = async () => {
    const m = (await request(admin, '/metrics')).body;
    const line = m.split('\n').find((l) => l.startsWith('portcullis_jwt_verifications_total{') && l.includes('authenticator="idp"'));
    expect(line, 'verifications stat in /metrics').toBeDefined();
    return Number(line!.split(' ').at(-1));
  };
  const total = () => eu.requests.length + us.requests.length + fallback.requests.length;

  beforeAll(async () => {
    key = await rsaKey('authz-1');
    [eu, us, fallback] = await Promise.all([startUpstream(), startUpstream(), startUpstream()]);
    jwks = await new JwksServer().start();
    jwks.keys = [key.jwk];
    const jwt = { type: 'jwt', issuer: ISSUER, audience: [AUDIENCE], algorithms: ['RS256'], jwks_uri: jwks.url };
    const region = { claim: 'region', map: { eu: 'eu', us: 'us' } };
    gw = await startGateway({
      server: baseServer(),
      admin: { listen: { host: '127.0.0.1', port: 0 } },
      upstreams: { eu: { targets: [eu.url] }, us: { targets: [us.url] }, fallback: { targets: [fallback.url] } },
      authenticators: { idp: jwt },
      routes: [
        { name: 'scoped', match: { path_prefix: '/scoped' }, authenticate: ['idp'], authorize: { scopes: ['orders:read', 'orders:write'] }, upstream: 'eu' },
        { name: 'roles', match: { path_prefix: '/roles' }, authenticate: ['idp'], authorize: { roles: ['admin', 'ops'] }, upstream: 'eu' },
        { name: 'nested-roles', match: { path_prefix: '/realm' }, authenticate: ['idp'], authorize: { roles: ['auditor'], roles_claim: 'realm_access.roles' }, upstream: 'eu' },
        { name: 'claims', match: { path_prefix: '/claims' }, authenticate: ['idp'], authorize: { claims: { tier: ['gold', 'platinum'] } }, upstream: 'eu' },
        { name: 'ip-and-scope', match: { path_prefix: '/ip-and-scope' }, authenticate: ['idp'], authorize: { ip_allow: ['127.0.0.0/8'], scopes: ['orders:read'] }, upstream: 'eu' },
        { name: 'ip-denied', match: { path_prefix: '/ip-denied' }, authenticate: ['idp'], authorize: { ip_deny: ['127.0.0.1/32'] }, upstream: 'eu' },
        { name: 'ip-not-allowed', match: { path_prefix: '/ip-not-allowed' }, authenticate: ['idp'], authorize: { ip_allow: ['10.0.0.0/8'] }, upstream: 'eu' },
        { name: 'region-deny', match: { path_prefix: '/region-deny' }, authenticate: ['idp'], route_by: { ...region, otherwise: 'deny' } },
        { name: 'region-fallback', match: { path_prefix: '/region-fallback' }, authenticate: ['idp'], route_by: { ...region, otherwise: 'fallback' } },
      ],
    });
    admin = String((JSON.parse(await gw.waitForLog(/portcullis listening/)) as { admin: string }).admin);
  });

  afterAll(async () => {
    await gw?.stop();
    await jwks?.stop();
    await Promise.all([eu?.close(), us?.close(), fallback?.close()]);
  });

  it('scopes: all listed are needed, else 403 missing_scope', async () => {
    const n = total();
    const some = await sign(key, { sub: 'a', scope: 'orders:read profile' });
    const r = await request(gw.url, '/scoped/1', { headers: bearer(some) });
    expect(r.status).toBe(403);
    expect(r.json).toEqual(FORBIDDEN('missing_scope'));
    expect(total()).toBe(n);
    // `scp` as an array counts too.
    const all = await sign(key, { sub: 'a', scp: ['orders:read', 'orders:write'] });
    expect((await request(gw.url, '/scoped/1', { headers: bearer(all) })).status).toBe(200);
  });

  it('roles: any listed is enough (also from a nested claim), else 403 missing_role', async () => {
    const none = await request(gw.url, '/roles/1', { headers: bearer(await sign(key, { sub: 'a', roles: ['viewer'] })) });
    expect(none.status).toBe(403);
    expect(none.json).toEqual(FORBIDDEN('missing_role'));
    expect((await request(gw.url, '/roles/1', { headers: bearer(await sign(key, { sub: 'a', roles: ['viewer', 'ops'] })) })).status).toBe(200);
    const nested = await sign(key, { sub: 'a', realm_access: { roles: ['auditor'] } });
    expect((await request(gw.url, '/realm/1', { headers: bearer(nested) })).status).toBe(200);
    const flat = await request(gw.url, '/realm/1', { headers: bearer(await sign(key, { sub: 'a', roles: ['auditor'] })) });
    expect(flat.status).toBe(403);
    expect(flat.json).toEqual(FORBIDDEN('missing_role'));
  });

  it('claims: a value outside the list (or absent) → 403 claim_mismatch', async () => {
    for (const claims of [{ tier: 'bronze' }, {}]) {
      const r = await request(gw.url, '/claims/1', { headers: bearer(await sign(key, { sub: 'a', ...claims })) });
      expect(r.status).toBe(403);
      expect(r.json).toEqual(FORBIDDEN('claim_mismatch'));
    }
    expect((await request(gw.url, '/claims/1', { headers: bearer(await sign(key, { sub: 'a', tier: 'gold' })) })).status).toBe(200);
  });

  it('a bad token on a route whose IP rules pass and which checks scopes → 401, never 403', async () => {
    const n = total();
    const expired = await sign(key, { sub: 'a', scope: 'orders:read', exp: Math.floor(Date.now() / 1000) - 3600 });
    for (const [h, reason] of [[bearer(expired), 'token_expired'], [bearer('garbage'), 'token_malformed'], [{}, 'no_credentials']] as const) {
      const r = await request(gw.url, '/ip-and-scope/1', { headers: h });
      expect(r.status, reason).toBe(401);
      expect(r.json).toEqual({ error: 'unauthorized', reason });
      expect(r.headers['www-authenticate']).toMatch(/^Bearer realm="idp"/);
    }
    expect(total()).toBe(n);
    const noScope = await request(gw.url, '/ip-and-scope/1', { headers: bearer(await sign(key, { sub: 'a' })) });
    expect(noScope.status).toBe(403);
    expect(noScope.json).toEqual(FORBIDDEN('missing_scope'));
    expect((await request(gw.url, '/ip-and-scope/1', { headers: bearer(await sign(key, { sub: 'a', scope: 'orders:read' })) })).status).toBe(200);
  });

  it('ip_deny answers 403 ip_denied before any token work (garbage, unknown kid and valid tokens alike; no JWKS fetch)', async () => {
    const n = total();
    const fetches = jwks.requests;
    const verified = await verifications();
    const other = await rsaKey('never-published');
    const tokens = ['garbage', await sign(other, { sub: 'a' }), await sign(key, { sub: 'a' })];
    for (const t of tokens) {
      const r = await request(gw.url, '/ip-denied/1', { headers: bearer(t) });
      expect(r.status).toBe(403);
      expect(r.json).toEqual(FORBIDDEN('ip_denied'));
      expect(r.headers['www-authenticate']).toBeUndefined();
    }
    const none = await request(gw.url, '/ip-denied/1');
    expect(none.status).toBe(403);
    expect(none.json).toEqual(FORBIDDEN('ip_denied'));
    // An unknown kid on a route that authenticates would have made the gateway refetch the JWKS.
    expect(jwks.requests).toBe(fetches);
    expect(await verifications()).toBe(verified);
    expect(total()).toBe(n);
    // The counter does move when a token is checked.
    await request(gw.url, '/scoped/1', { headers: bearer(await sign(key, { sub: 'b' })) });
    expect(await verifications()).toBe(verified + 1);
    const r = await request(gw.url, '/ip-not-allowed/1', { headers: bearer('garbage') });
    expect(r.status).toBe(403);
    expect(r.json).toEqual(FORBIDDEN('ip_not_allowed'));
  });

  it('route_by region: eu and us reach their own upstream; otherwise deny → 403 route_denied', async () => {
    const e0 = eu.requests.length;
    const u0 = us.requests.length;
    expect((await request(gw.url, '/region-deny/a', { headers: bearer(await sign(key, { sub: 'alice', region: 'eu' })) })).status).toBe(200);
    expect((await request(gw.url, '/region-deny/b', { headers: bearer(await sign(key, { sub: 'bob', region: 'us' })) })).status).toBe(200);
    expect(eu.requests.slice(e0).map((r) => r.url)).toEqual(['/region-deny/a']);
    expect(us.requests.slice(u0).map((r) => r.url)).toEqual(['/region-deny/b']);
    expect(us.requests.at(-1)!.headers['x-portcullis-consumer']).toBe('bob');
    const n = total();
    for (const claims of [{ region: 'apac' }, {}, { region: ['eu'] }]) {
      const r = await request(gw.url, '/region-deny/c', { headers: bearer(await sign(key, { sub: 'carol', ...claims })) });
      expect(r.status, JSON.stringify(claims)).toBe(403);
      expect(r.json).toEqual(FORBIDDEN('route_denied'));
    }
    expect(total()).toBe(n);
  });

  it('route_by region with otherwise: an upstream → unknown regions go there', async () => {
    const f0 = fallback.requests.length;
    expect((await request(gw.url, '/region-fallback/x', { headers: bearer(await sign(key, { sub: 'carol', region: 'apac' })) })).status).toBe(200);
    expect((await request(gw.url, '/region-fallback/y', { headers: bearer(await sign(key, { sub: 'dan' })) })).status).toBe(200);
    expect(fallback.requests.slice(f0).map((r) => r.url)).toEqual(['/region-fallback/x', '/region-fallback/y']);
    const e0 = eu.requests.length;
    expect((await request(gw.url, '/region-fallback/z', { headers: bearer(await sign(key, { sub: 'alice', region: 'eu' })) })).status).toBe(200);
    expect(eu.requests.length).toBe(e0 + 1);
  });
});

describe('trusted_proxies and X-Forwarded-For', () => {
  let up: TestUpstream;
  let trusting: RunningGateway;
  let untrusting: RunningGateway;

  const routes = [
    { name: 'deny', match: { path_prefix: '/deny' }, anonymous: true, authorize: { ip_deny: ['203.0.113.0/24'] }, upstream: 'up' },
    { name: 'allow', match: { path_prefix: '/allow' }, anonymous: true, authorize: { ip_allow: ['198.51.100.0/24'] }, upstream: 'up' },
  ];

  beforeAll(async () => {
    up = await startUpstream();
    const cfg = (trusted: string[]) => ({ server: baseServer({ trusted_proxies: trusted }), upstreams: { up: { targets: [up.url] } }, routes });
    [trusting, untrusting] = await Promise.all([startGateway(cfg(['127.0.0.1/32'])), startGateway(cfg(['10.0.0.0/8']))]);
  });

  afterAll(async () => {
    await Promise.all([trusting?.stop(), untrusting?.stop()]);
    await up?.close();
  });

  it('from a trusted peer, the X-Forwarded-For client is the one IP rules judge', async () => {
    const denied = await request(trusting.url, '/deny/1', { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(denied.status).toBe(403);
    expect(denied.json).toEqual(FORBIDDEN('ip_denied'));
    const ok = await request(trusting.url, '/deny/2', { headers: { 'x-forwarded-for': '198.51.100.9' } });
    expect(ok.status).toBe(200);
    expect(up.requests.at(-1)!.headers['x-forwarded-for']).toBe('198.51.100.9, 127.0.0.1');
    expect((await request(trusting.url, '/allow/1', { headers: { 'x-forwarded-for': '198.51.100.9' } })).status).toBe(200);
    const notAllowed = await request(trusting.url, '/allow/2');
    expect(notAllowed.status).toBe(403);
    expect(notAllowed.json).toEqual(FORBIDDEN('ip_not_allowed'));
  });

  it('from an untrusted peer, X-Forwarded-For is ignored by IP rules and not passed on as the client', async () => {
    const n = up.requests.length;
    const r = await request(untrusting.url, '/deny/3', { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(r.status).toBe(200);
    expect(up.requests.length).toBe(n + 1);
    expect(up.requests.at(-1)!.headers['x-forwarded-for']).toBe('127.0.0.1');
    const spoof = await request(untrusting.url, '/allow/3', { headers: { 'x-forwarded-for': '198.51.100.9' } });
    expect(spoof.status).toBe(403);
    expect(spoof.json).toEqual(FORBIDDEN('ip_not_allowed'));
  });
});
