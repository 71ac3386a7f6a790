// Rate limiting end to end: the 429 a client sees (Retry-After, RateLimit
// headers, a body naming the limit), per-user limits by claim, exactness
// across event-loop threads, and cluster scope across two gateway processes
// sharing a real redis-server — which may die without a single 5xx.
// Limits refill at most a few tokens an hour here, so counts are exact
// whatever the machine's speed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { AUDIENCE, ISSUER, baseServer, bearer, freePort, request, rsaKey, sign, sleep, type Reply, type SigningKey } from './util.js';

const limitedBody = (limit: string) => ({ error: 'rate_limited', reason: 'rate_limited', limit });

describe('rate limits through the gateway', () => {
  let up: TestUpstream;
  let gw: RunningGateway;
  let key: SigningKey;
  const password = `pw-${Math.random().toString(36).slice(2)}`;

  beforeAll(async () => {
    key = await rsaKey('rl-1');
    up = await startUpstream();
    const hash = await runCli(['hash-password', password]);
    gw = await startGateway({
      server: baseServer(),
      upstreams: { up: { targets: [up.url] } },
      authenticators: {
        jwt: { type: 'jwt', issuer: ISSUER, audience: [AUDIENCE], algorithms: ['RS256'], keys: [key.jwk] },
        staff: { type: 'basic', users_file: 'users' },
      },
      rate_limits: {
        'per-ip': { key: 'ip', rate: 5, per: '1h', burst: 5 },
        'per-user': { key: 'claim:sub', rate: 3, per: '1h', burst: 3 },
        'per-consumer': { key: 'consumer', rate: 1, per: '1h', burst: 1 },
      },
      routes: [
        { name: 'ip', match: { path_prefix: '/ip' }, anonymous: true, rate_limit: ['per-ip'], upstream: 'up' },
        { name: 'user', match: { path_prefix: '/user' }, authenticate: ['jwt'], rate_limit: ['per-user'], upstream: 'up' },
        { name: 'slow-auth', match: { path_prefix: '/staff' }, authenticate: ['staff'], rate_limit: ['per-consumer'], upstream: 'up' },
      ],
    }, { dir: tempDir(), files: { users: `alice:${hash.stdout.trim()}\n` } });
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('per-ip: the burst passes with RateLimit headers, then 429 with Retry-After, RateLimit-Policy, RateLimit and a body naming the limit', async () => {
    const n = up.requests.length;
    for (let i = 0; i < 5; i++) {
      const r = await request(gw.url, `/ip/${i}`);
      expect(r.status, `request ${i + 1}`).toBe(200);
      expect(r.headers['ratelimit-policy']).toBe('"per-ip";q=5;w=3600');
      expect(r.headers['ratelimit']).toMatch(new RegExp(`^"per-ip";r=${4 - i};t=\\d+$`));
    }
    for (let i = 0; i < 3; i++) {
      const r = await request(gw.url, '/ip/over');
      expect(r.status).toBe(429);
      expect(r.json).toEqual(limitedBody('per-ip'));
      expect(r.headers['content-type']).toBe('application/json');
      const retry = Number(r.headers['retry-after']);
      expect(Number.isInteger(retry) && retry >= 1 && retry <= 3600, `Retry-After ${r.headers['retry-after']}`).toBe(true);
      expect(r.headers['ratelimit-policy']).toBe('"per-ip";q=5;w=3600');
      expect(r.headers['ratelimit']).toMatch(/^"per-ip";r=0;t=\d+$/);
    }
    expect(up.requests.length).toBe(n + 5);
  });

  it('per-user by claim:sub: each user has their own bucket, whatever token they present', async () => {
    const alice = () => sign(key, { sub: 'alice' });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await request(gw.url, '/user/a', { headers: bearer(await alice()) })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const over = await request(gw.url, '/user/a', { headers: bearer(await alice()) });
    expect(over.status).toBe(429);
    expect(over.json).toEqual(limitedBody('per-user'));
    expect(over.headers['ratelimit-policy']).toBe('"per-user";q=3;w=3600');
    const bob = await sign(key, { sub: 'bob' });
    const bobs: number[] = [];
    for (let i = 0; i < 4; i++) bobs.push((await request(gw.url, '/user/b', { headers: bearer(bob) })).status);
    expect(bobs).toEqual([200, 200, 200, 429]);
  });

  it('a 429 decided after a slow (worker-pool) authenticator also names the limit', async () => {
    const basic = { authorization: `Basic ${Buffer.from(`alice:${password}`).toString('base64')}` };
    // Sent together: both wait on the same password check, then race for one token.
    const rs = await Promise.all([0, 1, 2].map(() => request(gw.url, '/staff/x', { headers: basic })));
    expect(rs.map((r) => r.status).sort()).toEqual([200, 429, 429]);
    for (const r of rs.filter((x) => x.status === 429)) {
      expect(r.json).toEqual(limitedBody('per-consumer'));
      expect(r.headers['retry-after']).toBeDefined();
    }
  });
});

describe('server.threads: 2', () => {
  let up: TestUpstream;
  let gw: RunningGateway;

  beforeAll(async () => {
    up = await startUpstream();
    const port = await freePort();
    gw = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port }], threads: 2 },
      upstreams: { up: { targets: [up.url] } },
      rate_limits: { 'per-ip': { key: 'ip', rate: 20, per: '1h', burst: 20 } },
      routes: [{ name: 'limited', match: { path_prefix: '/' }, anonymous: true, rate_limit: ['per-ip'], upstream: 'up' }],
    });
    expect(gw.ports).toEqual([port]);
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('is exact across threads: a burst of 20 admits exactly 20 of 80 requests on new connections', async () => {
    expect(JSON.parse(gw.logs.find((l) => l.includes('portcullis listening'))!).threads).toBe(2);
    const statuses: number[] = [];
    for (let batch = 0; batch < 8; batch++) {
      const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => request(gw.url, `/b${batch}/${i}`)));
      statuses.push(...rs.map((r) => r.status));
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(60);
    expect(up.requests).toHaveLength(20);
  });
});

describe('server.threads: 2 with port 0', () => {
  it('refuses to start with a message naming the field (threads share a port only when it is fixed)', async () => {
    const dir = tempDir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${dir}/p.yaml`, JSON.stringify({
      server: { listen: [{ host: '127.0.0.1', port: 0 }], threads: 2 },
      routes: [{ name: 'ping', match: { path: '/ping' }, respond: { status: 200, body: 'pong' } }],
    }));
    const r = await runCli(['start', '--config', `${dir}/p.yaml`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/server\.listen\[0\]\.port: port 0 .*cannot be shared by 2 event-loop threads; give a fixed port/);
  });
});

describe('scope: cluster across two gateway processes and a real redis-server', () => {
  const BURST = 10;
  let redis: RedisServer;
  let up: TestUpstream;
  let a: RunningGateway;
  let b: RunningGateway;

  beforeAll(async () => {
    redis = await startRedis();
    up = await startUpstream();
    const cfg = {
      server: baseServer(),
      upstreams: { up: { targets: [up.url] } },
      rate_limits: { shared: { key: 'header:x-tenant', rate: BURST, per: '1h', burst: BURST, scope: 'cluster' } },
      cluster: { redis: redis.url, sync_interval: '50ms', key_prefix: `e2e-${process.pid}:` },
      routes: [{ name: 'tenant', match: { path_prefix: '/' }, anonymous: true, rate_limit: ['shared'], upstream: 'up' }],
    };
    [a, b] = await Promise.all([startGateway(cfg), startGateway(cfg)]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
    await up?.close();
  });

  const hit = (gw: RunningGateway, tenant: string): Promise<Reply> => request(gw.url, '/t', { headers: { 'x-tenant': tenant } });

  it('two gateways share one limit: together they admit the burst once (within one request each of overshoot), not twice', async () => {
    // Both gateways see the key first, then take turns with a pause of a few sync intervals between rounds.
    const statuses: number[] = [];
    for (let round = 0; round < 14; round++) {
      const rs = await Promise.all([hit(a, 'acme'), hit(b, 'acme')]);
      statuses.push(...rs.map((r) => r.status));
      await sleep(150);
    }
    const admitted = statuses.filter((s) => s === 200).length;
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    // Documented bound (cluster-sync.ts): a first sight of a key by both at once may reach G × burst;
    // afterwards each sync leaves at most one request per gateway of overshoot. Two separate limits would admit 2 × burst.
    expect(admitted).toBeGreaterThanOrEqual(BURST);
    expect(admitted).toBeLessThanOrEqual(BURST + 2 * 2);
    expect(admitted).toBeLessThan(2 * BURST);
  });

  it('redis killed mid-run: every request is still answered (200 or 429, never 5xx) and limiting goes on locally', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await hit(i % 2 ? a : b, 'mid-run')).status);
    await redis.kill();
    for (let i = 0; i < 30; i++) statuses.push((await hit(i % 2 ? a : b, 'mid-run')).status);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);

    // A new key while redis is away: each gateway enforces the full limit on its own, exactly.
    for (const gw of [a, b]) {
      const rs: number[] = [];
      for (let i = 0; i < BURST + 5; i++) rs.push((await hit(gw, 'during-outage')).status);
      expect(rs.filter((s) => s === 200)).toHaveLength(BURST);
      expect(rs.filter((s) => s === 429)).toHaveLength(5);
    }
    const warned = await Promise.race([
      Promise.any([a, b].map((g) => g.waitForLog(/redis unreachable/, 10_000))),
      sleep(10_000).then(() => ''),
    ]);
    expect(warned).toMatch(/each gateway now enforces cluster limits locally/);
  });
});
