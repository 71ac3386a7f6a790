#!/usr/bin/env node
// Hot-path micro-benchmark: one rate-limit check with 3 keys (global, ip,
// claim:sub), as the pipeline calls it, over the compiled dist/.
//   npx tsc -p tsconfig.json && node --expose-gc bench/hotpath/ratelimit.bench.mjs [--json]
// Prints ns/op (tinybench median; each sample times 1000 calls so the
// timer's own cost does not dominate), the ratio to baselines measured in the same run
// (an empty function call; Map.get of a string key), and bytes allocated per
// op over 1e6 calls (heapUsed delta with gc() before; GC runs during the
// loop are counted too, since a collection would hide allocation; the two
// gc() calls of the measurement itself are included in that count).
import { PerformanceObserver } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const load = (p) => import(pathToFileURL(path.join(ROOT, 'dist', p)).href);
const { createRateLimitStore } = await load('ratelimit/store/index.js');
const { compileRateLimits } = await load('ratelimit/compile.js');
const { validateConfig } = await load('config/load.js');

const JSON_OUT = process.argv.includes('--json');
const INNER = 1000;
const ALLOC_CALLS = 1_000_000;
const KEYS = 1024;

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc for the allocation figures');
  process.exit(2);
}

const plan = validateConfig({
  authenticators: { jwt: { type: 'jwt', algorithms: ['HS256'], secret: 'x'.repeat(32) } },
  upstreams: { up: { targets: ['http://127.0.0.1:9'] } },
  rate_limits: {
    global: { key: 'global', rate: 1e9, per: '1s' },
    'per-ip': { key: 'ip', rate: 1e9, per: '1s' },
    'per-user': { key: 'claim:sub', rate: 1e9, per: '1s' },
    tiny: { key: 'ip', rate: 1, per: '1h', burst: 1 },
  },
  routes: [{ name: 'r', match: { path_prefix: '/' }, authenticate: ['jwt'], upstream: 'up', rate_limit: ['global', 'per-ip', 'per-user'] }],
});
const store = createRateLimitStore(); // default: 1M keys, shared between threads (Atomics)
const registry = compileRateLimits(plan, store);
const three = registry.forRoute(['global', 'per-ip', 'per-user']);
const denied = registry.forRoute(['tiny']);
// server.threads: 1 — the same table locked with plain writes
const single = compileRateLimits(plan, createRateLimitStore({ singleThread: true })).forRoute(['global', 'per-ip', 'per-user']);

// One reused view, as the pipeline keeps one per thread.
const identities = Array.from({ length: KEYS }, (_, i) => ({
  authenticator: 'jwt', consumer: `user-${i}`, claims: { sub: `user-${100000 + i}` }, scopes: new Set(), forwardHeaders: [], expiresAt: Infinity,
}));
const view = {
  method: 'GET', path: '/', query: '', host: '', clientIp: '', clientIp16: new Uint8Array(16), clientIsV4: true, routeIndex: 0,
  header: () => '', queryParam: () => undefined, cookie: () => undefined,
  identity: identities[0], reason: 0, retryAfter: 0, limitName: '',
};
view.clientIp16.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 7]);
let k = 0;
/** Next of KEYS clients: address and identity changed in place, no allocation. */
function nextClient() {
  k = (k + 1) & (KEYS - 1);
  view.clientIp16[14] = k >> 8;
  view.clientIp16[15] = k & 255;
  view.identity = identities[k];
}

// baselines
const map = new Map(identities.map((id) => [id.consumer, id]));
const names = identities.map((id) => id.consumer);
let sink = 0;
function noop(v) { return v.retryAfter; }

denied.take(view); // deplete tiny for 203.0.113.7

const cases = {
  'baseline: empty function call': () => { for (let i = 0; i < INNER; i++) sink += noop(view); },
  'baseline: Map.get(string)': () => { for (let i = 0; i < INNER; i++) sink += map.get(names[i & (KEYS - 1)]) === undefined ? 0 : 1; },
  'take, 3 keys, one hot client': () => { for (let i = 0; i < INNER; i++) sink += three.take(view); },
  'take, 3 keys, 1024 clients': () => { for (let i = 0; i < INNER; i++) { nextClient(); sink += three.take(view); } },
  'take, 3 keys, 1024 clients, singleThread': () => { for (let i = 0; i < INNER; i++) { nextClient(); sink += single.take(view); } },
  'precheck (global + ip peek)': () => { for (let i = 0; i < INNER; i++) sink += three.precheck(view); },
  'rejected: take + 429 headers': () => {
    view.clientIp16[14] = 0; view.clientIp16[15] = 7;
    for (let i = 0; i < INNER; i++) { sink += denied.take(view); sink += denied.headers(view, 0).length; }
  },
};

const bench = new Bench({ time: 1000, warmupTime: 300 });
for (const [name, fn] of Object.entries(cases)) bench.add(name, fn);
await bench.run();

const ns = {};
// median sample: a sample preempted by another process is an outlier, not a cost
for (const t of bench.tasks) ns[t.name] = (t.result.latency.p50 * 1e6) / INNER;

let gcs = 0;
const obs = new PerformanceObserver((list) => { gcs += list.getEntries().length; });
obs.observe({ entryTypes: ['gc'] });
function allocation(fn) {
  for (let i = 0; i < 200_000; i++) fn(); // warm: long enough for V8 to settle (a shorter warm-up left re-optimisation, i.e. code allocation, inside the counted loop)
  globalThis.gc();
  gcs = 0;
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < ALLOC_CALLS; i++) fn();
  const after = process.memoryUsage().heapUsed;
  globalThis.gc();
  return { bytesPerOp: Math.max(0, after - before) / ALLOC_CALLS, gcDuringLoop: gcs };
}
// gc entries arrive asynchronously: let them land before reading the count
const settle = () => new Promise((r) => setTimeout(r, 50));
const alloc = {};
alloc['take, 3 keys, 1024 clients'] = allocation(() => { nextClient(); three.take(view); });
await settle();
alloc['take, 3 keys, 1024 clients'].gcDuringLoop = gcs;
alloc['take, 3 keys, 1024 clients, singleThread'] = allocation(() => { nextClient(); single.take(view); });
await settle();
alloc['take, 3 keys, 1024 clients, singleThread'].gcDuringLoop = gcs;
alloc['rejected: take + 429 headers'] = allocation(() => { view.clientIp16[15] = 7; view.clientIp16[14] = 0; denied.take(view); denied.headers(view, 0); });
await settle();
alloc['rejected: take + 429 headers'].gcDuringLoop = gcs;
obs.disconnect();

const baseMap = ns['baseline: Map.get(string)'];
const baseCall = ns['baseline: empty function call'];
const rows = Object.keys(cases).map((name) => ({
  name,
  nsPerOp: Number(ns[name].toFixed(1)),
  xMapGet: Number((ns[name] / baseMap).toFixed(2)),
  xCall: Number((ns[name] / baseCall).toFixed(1)),
  ...(alloc[name] ? { bytesPerOp: Number(alloc[name].bytesPerOp.toFixed(3)), gcDuringLoop: alloc[name].gcDuringLoop } : {}),
}));
const out = {
  node: process.version,
  store: { capacity: store.capacity, bytesPerKey: store.bytesPerKey, bufferMiB: Number((store.buffer.byteLength / 2 ** 20).toFixed(1)) },
  rows,
  target: '≤ 150 ns and 0 bytes per check with 3 keys',
};
if (JSON_OUT) {
  console.log(JSON.stringify(out, null, 2));
} else {
  console.log(`rate-limit hot path — node ${process.version}; store ${out.store.capacity} keys × ${out.store.bytesPerKey} B = ${out.store.bufferMiB} MiB`);
  console.table(rows);
  console.log(`target: ${out.target}`);
if (sink === 0.5) console.log(''); // keep the results alive
}
