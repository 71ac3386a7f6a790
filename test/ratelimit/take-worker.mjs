// Worker for threads.test.ts: one "event-loop thread" taking tokens from a
// store it attaches to through the SharedArrayBuffer in workerData. Runs the
// JavaScript the test compiled into `dist` (worker_threads cannot load
// TypeScript on Node 20). The plan is passed as its validated config.
import { parentPort, workerData } from 'node:worker_threads';

const { dist, buffer, config, route, ip, consumer, attempts, now, barrier } = workerData;
const { createRateLimitStore } = await import(`${dist}/ratelimit/store/index.js`);
const { compileRateLimits } = await import(`${dist}/ratelimit/compile.js`);

const store = createRateLimitStore({ buffer });
const registry = compileRateLimits({ config }, store, { now: () => now });
const rl = registry.forRoute(route);
const view = {
  clientIp16: Uint8Array.from(ip),
  clientIsV4: true,
  identity: { consumer, claims: {} },
  header: () => '',
  retryAfter: 0,
  limitName: '',
};

// start together with the other worker, so the takes really interleave
const go = new Int32Array(barrier);
Atomics.add(go, 1, 1);
Atomics.notify(go, 1);
Atomics.wait(go, 0, 0, 10_000);

let admitted = 0;
for (let i = 0; i < attempts; i++) if (rl.take(view) === -1) admitted++;
parentPort.postMessage({ admitted });
