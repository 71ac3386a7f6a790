// The external authenticator's answer cache through the real gateway: with
// the default key, a cached identity is reused only for a request the
// service would have seen as the same — never for another path, query, host
// or client address, since the service is sent all of them (the class of
// issue 13, finding 4: answers used to be keyed on the sent header values
// only). cache.unkeyed, send.request: false and send.ip: false share answers
// across those inputs on purpose.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startAuthzService, type AuthzService, type SeenRequest } from '../helpers/authz-service.js';
import { baseServer, request } from '../e2e/util.js';

let gw: RunningGateway;
let up: TestUpstream;
let svc: AuthzService;

/**
 * The service's policy: the session is good, and what else it is sent
 * decides too, so any reuse across these inputs shows as a wrong status. An
 * input it is not sent cannot refuse.
 */
function policy(r: SeenRequest) {
  const j = r.json ?? {};
  const headers = (j.headers ?? {}) as Record<string, string>;
  const ok = headers['x-session'] === 'good'
    && !String(j.path ?? '').includes('secret')
    && !String(j.query ?? '').includes('secret')
    && !String(j.host ?? '').startsWith('evil.')
    && !String(j.ip ?? '').startsWith('198.51.100.');
  return ok ? { status: 200, body: { consumer: 'alice' } } : { status: 401 };
}

const authn = (over: object) => ({ type: 'external', url: svc.url, timeout: '2s', send: { headers: ['x-session'] }, allowed_upstream_headers: [], ...over });

beforeAll(async () => {
  svc = await startAuthzService(policy);
  up = await startUpstream();
  gw = await startGateway({
    // The test client is a trusted proxy, so X-Forwarded-For chooses the client address.
    server: baseServer({ trusted_proxies: ['127.0.0.1/32'] }),
    upstreams: { app: { targets: [up.url] } },
    authenticators: {
      // No cache.unkeyed: the key is everything the service is sent.
      full: authn({ cache: { ttl: '1m' } }),
      loose: authn({ cache: { ttl: '1m', unkeyed: ['path', 'query', 'host', 'ip'] } }),
      bare: authn({ send: { headers: ['x-session'], request: false, ip: false }, cache: { ttl: '1m' } }),
    },
    routes: [
      { name: 'full', match: { path_prefix: '/f' }, authenticate: ['full'], upstream: 'app' },
      { name: 'loose', match: { path_prefix: '/l' }, authenticate: ['loose'], upstream: 'app' },
      { name: 'bare', match: { path_prefix: '/b' }, authenticate: ['bare'], upstream: 'app' },
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

/** GET through the gateway with a good session; the status the client got. */
async function status(path: string, headers: Record<string, string> = {}): Promise<number> {
  return (await request(gw.url, path, { headers: { 'x-session': 'good', ...headers } })).status;
}

describe('the default answer-cache key covers everything the external authenticator is sent', () => {
  it('never reuses an identity given for /f/public for /f/secret', async () => {
    expect(await status('/f/public')).toBe(200);
    expect(await status('/f/public')).toBe(200);
    expect(svc.seen).toHaveLength(1); // the second was a cache hit: the cache is on
    expect(await status('/f/secret')).toBe(401);
    expect(svc.seen).toHaveLength(2);
  });

  it('never reuses an identity for another query string', async () => {
    expect(await status('/f/doc?id=public')).toBe(200);
    expect(await status('/f/doc?id=public')).toBe(200);
    expect(svc.seen).toHaveLength(1);
    expect(await status('/f/doc?id=secret')).toBe(401);
  });

  it('never reuses an identity for another host', async () => {
    expect(await status('/f/h', { host: 'good.test' })).toBe(200);
    expect(await status('/f/h', { host: 'good.test' })).toBe(200);
    expect(svc.seen).toHaveLength(1);
    expect(await status('/f/h', { host: 'evil.test' })).toBe(401);
    expect(svc.seen[1]!.json).toMatchObject({ host: 'evil.test' });
  });

  it('never reuses an identity for another client address', async () => {
    expect(await status('/f/ip', { 'x-forwarded-for': '203.0.113.1' })).toBe(200);
    expect(await status('/f/ip', { 'x-forwarded-for': '203.0.113.1' })).toBe(200);
    expect(svc.seen).toHaveLength(1);
    expect(await status('/f/ip', { 'x-forwarded-for': '198.51.100.2' })).toBe(401);
  });

  it('still keys on the sent header values', async () => {
    expect(await status('/f/s')).toBe(200);
    expect((await request(gw.url, '/f/s', { headers: { 'x-session': 'bad' } })).status).toBe(401);
    expect(svc.seen).toHaveLength(2);
  });

  it('refuses a sent header that comes twice: the service judged one value, the upstream would see both', async () => {
    const n = up.requests.length;
    const r = await request(gw.url, '/f/dup', { headers: { 'x-session': ['good', 'other'] } });
    expect(r.status).toBe(400);
    expect(up.requests.length).toBe(n);
  });
});

describe('leaving inputs out of the key on purpose', () => {
  it('cache.unkeyed: [path, query, host, ip] reuses an identity across them', async () => {
    expect(await status('/l/public?q=1', { host: 'good.test', 'x-forwarded-for': '203.0.113.1' })).toBe(200);
    // The service would refuse each of these; the operator said it never decides on them.
    expect(await status('/l/secret?q=secret', { host: 'evil.test', 'x-forwarded-for': '198.51.100.2' })).toBe(200);
    expect(svc.seen).toHaveLength(1);
  });

  it('send.request: false and send.ip: false send only the headers, and the answer is keyed on them alone', async () => {
    expect(await status('/b/public', { 'x-forwarded-for': '203.0.113.1' })).toBe(200);
    const seen = svc.seen[0]!;
    expect(seen.json).toEqual({ headers: { 'x-session': 'good' } });
    for (const h of ['x-forwarded-method', 'x-forwarded-uri', 'x-forwarded-host', 'x-forwarded-for']) expect(seen.headers[h]).toBeUndefined();
    expect(await status('/b/secret?q=secret', { host: 'evil.test', 'x-forwarded-for': '198.51.100.2' })).toBe(200);
    expect(svc.seen).toHaveLength(1);
    expect((await request(gw.url, '/b/public', { headers: { 'x-session': 'bad' } })).status).toBe(401);
  });
});
