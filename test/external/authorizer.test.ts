import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { validateConfig, makeCompileContext } from '../../src/config/load.js';
import type { ConfigIssue } from '../../src/config/errors.js';
import { AUTHZ_DROP, AUTHZ_FORWARD, AUTHZ_RESPOND, type AuthzDecision } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { makeIdentity } from '../../src/auth/identity.js';
import { compileAuthorizer } from '../../src/policy/external-authorizer/index.js';
import { createWorkerPool, type WorkerPool } from '../../src/workers/pool.js';
import { startAuthzService, deadPort, type AuthzService } from '../helpers/authz-service.js';
import { makeView } from '../helpers/request-view-builder.js';

let svc: AuthzService;
let pool: WorkerPool;
const upstreamIndex = new Map([['orders-eu', 0], ['orders-us', 1]]);
const alice = makeIdentity('corp-jwt', 'alice', { sub: 'alice', scope: 'orders:read' }, {}, Date.now() + 3_600_000);
const bob = makeIdentity('corp-jwt', 'bob', { sub: 'bob' }, {}, Date.now() + 3_600_000);
/** Inputs always sent (send.ip and send.identity default on), for keys that leave some out on purpose. */
const unkeyedBut = (...keyed: string[]) => ['method', 'path', 'query', 'host', 'ip', 'identity'].filter((p) => !keyed.includes(p));

function build(authz: Record<string, unknown>, name = 'geo') {
  const plan = validateConfig({
    upstreams: { 'orders-eu': { targets: ['http://127.0.0.1:9'] }, 'orders-us': { targets: ['http://127.0.0.1:9'] } },
    authorizers: { [name]: { url: svc.url, timeout: '2s', ...authz } },
    routes: [
      { name: 'orders', match: { path_prefix: '/orders' }, anonymous: true, upstream: 'orders-eu', authorize: { external: name } },
      { name: 'admin', match: { path_prefix: '/admin' }, anonymous: true, upstream: 'orders-eu', authorize: { external: name } },
    ],
  });
  const issues: ConfigIssue[] = [];
  const a = compileAuthorizer(name, plan.config.authorizers[name]!, `authorizers.${name}`, makeCompileContext(plan, issues), pool, upstreamIndex);
  expect(issues).toEqual([]);
  return a;
}

async function decision(v: AuthzDecision | Promise<AuthzDecision>): Promise<AuthzDecision> {
  return v;
}

beforeAll(async () => {
  svc = await startAuthzService();
  pool = createWorkerPool({ threads: 1, maxQueue: 256 });
  await pool.start();
});
afterAll(async () => {
  await pool.close();
  await svc.close();
});
beforeEach(() => {
  svc.seen.length = 0;
  svc.handler = () => ({ status: 200 });
});

describe('external authorizer answers', () => {
  it('forwards on 200, adding the headers from its JSON body and the upstream it picked', async () => {
    svc.handler = () => ({ status: 200, body: { headers: { 'X-Tenant': 'acme', host: 'evil', 'x-portcullis-consumer': 'root' }, upstream: 'orders-us' } });
    const d = await decision(build({ allowed_upstream_headers: ['x-tenant'] }).authorize(makeView({ path: '/orders/1', identity: alice })));
    expect(d.action).toBe(AUTHZ_FORWARD);
    expect(d.headers).toEqual(['x-tenant', 'acme']);
    expect(d.upstream).toBe(1);
  });

  it('forwards on a plain 200 without a JSON body', async () => {
    svc.handler = () => ({ status: 200, body: 'OK', headers: { 'content-type': 'text/plain' } });
    const d = await decision(build({}).authorize(makeView({ path: '/orders/1' })));
    expect(d).toMatchObject({ action: AUTHZ_FORWARD, headers: [], upstream: -1 });
  });

  it('sends the route, method, path, client IP, the named headers and the identity', async () => {
    const a = build({ send: { headers: ['authorization', 'x-request-id'], identity: true } });
    await decision(a.authorize(makeView({
      method: 'POST', path: '/orders/7', query: 'a=1', clientIp: '203.0.113.9', routeIndex: 0, identity: alice,
      headers: { authorization: 'Bearer abc', 'x-request-id': 'r1', cookie: 'secret=1' },
    })));
    expect(svc.seen).toHaveLength(1);
    const s = svc.seen[0]!;
    expect(s.method).toBe('POST');
    expect(s.headers.authorization).toBe('Bearer abc');
    expect(s.headers.cookie).toBeUndefined();
    expect(s.headers['x-forwarded-uri']).toBe('/orders/7?a=1');
    expect(s.json).toMatchObject({
      route: 'orders', method: 'POST', path: '/orders/7', query: 'a=1', ip: '203.0.113.9',
      headers: { authorization: 'Bearer abc', 'x-request-id': 'r1' },
      identity: { authenticator: 'corp-jwt', consumer: 'alice', claims: { sub: 'alice', scope: 'orders:read' } },
    });
  });

  it('returns the service\'s 401 and 403 with their status and body', async () => {
    svc.handler = () => ({ status: 401, body: 'who are you', headers: { 'www-authenticate': 'Bearer realm="geo"', 'content-type': 'text/plain' } });
    const d401 = await decision(build({}).authorize(makeView({ path: '/orders/1' })));
    expect(d401.action).toBe(AUTHZ_RESPOND);
    expect(d401.response).toEqual({ status: 401, body: 'who are you', headers: ['content-type', 'text/plain', 'www-authenticate', 'Bearer realm="geo"'] });
    svc.handler = () => ({ status: 403, body: { error: 'not in your region' } });
    const d403 = await decision(build({}).authorize(makeView({ path: '/orders/1' })));
    expect(d403).toMatchObject({ action: AUTHZ_RESPOND, reason: R.authz_denied, response: { status: 403, body: '{"error":"not in your region"}' } });
  });

  it('redirects the client on a 3xx with Location', async () => {
    svc.handler = () => ({ status: 302, headers: { location: 'https://login.example.com/start' } });
    const d = await decision(build({}).authorize(makeView({ path: '/orders/1' })));
    expect(d).toMatchObject({ action: AUTHZ_RESPOND, reason: R.authz_redirect, response: { status: 302, headers: ['location', 'https://login.example.com/start', 'cache-control', 'no-store'] } });
  });

  it('drops the connection on {"action":"drop"}', async () => {
    svc.handler = () => ({ status: 200, body: { action: 'drop' } });
    const d = await decision(build({}).authorize(makeView({ path: '/orders/1' })));
    expect(d.action).toBe(AUTHZ_DROP);
    expect(d.reason).toBe(R.authz_dropped);
  });
});

describe('external authorizer failures', () => {
  const denied = { action: AUTHZ_RESPOND, reason: R.authz_unavailable, response: { status: 503 } };

  it('denies with 503 when the service does not answer in time, and allows only with failure_mode: allow', async () => {
    svc.handler = () => 'hang';
    expect(await decision(build({ timeout: '100ms' }).authorize(makeView({ path: '/orders/1' })))).toMatchObject(denied);
    const d = await decision(build({ timeout: '100ms', failure_mode: 'allow' }).authorize(makeView({ path: '/orders/1' })));
    expect(d).toMatchObject({ action: AUTHZ_FORWARD, headers: [] });
  });

  it('denies with 503 when the connection is refused', async () => {
    const port = await deadPort();
    const plan = validateConfig({
      upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
      authorizers: { dead: { url: `http://127.0.0.1:${port}/authz` } },
      routes: [{ name: 'r', match: { path_prefix: '/' }, anonymous: true, upstream: 'u' }],
    });
    const a = compileAuthorizer('dead', plan.config.authorizers.dead!, 'authorizers.dead', makeCompileContext(plan, []), pool, new Map());
    expect(await decision(a.authorize(makeView({ path: '/x' })))).toMatchObject(denied);
  });

  it('denies with 503 on a garbage answer: not HTTP, unreadable JSON, unknown upstream, a redirect without Location', async () => {
    const garbage: (() => ReturnType<AuthzService['handler']>)[] = [
      () => 'garbage',
      () => ({ status: 200, body: '{"headers": ', headers: { 'content-type': 'application/json' } }),
      () => ({ status: 200, body: { upstream: 'nowhere' } }),
      // A header value with controls is not garbage here: the upstream head gate refuses
      // the request (400 unsafe_header_value, test/security/upstream-head.property.test.ts).
      () => ({ status: 302 }),
    ];
    for (const g of garbage) {
      svc.handler = g;
      expect(await decision(build({}).authorize(makeView({ path: '/orders/1' })))).toMatchObject(denied);
    }
  });

  it('answers 503 overloaded when the pool queue is full, whatever failure_mode says', async () => {
    const tiny = createWorkerPool({ threads: 1, maxQueue: 1, tasksPerThread: 1 });
    await tiny.start();
    svc.handler = () => ({ status: 200, delay: 400 });
    const plan = validateConfig({
      upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
      authorizers: { geo: { url: svc.url, timeout: '2s', failure_mode: 'allow' } },
      routes: [{ name: 'r', match: { path_prefix: '/' }, anonymous: true, upstream: 'u' }],
    });
    const a = compileAuthorizer('geo', plan.config.authorizers.geo!, 'authorizers.geo', makeCompileContext(plan, []), tiny, new Map());
    const first = a.authorize(makeView({ path: '/1' }));
    const second = a.authorize(makeView({ path: '/2' }));
    for (let i = 0; i < 200 && tiny.stats().queued < 1; i++) await new Promise((r) => setTimeout(r, 5));
    const third = await decision(a.authorize(makeView({ path: '/3' })));
    expect(third).toMatchObject({ action: AUTHZ_RESPOND, reason: R.overloaded, response: { status: 503 } });
    await Promise.all([first, second]);
    await tiny.close();
  });
});

describe('external authorizer decision cache', () => {
  it('answers a repeated request synchronously from the cache without calling the service', async () => {
    const a = build({ cache: { ttl: '30s', key: ['identity', 'method', 'route'], unkeyed: unkeyedBut('identity', 'method') } });
    const first = a.authorize(makeView({ path: '/orders/1', identity: alice }));
    expect(first).toBeInstanceOf(Promise);
    expect((await first).action).toBe(AUTHZ_FORWARD);
    const second = a.authorize(makeView({ path: '/orders/2', identity: alice }));
    expect(second).not.toBeInstanceOf(Promise);
    expect((second as AuthzDecision).action).toBe(AUTHZ_FORWARD);
    expect(svc.seen).toHaveLength(1);
    expect(a.stats.hits).toBe(1);
  });

  it('never reuses an allow on another route, for another identity, or by another authorizer', async () => {
    // The service allows /orders and denies /admin.
    svc.handler = (r) => (r.json?.route === 'orders' ? { status: 200 } : { status: 403, body: 'no' });
    const cacheCfg = { cache: { ttl: '30s', key: ['identity', 'method'], unkeyed: unkeyedBut('identity', 'method') } };
    const a = build(cacheCfg);
    expect((await decision(a.authorize(makeView({ path: '/orders/1', routeIndex: 0, identity: alice })))).action).toBe(AUTHZ_FORWARD);
    const other = a.authorize(makeView({ path: '/admin/1', routeIndex: 1, identity: alice }));
    expect(other).toBeInstanceOf(Promise);
    expect((await other).response?.status).toBe(403);
    const otherIdentity = a.authorize(makeView({ path: '/orders/1', routeIndex: 0, identity: bob }));
    expect(otherIdentity).toBeInstanceOf(Promise);
    const b = build(cacheCfg, 'other-authz');
    const fresh = b.authorize(makeView({ path: '/orders/1', routeIndex: 0, identity: alice }));
    expect(fresh).toBeInstanceOf(Promise);
    await fresh;
    await otherIdentity;
    expect(svc.seen).toHaveLength(4);
    // And the deny on /admin is cached too: the service is not asked again.
    expect((a.authorize(makeView({ path: '/admin/2', routeIndex: 1, identity: alice })) as AuthzDecision).response?.status).toBe(403);
    expect(svc.seen).toHaveLength(4);
  });

  it('keys by the parts named: a different header value is a miss', async () => {
    const a = build({ cache: { ttl: '30s', key: ['header:x-tenant'], unkeyed: unkeyedBut() } });
    await decision(a.authorize(makeView({ path: '/orders/1', headers: { 'x-tenant': 'acme' } })));
    expect(a.authorize(makeView({ path: '/orders/9', headers: { 'x-tenant': 'acme' } }))).not.toBeInstanceOf(Promise);
    const miss = a.authorize(makeView({ path: '/orders/1', headers: { 'x-tenant': 'globex' } }));
    expect(miss).toBeInstanceOf(Promise);
    await miss;
    expect(svc.seen).toHaveLength(2);
  });

  it('does not cache failures: the next request asks the service again', async () => {
    svc.handler = () => 'hang';
    const a = build({ timeout: '100ms', cache: { ttl: '30s' } });
    await decision(a.authorize(makeView({ path: '/orders/1' })));
    svc.handler = () => ({ status: 200 });
    const again = a.authorize(makeView({ path: '/orders/1' }));
    expect(again).toBeInstanceOf(Promise);
    expect((await again).action).toBe(AUTHZ_FORWARD);
  });

  it('makes one call for many concurrent requests with the same key', async () => {
    svc.handler = () => ({ status: 200, delay: 100 });
    const a = build({ cache: { ttl: '30s' } });
    const all = await Promise.all(Array.from({ length: 20 }, () => decision(a.authorize(makeView({ path: '/orders/1' })))));
    expect(all.every((d) => d.action === AUTHZ_FORWARD)).toBe(true);
    expect(svc.seen).toHaveLength(1);
  });

  it('rejects unknown cache key parts at compile time', () => {
    const plan = validateConfig({
      upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
      authorizers: { geo: { url: svc.url, cache: { ttl: '1s', key: ['identity', 'colour'] } } },
      routes: [{ name: 'r', match: { path_prefix: '/' }, anonymous: true, upstream: 'u' }],
    });
    const issues: ConfigIssue[] = [];
    compileAuthorizer('geo', plan.config.authorizers.geo!, 'authorizers.geo', makeCompileContext(plan, issues), pool, new Map());
    expect(issues.find((i) => i.path === 'authorizers.geo.cache.key[1]')?.message).toMatch(/unknown cache key part "colour"/);
  });
});

describe('slow authorization does not stall the event loop', () => {
  it('keeps answering cached routes and other HTTP traffic while the service sleeps', async () => {
    const hot = build({ cache: { ttl: '30s', key: ['route'], unkeyed: unkeyedBut() } });
    await decision(hot.authorize(makeView({ path: '/admin/1', routeIndex: 1 })));
    svc.handler = (r) => (r.json?.route === 'orders' ? { status: 200, delay: 1500 } : { status: 200 });
    const slow = build({ timeout: '5s' }, 'slow');
    let slowDone = 0;
    const pending = Array.from({ length: 20 }, (_, i) =>
      decision(slow.authorize(makeView({ path: `/orders/${i}`, routeIndex: 0 }))).then((d) => { slowDone++; return d; }));
    // Another server on this same event loop answers while the 20 callouts wait.
    const other = http.createServer((_q, s) => s.end('pong'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const res = await fetch(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
    expect(await res.text()).toBe('pong');
    const cached = hot.authorize(makeView({ path: '/admin/2', routeIndex: 1 }));
    expect(cached).not.toBeInstanceOf(Promise);
    expect(slowDone).toBe(0);
    const done = await Promise.all(pending);
    expect(done.every((d) => d.action === AUTHZ_FORWARD)).toBe(true);
    await new Promise((r) => other.close(r));
  });
});
