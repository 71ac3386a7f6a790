// scope: cluster — two gateways (two registries over two separate stores, as
// two machines would have) share one limit through a real redis-server, and
// keep limiting locally while Redis is gone.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { createRateLimitStore } from '../../src/ratelimit/store/index.js';
import { startClusterSync, type ClusterSyncHandle } from '../../src/ratelimit/cluster-sync.js';
import { compileRateLimits, type RouteLimiter } from '../../src/ratelimit/compile.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { identity, planWith, view } from './fixtures.js';

const RATE = 200; // per second
const BURST = 20;
const INTERVAL = 50; // ms
const G = 2;

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

function gateways(prefix: string) {
  const plan = planWith(
    { shared: { key: 'consumer', rate: RATE, per: '1s', burst: BURST, scope: 'cluster' } },
    undefined,
    { cluster: { redis: redis.url, sync_interval: INTERVAL, key_prefix: prefix } },
  );
  return [0, 1].map(() => {
    const registry = compileRateLimits(plan, createRateLimitStore({ capacity: 1024 }));
    return { registry, limiter: registry.forRoute(['shared'])!, sync: startClusterSync(plan, registry) };
  });
}

/** Both gateways take as fast as they can for `ms` (bounded), yielding so syncs run. */
async function hammer(limiters: RouteLimiter[], ms: number, consumer = 'team-a'): Promise<{ admitted: number[]; elapsed: number }> {
  const v = view({ identity: identity(consumer) });
  const admitted = limiters.map(() => 0);
  const start = Date.now();
  for (let i = 0; i < 2_000_000 && Date.now() - start < ms; i++) {
    for (let g = 0; g < limiters.length; g++) if (limiters[g]!.take(v) === -1) admitted[g]!++;
    if (i % 64 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  return { admitted, elapsed: Date.now() - start };
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

/**
 * Documented bound: rate × T + G × burst (first burst) + G × rate × sync_interval,
 * with the interval allowed to stretch 4× (timers run late on a loaded machine).
 */
function bound(elapsedMs: number): number {
  return (RATE * elapsedMs) / 1000 + G * BURST + (G * RATE * 4 * INTERVAL) / 1000;
}

describe('cluster scope through redis', () => {
  test('two gateways enforce one shared limit within the documented bound', async () => {
    const gws = gateways('t1:');
    try {
      expect(await until(() => gws.every((g) => g.sync.rounds >= 0), 1000)).toBe(true);
      const { admitted, elapsed } = await hammer(gws.map((g) => g.limiter), 2000);
      const total = admitted[0]! + admitted[1]!;
      const localOnly = G * ((RATE * elapsed) / 1000 + BURST);
      // one limit, not two: within the bound, and far below two independent limits
      expect(total).toBeLessThanOrEqual(bound(elapsed));
      expect(total).toBeLessThan(localOnly * 0.7);
      // and the limit is not starved either
      expect(total).toBeGreaterThan((RATE * elapsed) / 1000 * 0.6);
      expect(admitted[0]).toBeGreaterThan(0);
      expect(admitted[1]).toBeGreaterThan(0);
      const probe = new Redis(redis.url);
      const keys = await probe.keys('t1:*');
      await probe.quit();
      expect(keys).toEqual(['t1:shared:s:team-a']);
    } finally {
      await Promise.all(gws.map((g) => g.sync.stop()));
    }
  });

  test('redis killed mid-run: local limiting continues, logged once, recovery when it returns', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const gws = gateways('t2:');
    const syncs: ClusterSyncHandle[] = gws.map((g) => g.sync);
    const limiters = gws.map((g) => g.limiter);
    try {
      await hammer(limiters, 300);
      expect(syncs.every((s) => s.connected && s.rounds > 0)).toBe(true);

      await redis.kill();
      const down = await hammer(limiters, 1000);
      expect(await until(() => syncs.every((s) => !s.connected), 5000)).toBe(true);
      // still limited: each gateway at most its own full limit over the outage
      for (const a of down.admitted) expect(a).toBeLessThanOrEqual((RATE * down.elapsed) / 1000 + BURST + RATE * 0.1);
      expect(down.admitted[0]).toBeGreaterThan(0);
      const more = await hammer(limiters, 300);
      expect(more.admitted[0]).toBeGreaterThan(0);
      const warns = lines.filter((l) => l.includes('redis unreachable'));
      expect(warns.length).toBe(G); // once per gateway, not once per round
      expect(JSON.parse(warns[0]!)).toMatchObject({ level: 'warn', redis: `redis://127.0.0.1:${redis.port}` });

      await redis.restart();
      expect(await until(() => syncs.every((s) => s.connected), 15_000)).toBe(true);
      const recovered = lines.filter((l) => l.includes('redis reachable again'));
      expect(recovered.length).toBe(G);
      // shared again
      const after = await hammer(limiters, 1500, 'team-b');
      expect(after.admitted[0]! + after.admitted[1]!).toBeLessThanOrEqual(bound(after.elapsed));
      expect(lines.filter((l) => l.includes('redis unreachable')).length).toBe(G);
    } finally {
      spy.mockRestore();
      await Promise.all(syncs.map((s) => s.stop()));
    }
  });

  test('without cluster limits the sync is a no-op', async () => {
    const plan = planWith({ l: { key: 'ip', rate: 1, per: '1s' } });
    const reg = compileRateLimits(plan, createRateLimitStore({ capacity: 64 }));
    const sync = startClusterSync(plan, reg);
    expect(sync.owner).toBe(false);
    await sync.stop();
  });
});
