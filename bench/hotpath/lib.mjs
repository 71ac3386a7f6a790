// Micro-benchmark harness for the hot path: ns/op with tinybench (each sample
// is a loop of INNER calls, so the timer's own cost does not swamp a 10 ns
// call; fastest of ROUNDS interleaved rounds) and bytes allocated per op over ≥1e6 calls: gc() before, heapUsed
// delta right after the loop (allocation), and again after gc() (retained).
// Run with `node --expose-gc --max-semi-space-size=256 --min-semi-space-size=256`
// (bench/hotpath/run.mjs does) so no scavenge runs inside the counted loop;
// when one does anyway, the figure is marked as a lower bound.
import { PerformanceObserver } from 'node:perf_hooks';
import { Bench } from 'tinybench';

const INNER = 1000;
export const CALLS = Number(process.env.HOTPATH_CALLS ?? 1_000_000);
const TIME_MS = Number(process.env.HOTPATH_TIME_MS ?? 150);
// Rounds of timing, cases interleaved; the fastest round is kept: on a shared
// machine interference only ever adds time, so the minimum is the estimate
// least polluted by other processes.
const ROUNDS = Number(process.env.HOTPATH_ROUNDS ?? 5);

let gcs = 0;
new PerformanceObserver((list) => { gcs += list.getEntries().length; }).observe({ entryTypes: ['gc'] });
const tick = () => new Promise((r) => setImmediate(r));

/** Keeps results alive so V8 cannot drop the calls as dead code. */
export let sink = null;

async function allocation(fn, calls = CALLS) {
  if (typeof globalThis.gc !== 'function') return { bytesPerOp: undefined, retainedPerOp: undefined, note: 'run with --expose-gc' };
  globalThis.gc(); globalThis.gc();
  await tick();
  const g0 = gcs;
  const h0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < calls; i++) sink = fn(i);
  const h1 = process.memoryUsage().heapUsed;
  sink = null;
  globalThis.gc(); globalThis.gc();
  const h2 = process.memoryUsage().heapUsed;
  await tick();
  // The two forced gc() calls above are the only collections we expect.
  const during = gcs - g0 - 2;
  return { bytesPerOp: Math.max(0, (h1 - h0) / calls), retainedPerOp: (h2 - h0) / calls, gcDuringLoop: during > 0, calls };
}

async function nsPerOp(fn, inner = INNER) {
  const bench = new Bench({ time: TIME_MS, warmupTime: 100 });
  let k = 0;
  bench.add('x', () => {
    for (let i = 0; i < inner; i++) sink = fn(k++);
  });
  await bench.run();
  const r = bench.tasks[0].result;
  return ((r.latency?.mean ?? r.period) * 1e6) / inner;
}

const fmtB = (b) => (b === undefined ? 'n/a' : b < 0.05 ? '0' : b.toFixed(b < 10 ? 2 : 0));

/**
 * Measures a baseline and each case (fn(i) → any), prints a table with the
 * ratio of each case's ns/op to the baseline's, and a HOTPATH_JSON line.
 * Each fn is also called once up front and its result checked with `check`
 * (a benchmark of a function that returns the wrong answer proves nothing).
 */
export async function suite(title, { baseline, cases, note }) {
  const all = [{ ...baseline, baseline: true }, ...cases];
  for (const c of all) {
    if (c.check) {
      const v = c.fn(0);
      const ok = c.check(v);
      if (!ok) throw new Error(`${title}: "${c.name}" returned ${JSON.stringify(v)}, which its check rejects`);
    }
    for (let i = 0; i < Math.min(200_000, c.calls ?? 200_000); i++) sink = c.fn(i); // let the JIT settle
  }
  const best = all.map(() => Infinity);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < all.length; i++) best[i] = Math.min(best[i], await nsPerOp(all[i].fn, all[i].inner));
  }
  const out = [];
  for (let i = 0; i < all.length; i++) {
    const c = all[i];
    // Two passes, the smaller kept: the first may still pay one-off JIT/IC metadata.
    const a1 = await allocation(c.fn, c.calls);
    const a2 = await allocation(c.fn, c.calls);
    const alloc = (a2.bytesPerOp ?? 0) < (a1.bytesPerOp ?? 0) ? a2 : a1;
    out.push({ name: c.name, baseline: !!c.baseline, nsPerOp: best[i], ...alloc, target: c.target });
  }
  const base = out[0].nsPerOp;
  process.stdout.write(`\n${title}${note ? ` — ${note}` : ''}\n`);
  const w = Math.max(...out.map((o) => o.name.length)) + 2;
  process.stdout.write(`  ${'case'.padEnd(w)}${'ns/op'.padStart(9)}${'vs baseline'.padStart(13)}${'B/op alloc'.padStart(12)}${'B/op kept'.padStart(11)}  target\n`);
  for (const o of out) {
    o.ratio = o.nsPerOp / base;
    o.met = o.target ? evalTarget(o, o.target) : undefined;
    process.stdout.write(`  ${o.name.padEnd(w)}${o.nsPerOp.toFixed(1).padStart(9)}${(o.baseline ? 'baseline' : `${o.ratio.toFixed(2)}×`).padStart(13)}${`${o.gcDuringLoop ? '≥' : ''}${fmtB(o.bytesPerOp)}`.padStart(12)}${fmtB(Math.max(0, o.retainedPerOp ?? 0)).padStart(11)}  ${o.target ? `${o.target.label}: ${o.met ? 'met' : 'NOT MET'}` : ''}\n`);
  }
  process.stdout.write(`HOTPATH_JSON ${JSON.stringify({ title, note, calls: CALLS, results: out })}\n`);
  return out;
}

function evalTarget(o, t) {
  let ok = true;
  if (t.maxNs !== undefined) ok &&= o.nsPerOp <= t.maxNs;
  // The smallest heap object V8 makes is 16 bytes, so under 1 B/op over ≥1e6 calls
  // cannot be an allocation per call: it is one-off (compiled code, a timer).
  if (t.maxBytes !== undefined) ok &&= (o.bytesPerOp ?? Infinity) < t.maxBytes + 1;
  return ok;
}
