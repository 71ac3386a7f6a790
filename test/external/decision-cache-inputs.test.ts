// The external authorizer's decision cache through the real gateway: with the
// default key, a cached decision is reused only for a request the service
// would have seen as the same — never for another path, query, sent header
// value, identity or client address (issue 13, finding 4: an allow for
// /zc/public was served from cache for /zc/secret).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startAuthzService, type AuthzService, type SeenRequest } from '../helpers/authz-service.js';
import { AUDIENCE, ISSUER, baseServer, bearer, request, rsaKey, sign } from '../e2e/util.js';

let gw: RunningGateway;
let up: TestUpstream;
let svc: AuthzService;
let aliceToken: string;
let bobToken: string;

/** The service's policy: what it is sent decides, so any reuse across these inputs is visible as a wrong status. */
function policy(r: SeenRequest) {
  const j = r.json ?? {};
  const headers = (j.headers ?? {}) as Record<string, string>;
  const identity = j.identity as { consumer?: string } | null;
  const allow = !String(j.path).includes('secret') && !String(j.query).includes('secret')
    && (j.route !== 'zh' || headers['x-tenant'] === 'acme')
    && (j.route !== 'zi' || identity?.consumer === 'alice')
    && (j.route !== 'zip' || j.ip === '203.0.113.1');
  return allow ? { status: 200 } : { status: 403, body: 'no' };
}

beforeAll(async () => {
  const key = await rsaKey('k1');
  aliceToken = await sign(key, { sub: 'alice' });
  bobToken = await sign(key, { sub: 'bob' });
  svc = await startAuthzService(policy);
  up = await startUpstream();
  gw = await startGateway({
    // The test client is a trusted proxy, so X-Forwarded-For chooses the client address.
    server: baseServer({ trusted_proxies: ['127.0.0.1/32'] }),
    upstreams: { app: { targets: [up.url] } },
    authenticators: { jwt: { type: 'jwt', issuer: ISSUER, audience: [AUDIENCE], algorithms: ['RS256'], keys: [key.jwk] } },
    // No cache.key: the default, everything the service is sent.
    authorizers: { zc: { url: svc.url, timeout: '2s', send: { headers: ['x-tenant'] }, cache: { ttl: '1m' } } },
    routes: [
      { name: 'zc', match: { path_prefix: '/zc' }, anonymous: true, upstream: 'app', authorize: { external: 'zc' } },
      { name: 'zh', match: { path_prefix: '/zh' }, anonymous: true, upstream: 'app', authorize: { external: 'zc' } },
      { name: 'zi', match: { path_prefix: '/zi' }, authenticate: ['jwt'], upstream: 'app', authorize: { external: 'zc' } },
      { name: 'zip', match: { path_prefix: '/zip' }, anonymous: true, upstream: 'app', authorize: { external: 'zc' } },
    ],
  });
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await svc?.close();
});
beforeEach(() => {
  svc.seen.length = 0;
});

/** GET through the gateway; the status the client got. */
async function status(path: string, headers: Record<string, string> = {}): Promise<number> {
  return (await request(gw.url, path, { headers })).status;
}

describe('the default decision-cache key covers everything the authorizer is sent', () => {
  it('never reuses an allow for /zc/public for /zc/secret', async () => {
    expect(await status('/zc/public')).toBe(200);
    expect(await status('/zc/public')).toBe(200);
    expect(svc.seen).toHaveLength(1); // the second was a cache hit: the cache is on
    expect(await status('/zc/secret')).toBe(403);
    expect(svc.seen).toHaveLength(2);
  });

  it('never reuses an allow for another query string', async () => {
    expect(await status('/zc/doc?id=public')).toBe(200);
    expect(await status('/zc/doc?id=public')).toBe(200);
    expect(svc.seen).toHaveLength(1);
    expect(await status('/zc/doc?id=secret')).toBe(403);
  });

  it('never reuses an allow made because of a sent header for a request lacking it or sending another value', async () => {
    expect(await status('/zh/x', { 'x-tenant': 'acme' })).toBe(200);
    expect(await status('/zh/x', { 'x-tenant': 'acme' })).toBe(200);
    expect(svc.seen).toHaveLength(1);
    expect(await status('/zh/x')).toBe(403);
    expect(await status('/zh/x', { 'x-tenant': 'globex' })).toBe(403);
    expect(svc.seen).toHaveLength(3);
  });

  it('refuses a sent header that comes twice: the service judged one value, the upstream would see both', async () => {
    const n = up.requests.length;
    const r = await request(gw.url, '/zh/dup', { headers: { 'x-tenant': ['acme', 'globex'] } });
    expect(r.status).toBe(400);
    expect(up.requests.length).toBe(n);
  });

  it('never reuses an allow for another identity', async () => {
    expect(await status('/zi/x', bearer(aliceToken))).toBe(200);
    expect(await status('/zi/x', bearer(aliceToken))).toBe(200);
    expect(svc.seen).toHaveLength(1);
    expect(await status('/zi/x', bearer(bobToken))).toBe(403);
  });

  it('never reuses an allow for another client address', async () => {
    expect(await status('/zip/x', { 'x-forwarded-for': '203.0.113.1' })).toBe(200);
    expect(await status('/zip/x', { 'x-forwarded-for': '203.0.113.1' })).toBe(200);
    expect(svc.seen).toHaveLength(1);
    expect(await status('/zip/x', { 'x-forwarded-for': '198.51.100.2' })).toBe(403);
  });
});

describe('send.ip: false', () => {
  let gw2: RunningGateway;
  beforeAll(async () => {
    gw2 = await startGateway({
      server: baseServer({ trusted_proxies: ['127.0.0.1/32'] }),
      upstreams: { app: { targets: [up.url] } },
      authorizers: { noip: { url: svc.url, timeout: '2s', send: { ip: false }, cache: { ttl: '1m' } } },
      routes: [{ name: 'noip', match: { path_prefix: '/' }, anonymous: true, upstream: 'app', authorize: { external: 'noip' } }],
    });
  });
  afterAll(async () => {
    await gw2?.stop();
  });

  it('sends no client address, and a decision that could not depend on it is reused across addresses', async () => {
    expect((await request(gw2.url, '/n/1', { headers: { 'x-forwarded-for': '203.0.113.1' } })).status).toBe(200);
    expect(svc.seen[0]!.json).not.toHaveProperty('ip');
    expect(svc.seen[0]!.headers['x-forwarded-for']).toBeUndefined();
    expect((await request(gw2.url, '/n/1', { headers: { 'x-forwarded-for': '198.51.100.2' } })).status).toBe(200);
    expect(svc.seen).toHaveLength(1);
  });
});
