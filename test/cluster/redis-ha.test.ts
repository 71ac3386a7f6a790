// cluster.redis for a fleet: Sentinel ({ sentinels, name }) and Redis
// Cluster ({ cluster: [...] }), with real redis-server processes. Two gateway
// processes share a scope: cluster limit and OIDC authenticators share
// revocations; with Sentinel the master is killed and the replica promoted,
// and both go on working through the new master.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { makeCompileContext, validateConfig } from '../../src/config/load.js';
import { AUTH_OK, AUTH_REJECT, AUTH_RESPOND, type RequestView } from '../../src/contracts.js';
import { compileOidc, type OidcAuthenticator } from '../../src/auth/oidc/index.js';
import { deriveKey, seal } from '../../src/auth/oidc/jwe.js';
import { findCookie } from '../../src/auth/cookie-header.js';
import { createWorkerPool, type WorkerPool } from '../../src/workers/pool.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { makeView } from '../helpers/request-view-builder.js';
import { redisCli, startRedisCluster, startSentinelSet, type RedisClusterSet, type SentinelSet } from '../helpers/redis-ha.js';
import { baseServer, request, sleep } from '../e2e/util.js';

type RedisForm = SentinelSet['config'] | RedisClusterSet['config'];
const SECRET = 'test-session-secret-0123456789abcdefghij';
const COOKIE = '__Host-portcullis';
const BURST = 6;

let up: TestUpstream;
let pool: WorkerPool;
const built: OidcAuthenticator[] = [];

beforeAll(async () => {
  up = await startUpstream();
  pool = createWorkerPool({ threads: 1, maxQueue: 8 });
  await pool.start();
});
afterAll(async () => {
  for (const a of built) a.close();
  await pool?.close();
  await up?.close();
});

function gatewayConfig(redis: RedisForm) {
  return {
    server: baseServer(),
    upstreams: { up: { targets: [up.url] } },
    rate_limits: { shared: { key: 'header:x-tenant', rate: BURST, per: '1h', burst: BURST, scope: 'cluster' } },
    cluster: { redis, sync_interval: '50ms' },
    routes: [{ name: 't', match: { path_prefix: '/' }, anonymous: true, rate_limit: ['shared'], upstream: 'up' }],
  };
}

const hit = (g: RunningGateway, tenant: string) => request(g.url, '/t', { headers: { 'x-tenant': tenant } }).then((r) => r.status);

/** `g1` takes the whole burst of `tenant`; then `g2` must refuse it once the sync has run (bounded polling). */
async function sharedLimitHolds(g1: RunningGateway, g2: RunningGateway, tenant: string): Promise<void> {
  for (let i = 0; i < BURST; i++) expect(await hit(g1, tenant), `request ${i + 1} at the first gateway`).toBe(200);
  expect(await hit(g1, tenant)).toBe(429);
  // g2 sees the key for the first time: its local bucket starts full, the next syncs bring it to the cluster's level.
  let s = 0;
  for (let i = 0; i < 40 && s !== 429; i++) {
    s = await hit(g2, tenant);
    await sleep(100);
  }
  expect(s).toBe(429);
}

function oidc(redis: RedisForm): OidcAuthenticator {
  const plan = validateConfig({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    authenticators: {
      sso: { type: 'oidc', issuer: 'http://127.0.0.1:1', client_id: 'c', public_url: 'https://app.test', session: { secret: SECRET }, revocation: 'cluster', timeout: '200ms' },
    },
    cluster: { redis },
    routes: [{ name: 'app', match: { path_prefix: '/' }, authenticate: ['sso'], upstream: 'u' }],
  });
  const issues: { path: string; message: string }[] = [];
  const a = compileOidc('sso', plan.config.authenticators.sso as never, 'authenticators.sso', makeCompileContext(plan, issues), pool);
  expect(issues).toEqual([]);
  built.push(a);
  return a;
}

function session(): string {
  const now = Math.floor(Date.now() / 1000);
  return seal(deriveKey(SECRET, 'session', 'sso'), { v: 2, sid: randomBytes(16).toString('base64url'), sub: 'alice', c: { sub: 'alice' }, iat: now - 5, exp: now + 600, ref: 0 });
}

function view(value: string, p = '/api'): RequestView {
  const cookie = `${COOKIE}=${value}`;
  const v = makeView({ path: p, headers: { accept: 'application/json', cookie } });
  (v as { cookie: (n: string) => string | undefined }).cookie = (n) => findCookie(cookie, n);
  return v;
}

async function logout(a: OidcAuthenticator, value: string): Promise<void> {
  const r = a.authenticate(view(value, '/oauth2/logout'));
  expect(typeof r).not.toBe('number');
  expect((await (r as Promise<{ outcome: number }>)).outcome).toBe(AUTH_RESPOND);
}

async function refusedWithin(a: OidcAuthenticator, value: string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (a.authenticate(view(value)) === AUTH_REJECT) return true;
    await sleep(50);
  }
  return false;
}

describe('cluster.redis through Sentinel', () => {
  let set: SentinelSet;
  const gws: RunningGateway[] = [];
  beforeAll(async () => { set = await startSentinelSet(); }, 30_000);
  afterAll(async () => {
    for (const g of gws) await g.stop();
    await set?.stop();
  });

  it('limits and revocations are shared, and carry on through a failover to the replica', async () => {
    const [g1, g2] = await Promise.all([startGateway(gatewayConfig(set.config)), startGateway(gatewayConfig(set.config))]);
    gws.push(g1, g2);
    const [a, b] = [oidc(set.config), oidc(set.config)];
    await Promise.all([a.ready(), b.ready()]);

    await sharedLimitHolds(g1, g2, 'before');
    const s1 = session();
    expect(b.authenticate(view(s1))).toBe(AUTH_OK);
    await logout(a, s1);
    expect(await refusedWithin(b, s1)).toBe(true);
    // The master holds both (the limit's bucket and the revocation).
    expect(Number(await redisCli(set.masterPort, 'DBSIZE'))).toBeGreaterThan(0);

    await set.failover();
    expect(await set.currentMaster()).toBe(set.replicaPort);

    // Through the new master: a new key is shared again, the exhausted one stays refused, new logouts reach the other side.
    await sharedLimitHolds(g1, g2, 'after');
    expect(await hit(g2, 'before')).toBe(429);
    const s2 = session();
    expect(b.authenticate(view(s2))).toBe(AUTH_OK);
    await logout(a, s2);
    expect(await refusedWithin(b, s2)).toBe(true);
    // An authenticator that starts now reads both revocations from the promoted replica.
    const c = oidc(set.config);
    await c.ready();
    expect(c.authenticate(view(s1))).toBe(AUTH_REJECT);
    expect(c.authenticate(view(s2))).toBe(AUTH_REJECT);
    expect(c.authenticate(view(session()))).toBe(AUTH_OK);
    for (const g of [g1, g2]) expect(g.proc.exitCode).toBeNull();
  }, 90_000);
});

describe('cluster.redis as a Redis Cluster', () => {
  let rc: RedisClusterSet;
  const gws: RunningGateway[] = [];
  beforeAll(async () => { rc = await startRedisCluster(); }, 30_000);
  afterAll(async () => {
    for (const g of gws) await g.stop();
    await rc?.stop();
  });

  it('limits and revocations are shared; every key carries its prefix as a hash tag', async () => {
    const [g1, g2] = await Promise.all([startGateway(gatewayConfig(rc.config)), startGateway(gatewayConfig(rc.config))]);
    gws.push(g1, g2);
    await sharedLimitHolds(g1, g2, 'acme');
    const [a, b] = [oidc(rc.config), oidc(rc.config)];
    await Promise.all([a.ready(), b.ready()]);
    const s = session();
    expect(b.authenticate(view(s))).toBe(AUTH_OK);
    await logout(a, s);
    expect(await refusedWithin(b, s)).toBe(true);
    const c = oidc(rc.config);
    await c.ready();
    expect(c.authenticate(view(s))).toBe(AUTH_REJECT);
    // Keys of each feature live in one slot: {portcullis:rl:}… and {portcullis:rv:}….
    const keys: string[] = [];
    for (const p of rc.ports) keys.push(...(await redisCli(p, 'KEYS', '*')).split('\n').filter((k) => k !== ''));
    expect(keys.some((k) => k.startsWith('{portcullis:rl:}'))).toBe(true);
    expect(keys.some((k) => k.startsWith('{portcullis:rv:}'))).toBe(true);
    expect(keys.every((k) => k.startsWith('{portcullis:'))).toBe(true);
  }, 90_000);
});

describe('cluster.redis forms in the config', () => {
  const cfg = (redis: unknown) => ({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    cluster: { redis },
    routes: [{ name: 'r', match: { path_prefix: '/' }, anonymous: true, upstream: 'u' }],
  });
  it('accepts a URL, Sentinel and Cluster; refuses what is neither, naming the field', () => {
    for (const ok of ['redis://127.0.0.1:6379', { sentinels: ['10.0.0.1:26379', '[::1]:26379'], name: 'mymaster' }, { cluster: ['10.0.0.1:7000'], password_env: 'REDIS_PASSWORD' }]) {
      expect(() => validateConfig(cfg(ok))).not.toThrow();
    }
    for (const bad of ['http://127.0.0.1:6379', { sentinels: ['10.0.0.1'], name: 'm' }, { sentinels: [], name: 'm' }, { sentinels: ['a:1'] }, { cluster: ['a:b'] }, { cluster: ['a:1'], nodes: [] }]) {
      expect(() => validateConfig(cfg(bad)), JSON.stringify(bad)).toThrow(/cluster\.redis/);
    }
  });
});
