// Two event-loop threads (worker_threads) sharing one store through its
// SharedArrayBuffer enforce one exact count, not two.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRateLimitStore, type RateLimitStore } from '../../src/ratelimit/store/index.js';
import { compileRateLimits } from '../../src/ratelimit/compile.js';
import { identity, ip16, planWith, view } from './fixtures.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NOW = 1_700_000_000_000; // frozen: no refill, so the exact count is the burst
let dist = '';

/**
 * worker_threads cannot load TypeScript on Node 20: compile the rate limiter
 * into a private directory (not dist/, which other builds may be rewriting).
 */
function buildForWorkers(): string {
  const out = mkdtempSync(path.join(os.tmpdir(), 'portcullis-rl-'));
  const files = ['src/ratelimit/compile.ts', 'src/ratelimit/store/index.ts', 'src/lib/clock.ts'];
  const args = ['--ignoreConfig', ...files, '--outDir', out, '--rootDir', 'src', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--target', 'es2022', '--skipLibCheck', '--types', 'node'];
  try {
    execFileSync(path.join(root, 'node_modules/.bin/tsc'), args, { cwd: root, stdio: 'pipe', timeout: 120_000 });
  } catch {
    // type errors elsewhere in the tree still emit; the check below decides
  }
  for (const f of ['ratelimit/compile.js', 'ratelimit/store/index.js', 'lib/clock.js']) {
    if (!existsSync(path.join(out, f))) throw new Error(`could not compile ${f} for the worker threads`);
  }
  return out;
}

function runWorkers(store: RateLimitStore, config: unknown, route: string[], workers: { ip: string; consumer: string; attempts: number }[]): Promise<number[]> {
  const barrier = new SharedArrayBuffer(8);
  const go = new Int32Array(barrier);
  const results = workers.map(
    (w) =>
      new Promise<number>((resolve, reject) => {
        const worker = new Worker(new URL('./take-worker.mjs', import.meta.url), {
          workerData: { dist, buffer: store.buffer, config, route, ip: [...ip16(w.ip)], consumer: w.consumer, attempts: w.attempts, now: NOW, barrier },
        });
        worker.once('message', (m: { admitted: number }) => resolve(m.admitted));
        worker.once('error', reject);
        worker.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
      }),
  );
  // release both once both are ready (bounded wait)
  const release = (async () => {
    for (let i = 0; i < 1000 && Atomics.load(go, 1) < workers.length; i++) await new Promise((r) => setTimeout(r, 10));
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
  })();
  return release.then(() => Promise.all(results));
}

beforeAll(() => {
  dist = buildForWorkers();
}, 120_000);
afterAll(() => {
  if (dist) rmSync(dist, { recursive: true, force: true });
});

describe('threads sharing one store', () => {
  test('two threads taking from one bucket admit exactly its burst', async () => {
    const store = createRateLimitStore({ capacity: 1024 });
    const plan = planWith({ u: { key: 'consumer', rate: 1, per: '1h', burst: 50_000 } });
    const [a, b] = await runWorkers(store, plan.config, ['u'], [
      { ip: '192.0.2.1', consumer: 'shared', attempts: 40_000 },
      { ip: '192.0.2.2', consumer: 'shared', attempts: 40_000 },
    ]);
    // exact: 50000, not 80000 (two private counts) nor less (lost updates).
    // How the 50000 split between threads depends on the scheduler, not on us.
    expect(a! + b!).toBe(50_000);
    // the counters are per thread lane in the buffer: any thread sees the sum
    const stats = compileRateLimits(plan, createRateLimitStore({ buffer: store.buffer }), { now: () => NOW }).stats();
    expect(stats).toEqual([{ name: 'u', admitted: 50_000, rejected: 30_000 }]);
  });

  test('all-or-nothing holds across threads: a global rejection takes no per-ip token', async () => {
    const store = createRateLimitStore({ capacity: 1024 });
    const limits = {
      global: { key: 'global', rate: 1, per: '1h', burst: 30_000 },
      'per-ip': { key: 'ip', rate: 1, per: '1h', burst: 20_000 },
    };
    const plan = planWith(limits);
    const [a, b] = await runWorkers(store, plan.config, ['global', 'per-ip'], [
      { ip: '198.51.100.1', consumer: 'a', attempts: 25_000 },
      { ip: '198.51.100.2', consumer: 'b', attempts: 25_000 },
    ]);
    expect(a! + b!).toBe(30_000);
    // what each per-ip bucket has left is exactly 20000 minus what that thread was admitted
    const ipOnly = compileRateLimits(plan, createRateLimitStore({ buffer: store.buffer }), { now: () => NOW }).forRoute(['per-ip'])!;
    for (const [ip, got] of [['198.51.100.1', a!], ['198.51.100.2', b!]] as const) {
      const v = view({ ip, identity: identity('x') });
      let left = 0;
      while (left < 30_000 && ipOnly.take(v) === -1) left++;
      expect(left).toBe(20_000 - got);
    }
  });
});
