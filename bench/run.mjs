#!/usr/bin/env node
// `npm run bench`: every load scenario against its baseline, in one run, with
// the peers (nginx, HAProxy, and the Node gateways fastify and fast-gateway)
// on the same machine in the same layout:
//   CPU 0: wrk (or autocannon) + the nginx upstream   CPU 1: the system under test
// Figure of merit: CPU µs per request of the system under test
// (utime+stime from /proc over the timed run ÷ requests served).
// Usage: node bench/run.mjs [--quick] [--scenario NAME[,NAME]]… [--duration S]
//        [--warmup S] [--reps N] [--connections N] [--json] [--list]
//        [--no-install] [--no-build] [--no-deps] [--generator autocannon] [--write-doc]
import { fork, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderChart } from './lib/chart.mjs';
import { backgroundLoad, cpuSplitOf, rssKiB } from './lib/proc.mjs';
import { runAutocannon, runPaced } from './lib/paced.mjs';
import { runChecks } from './lib/probe.mjs';
import { scenarios } from './lib/scenarios.mjs';
import {
  NODE_PEERS, PORTS, HAPROXY_FRONTENDS, haproxyPort, startAuthzService, startHaproxy, startNginxPeer, startNodePeer, startPortcullis, startUpstream,
} from './lib/servers.mjs';
import { CPUS, ensureTools, machine, pinPid, portFree, setLayout, setNice, versions } from './lib/system.mjs';
import { formatTable, markdownTable } from './lib/table.mjs';
import { AUDIENCE, ISSUER, prepareTokens } from './lib/tokens.mjs';
import { runWrk, writeLua } from './lib/wrk.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const RESULTS = path.join(HERE, 'results');

// --- arguments ---------------------------------------------------------------
function parseArgs(argv) {
  const o = { scenarios: [], duration: 5, warmup: 2, reps: 3, connections: 64, json: false, list: false,
    install: true, build: true, deps: true, generator: 'wrk', writeDoc: false, quick: false, waitQuiet: 20 };
  const num = (v, name) => {
    const n = Number(String(v).replace(/s$/, ''));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number, got "${v}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i].split(/=(.*)/s, 2);
    const val = () => inline ?? argv[++i];
    switch (k) {
      case '--scenario': case '-s': o.scenarios.push(...val().split(',').map((s) => s.trim()).filter(Boolean)); break;
      // wrk takes whole seconds
      case '--duration': case '-d': o.duration = Math.max(1, Math.round(num(val(), '--duration'))); o.durationSet = true; break;
      case '--warmup': o.warmup = Math.round(Number(String(val()).replace(/s$/, ''))) || 0; o.warmupSet = true; break;
      case '--reps': o.reps = Math.round(num(val(), '--reps')); o.repsSet = true; break;
      case '--connections': case '-c': o.connections = Math.round(num(val(), '--connections')); break;
      case '--json': o.json = true; break;
      case '--list': o.list = true; break;
      case '--quick': o.quick = true; break;
      case '--no-install': o.install = false; break;
      case '--no-build': o.build = false; break;
      case '--no-deps': o.deps = false; break;
      case '--generator': o.generator = val(); break;
      case '--write-doc': o.writeDoc = true; break;
      case '--render': o.render = true; break;
      case '--wait-quiet': o.waitQuiet = Number(val()); o.waitSet = true; break;
      case '--no-wait-quiet': o.waitQuiet = 0; o.waitSet = true; break;
      case '--nice': o.nice = Math.round(Number(val())); break;
      case '--load-cpus': o.loadCpus = val(); break;
      case '--sut-cpus': o.sutCpus = val(); break;
      case '--threads': o.threads = Math.round(num(val(), '--threads')); break;
      case '--wrk-threads': o.wrkThreads = Math.round(num(val(), '--wrk-threads')); break;
      case '--upstream-workers': o.upstreamWorkers = Math.round(num(val(), '--upstream-workers')); break;
      case '--help': case '-h': o.help = true; break;
      default: throw new Error(`unknown option ${argv[i]} (see --help)`);
    }
  }
  if (o.quick) {
    if (!o.durationSet) o.duration = 1;
    if (!o.warmupSet) o.warmup = 1;
    if (!o.repsSet) o.reps = 1;
    if (!o.waitSet) o.waitQuiet = 0;
  }
  if (!['wrk', 'autocannon'].includes(o.generator)) throw new Error('--generator is wrk or autocannon');
  return o;
}

const HELP = `portcullis bench — load scenarios with nginx, HAProxy, fastify and fast-gateway as peers, in one run

  node bench/run.mjs                  every scenario, 2 s warm-up + 3 × 5 s runs each (43 rows, ~15 min)
  node bench/run.mjs --quick          smoke check: 1 s warm-up + 1 × 1 s run each (~2–3 min)
  --scenario NAME[,NAME]              row ids or scenario names (repeatable; see --list);
                                      baselines and target peers come along unless --no-deps
  --duration S  --warmup S  --reps N  timed run length, warm-up, runs per row (median kept)
  --connections N                     wrk connections (default 64; large bodies use 16)
  --json                              print the results as JSON on stdout (progress on stderr)
  --generator autocannon              use autocannon instead of wrk for every row
  --no-install                        do not apt-get install wrk/nginx/haproxy when missing
  --no-build                          do not run tsc before starting
  --write-doc                         rewrite the results section of BENCHMARKS.md
  --render                            measure nothing: redraw bench/chart.svg and the BENCHMARKS.md
                                      section from bench/results/latest.json
  --load-cpus LIST --sut-cpus LIST    taskset CPU lists (default 0 and 1)
  --threads N                         gateway server.threads, nginx worker_processes, HAProxy nbthread (1)
  --wrk-threads N --upstream-workers N  load generator threads, upstream nginx workers (1, 1)
  --nice N                            run the servers and the load generator at nice level N
                                      (e.g. -5; negative needs root): less noise on a shared machine
  --wait-quiet S                      before each row, wait up to S s (default 20) for other
                                      processes' CPU use to drop below 5%; the table flags rows
                                      measured on a busy machine (--no-wait-quiet: don't wait)
Writes bench/results/latest.json and bench/chart.svg.`;

// --- main ----------------------------------------------------------------------
const opts = (() => {
  try { return parseArgs(process.argv.slice(2)); } catch (e) { process.stderr.write(`bench: ${e.message}\n`); process.exit(2); }
})();
if (opts.help) { process.stdout.write(`${HELP}\n`); process.exit(0); }
setLayout({ load: opts.loadCpus, sut: opts.sutCpus, threads: opts.threads, wrkThreads: opts.wrkThreads, upstreamWorkers: opts.upstreamWorkers });

const log = (s) => process.stderr.write(`${s}\n`);
const fmt = (n, d = 0) => (n === undefined || n === null || Number.isNaN(n) ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));

const cleanup = [];
let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  for (const f of cleanup.reverse()) { try { await f(); } catch { /* best effort */ } }
  process.exit(code);
}
process.on('SIGINT', () => { log('\ninterrupted: stopping servers'); void shutdown(130); });
process.on('SIGTERM', () => void shutdown(143));

try {
  await main();
  await shutdown(0);
} catch (e) {
  log(`bench: ${e.stack ?? e}`);
  await shutdown(1);
}

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  if (opts.render) {
    const out = JSON.parse(readFileSync(path.join(RESULTS, 'latest.json'), 'utf8'));
    for (const r of out.results) {
      const v = (r.reps ?? []).map((x) => x.cpuUsPerReq ?? x.rps).filter((x) => x > 0);
      if (r.spread === undefined && v.length > 1) r.spread = Math.round((Math.max(...v) / Math.min(...v) - 1) * 100);
      if (r.spread > 15) r.unstable = true;
    }
    writeFileSync(path.join(HERE, 'chart.svg'), renderChart(out));
    updateDoc(out);
    process.stdout.write(`${formatTable(out)}\n`);
    return;
  }
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-'));
  cleanup.push(() => rmSync(prefix, { recursive: true, force: true }));
  const tokens = prepareTokens(path.join(RESULTS, 'cache'), log);
  const all = scenarios(tokens);
  if (opts.list) {
    for (const r of all) process.stdout.write(`${r.id.padEnd(26)} ${r.system.padEnd(13)} ${r.scenario}\n`);
    return;
  }
  const rows = select(all, opts);
  if (!rows.length) throw new Error(`no row matches ${opts.scenarios.join(', ')} (see --list)`);

  if (opts.build) {
    log('building (tsc -p tsconfig.json) …');
    const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) log(`! tsc reported type errors (dist/ was still emitted): ${(r.stdout || r.stderr).trim().split('\n')[0]}`);
  }
  if (!existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npx tsc -p tsconfig.json` first');

  const tools = ensureTools(['taskset', 'wrk', 'nginx', 'haproxy'], log, { install: opts.install });
  if (!tools.taskset) log('! taskset missing: processes are not pinned, CPU figures are less comparable');
  if (!tools.nginx) throw new Error('nginx is needed for the upstream; install it (apt-get install nginx-light) or run as root');
  const generator = opts.generator === 'wrk' && !tools.wrk ? 'autocannon' : opts.generator;
  if (generator !== opts.generator) log('! wrk missing: every row uses autocannon (about half the req/s wrk reaches here)');

  const box = machine(); // before pinning ourselves: availableParallelism follows the affinity mask
  // The bench process itself (paced rows, the idle holder's parent) stays on CPU 0.
  pinPid(process.pid, CPUS.load);
  if (opts.nice) {
    setNice(opts.nice);
    spawnSync('renice', ['-n', String(opts.nice), '-p', String(process.pid)], { stdio: 'ignore' });
  }

  for (const p of [PORTS.upstream, PORTS.gateway, PORTS.nginx, PORTS.authz, PORTS.admin, ...Object.values(NODE_PEERS).map((n) => n.port), ...HAPROXY_FRONTENDS.map(haproxyPort)]) {
    if (!(await portFree(p))) throw new Error(`port ${p} on 127.0.0.1 is in use (a bench from an earlier run still running?)`);
  }

  const upstream = await startUpstream(tools.nginx, prefix);
  cleanup.push(() => new Promise((r) => { upstream.once('exit', r); upstream.kill('SIGTERM'); setTimeout(r, 3000); }));

  const lazy = {};
  const need = async (what) => {
    if (lazy[what] !== undefined) return lazy[what];
    try {
      if (what === 'nginx-peer') lazy[what] = await startNginxPeer(tools.nginx, prefix);
      else if (what === 'haproxy') {
        if (!tools.haproxy) throw new Error('haproxy is not installed');
        lazy[what] = await startHaproxy(tools.haproxy, prefix, { ...tokens.files, hsSecret: tokens.hsSecret, issuer: ISSUER, audience: AUDIENCE });
      } else if (NODE_PEERS[what]) lazy[what] = await startNodePeer(what, { rsPub: tokens.files.rsPub, issuer: ISSUER, audience: AUDIENCE });
      else if (what === 'authz') lazy[what] = await startAuthzService(prefix);
      else throw new Error(`unknown need ${what}`);
      if (lazy[what]?.stop) cleanup.push(lazy[what].stop);
    } catch (e) {
      lazy[what] = new Error(`${what}: ${e.message}`);
    }
    return lazy[what];
  };

  const started = Date.now();
  const results = [];
  const byId = new Map();
  log(`\n${rows.length} rows; ${opts.warmup} s warm-up + ${opts.reps} × ${opts.duration} s each; wrk -t${CPUS.wrkThreads} -c${opts.connections}; system under test on CPU ${CPUS.sut}, load + upstream on CPU ${CPUS.load}\n`);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const tag = `[${String(i + 1).padStart(2)}/${rows.length}] ${row.id} (${row.system})`;
    process.stderr.write(`${tag} … `);
    const background = await quiet(opts.waitQuiet);
    let res;
    try {
      res = await measureRow(row, { need, prefix, tools, generator, byId });
    } catch (e) {
      res = { status: 'failed', message: String(e.message ?? e).split('\n')[0].slice(0, 300) };
    }
    const r = { id: row.id, scenario: row.scenario, system: row.system, note: row.note, background: Math.round(background * 100), ...res };
    if (r.background >= 5) r.busy = true;
    if (r.spread > 15) r.unstable = true;
    results.push(r);
    byId.set(row.id, r);
    if (r.status === 'ok') {
      log(`${fmt(r.rps)} req/s  p50 ${fmt(r.p50 / 1000, 2)} ms  p99 ${fmt(r.p99 / 1000, 2)} ms  ${r.cpuUsPerReq ? `${fmt(r.cpuUsPerReq, 1)} µs/req` : ''}${r.errors ? `  ${fmt(r.errors)} errors` : ''}${r.extra?.summary ? `  ${r.extra.summary}` : ''}`);
    } else log(`${r.status}: ${r.message}`);
    if (r.busy) log(`      ! machine busy: ${r.background}% CPU used by other processes just before this row`);
    if (r.unstable) log(`      ! unstable: the timed runs of this row differ by ${r.spread}%`);
  }

  // Ratios and targets, once every row of the run is in.
  for (const r of results) {
    const row = rows.find((x) => x.id === r.id);
    if (r.status !== 'ok') continue;
    if (row.baseline) {
      const b = byId.get(row.baseline.id);
      r.baseline = { id: row.baseline.id, metric: row.baseline.metric, ratio: ratio(r, b, row.baseline.metric) };
    }
    r.targets = (row.targets ?? []).map((t) => evalTarget(r, byId.get(t.vs), t));
  }

  const out = {
    when: new Date().toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    options: { duration: opts.duration, warmup: opts.warmup, reps: opts.reps, connections: opts.connections, quick: opts.quick, generator, nice: opts.nice ?? 0 },
    machine: box,
    versions: versions(tools),
    layout: tools.taskset
      ? `load generator (wrk -t${CPUS.wrkThreads}) + nginx upstream (${CPUS.upstreamWorkers} worker${CPUS.upstreamWorkers > 1 ? 's' : ''}) on CPU ${CPUS.load}, system under test on CPU ${CPUS.sut} with ${CPUS.threads} thread${CPUS.threads > 1 ? 's' : ''} (taskset)`
      : 'not pinned (taskset missing)',
    results,
  };
  // Only a full, default-length run is "the" result: a run of some rows or a
  // --quick run is written beside it and leaves the chart and the doc alone.
  const kind = opts.scenarios.length > 0 ? 'partial' : opts.quick ? 'quick' : 'latest';
  const jsonFile = path.join(RESULTS, `${kind}.json`);
  const chartFile = kind === 'latest' ? path.join(HERE, 'chart.svg') : path.join(RESULTS, `${kind}-chart.svg`);
  writeFileSync(jsonFile, `${JSON.stringify(out, null, 1)}\n`);
  writeFileSync(chartFile, renderChart(out));
  if (opts.writeDoc && kind !== 'latest') log(`! --write-doc ignored: a ${kind} run is not written into BENCHMARKS.md`);
  else if (opts.writeDoc) updateDoc(out);
  if (opts.json) process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
  else process.stdout.write(`\n${formatTable(out)}\n`);
  log(`\ndone in ${out.seconds} s; wrote ${path.relative(process.cwd(), jsonFile)} and ${path.relative(process.cwd(), chartFile)}`);
}

/** Rows named on the command line plus (unless --no-deps) the rows their ratios need. */
function select(all, o) {
  if (!o.scenarios.length) return all;
  const want = o.scenarios.map((s) => s.toLowerCase());
  const hit = (r) => want.some((w) => r.id.toLowerCase() === w || r.scenario.toLowerCase() === w || r.scenario.toLowerCase().startsWith(w) || r.system === w);
  const keep = new Set(all.filter(hit).map((r) => r.id));
  if (o.deps) {
    let grew = true;
    while (grew) {
      grew = false;
      for (const r of all) {
        if (!keep.has(r.id)) continue;
        for (const d of [r.baseline?.id, r.rateFrom, ...(r.targets ?? []).map((t) => t.vs)]) {
          if (d && !keep.has(d)) { keep.add(d); grew = true; }
        }
      }
    }
  }
  return all.filter((r) => keep.has(r.id));
}

function metricOf(r, m) {
  if (!r || r.status !== 'ok') return undefined;
  return m === 'rps' ? r.rps : m === 'cpu' ? r.cpuUsPerReq : m === 'p99' ? r.p99 : undefined;
}
/** Other processes' share of the machine, after waiting up to maxS seconds for it to fall below 5%. */
async function quiet(maxS) {
  const until = Date.now() + maxS * 1000;
  let load = await backgroundLoad(400);
  while (load >= 0.05 && Date.now() < until) load = await backgroundLoad(1000);
  return load;
}

function ratio(r, b, m) {
  const x = metricOf(r, m);
  const y = metricOf(b, m);
  return x !== undefined && y ? x / y : undefined;
}
function evalTarget(r, vs, t) {
  if (t.metric === 'p99-added') {
    const added = vs?.status === 'ok' ? r.p99 - vs.p99 : undefined;
    return { label: t.label, vs: t.vs, addedUs: added, met: added === undefined ? null : added <= t.maxAddedUs };
  }
  const q = ratio(r, vs, t.metric);
  let met = null;
  if (q !== undefined && t.max !== undefined) met = q <= t.max;
  if (q !== undefined && t.min !== undefined) met = q >= t.min;
  return { label: t.label, vs: t.vs, metric: t.metric, ratio: q, met };
}

// --- one row -------------------------------------------------------------------
async function measureRow(row, ctx) {
  if (row.kind === 'todo') return { status: 'skipped', message: row.skip };
  const needs = [...row.needs];
  const extraPids = [];
  let sut = null; // { pids(), stop() }
  for (const n of needs) {
    const got = await ctx.need(n);
    if (got instanceof Error) return { status: 'skipped', message: got.message };
    if (n === 'authz') extraPids.push(...got.pids());
  }
  if (row.kind === 'paced' && !ctx.byId.get(row.rateFrom)?.rps) return { status: 'skipped', message: `needs the ${row.rateFrom} row's req/s in the same run` };
  if (row.kind !== 'paced' && ctx.generator === 'wrk' && !ctx.tools.wrk) return { status: 'skipped', message: 'wrk is not installed' };

  if (row.system === 'portcullis') {
    try {
      sut = await startPortcullis(row.gateway, ctx.prefix, row.id, { cpus: row.cpus ?? 'sut' });
    } catch (e) {
      return { status: 'skipped', message: `gateway refused this config (feature not wired yet?): ${e.message}` };
    }
  } else if (row.system === 'nginx') sut = await ctx.need('nginx-peer');
  else if (row.system === 'haproxy') sut = await ctx.need('haproxy');
  else if (NODE_PEERS[row.system]) sut = await ctx.need(row.system);
  try {
    if (row.prepare) await row.prepare(row);
    const fail = await runChecks(row.url, row.checks, row.expect);
    if (fail) return { status: 'failed', message: `functional check failed, not timed: ${fail}` };
    const pids = () => [...(sut ? sut.pids() : []), ...extraPids];
    if (row.kind === 'paced') return await measurePaced(row, ctx, pids);
    if (row.kind === 'idle') return await measureIdle(row, ctx, pids);
    return await measureLoad(row, ctx, pids);
  } finally {
    if (row.system === 'portcullis' && sut) await sut.stop();
  }
}

function loadRunner(row, ctx) {
  const connections = row.connections ?? opts.connections;
  if (ctx.generator === 'wrk') {
    const lua = writeLua(ctx.prefix, row.id, row.load ?? {});
    return { generator: 'wrk', connections, run: (seconds) => runWrk({ wrk: ctx.tools.wrk, url: row.url, lua, seconds, connections, threads: CPUS.wrkThreads, pin: ctx.tools.taskset ? CPUS.load : '' }) };
  }
  const l = row.load ?? {};
  if (l.tokensFile) return { generator: 'autocannon', connections, unsupported: 'per-request tokens need wrk (Lua)' };
  return {
    generator: 'autocannon', connections,
    run: (seconds) => runAutocannon({ url: row.url, seconds, connections, headers: l.headers, method: l.method, body: l.bodySize ? Buffer.alloc(l.bodySize, 120) : l.body }),
  };
}

async function timedReps(row, runner, pids, hooks = {}) {
  if (runner.unsupported) throw new Error(runner.unsupported);
  if (opts.warmup > 0) await runner.run(opts.warmup);
  const reps = [];
  for (let i = 0; i < opts.reps; i++) {
    await hooks.before?.();
    const s0 = cpuSplitOf(pids());
    const r = await runner.run(opts.duration);
    const s1 = cpuSplitOf(pids());
    const extraReq = (await hooks.after?.()) ?? 0;
    const served = r.requests + extraReq;
    const user = s1.user - s0.user;
    const sys = s1.sys - s0.sys;
    const has = pids().length > 0 && served > 0;
    reps.push({
      ...r, extraRequests: extraReq, cpuUs: user + sys,
      cpuUsPerReq: has ? (user + sys) / served : undefined,
      userUsPerReq: has ? user / served : undefined,
      sysUsPerReq: has ? sys / served : undefined,
    });
  }
  return reps;
}

function summarise(row, runner, reps, by) {
  // The rep with the median CPU µs/req (or req/s when no CPU is measured; or
  // `by`) stands for the row.
  const key = by ?? (reps[0].cpuUsPerReq !== undefined ? 'cpuUsPerReq' : 'rps');
  const sorted = [...reps].sort((a, b) => a[key] - b[key]);
  const m = sorted[Math.floor((sorted.length - 1) / 2)];
  const errors = m.socketErrors + (row.expect >= 400 ? m.requests - m.non2xx : m.non2xx);
  // How far apart the runs were: on a shared machine, a row whose runs differ a
  // lot was disturbed during the run even if the machine was quiet before it.
  const vals = reps.map((r) => r[key]).filter((x) => x > 0);
  const spread = vals.length > 1 ? Math.max(...vals) / Math.min(...vals) - 1 : 0;
  return {
    spread: Math.round(spread * 100),
    status: 'ok',
    generator: runner.generator,
    connections: runner.connections,
    rps: m.rps, p50: m.p50, p90: m.p90, p99: m.p99, p999: m.p999, max: m.max,
    requests: m.requests, errors,
    cpuUsPerReq: m.cpuUsPerReq,
    userUsPerReq: m.userUsPerReq,
    sysUsPerReq: m.sysUsPerReq,
    reps: reps.map((r) => ({ rps: Math.round(r.rps), p50: r.p50, p99: r.p99, p999: r.p999, cpuUsPerReq: r.cpuUsPerReq && Math.round(r.cpuUsPerReq * 100) / 100, requests: r.requests, extraRequests: r.extraRequests || undefined })),
  };
}

async function measureLoad(row, ctx, pids) {
  const runner = loadRunner(row, ctx);
  const reps = await timedReps(row, runner, pids);
  return summarise(row, runner, reps);
}

async function measurePaced(row, ctx, pids) {
  const rate = ctx.byId.get(row.rateFrom).rps / 2;
  const connections = opts.connections;
  const runner = { generator: 'paced client', connections, run: (seconds) => runPaced({ url: row.url, rate, seconds, connections }) };
  const reps = await timedReps(row, runner, pids);
  // Paced rows are judged by their p99: the run with the median p99 stands for
  // the row (by req/s, all runs are alike: the rate is fixed), so one run
  // disturbed by the shared machine does not decide the comparison.
  const s = summarise(row, runner, reps, 'p99');
  s.extra = { rate: Math.round(rate), summary: `at ${fmt(rate)} req/s` };
  return s;
}

async function measureIdle(row, ctx, pids) {
  const runner = loadRunner(row, ctx);
  if (runner.unsupported) throw new Error(runner.unsupported);
  const rss = () => pids().reduce((a, p) => a + rssKiB(p), 0);
  await runner.run(Math.max(1, opts.warmup));
  const rssBefore = rss();
  const holder = fork(path.join(HERE, 'lib', 'idle-holder.mjs'), [String(row.idle.port), row.idle.path, String(row.idle.count)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  pinPid(holder.pid, CPUS.load);
  const ask = (type) => new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`idle holder did not answer ${type}`)), 120_000);
    holder.once('message', (m) => { clearTimeout(t); resolve(m); });
    holder.send({ type });
  });
  try {
    const opened = await ask('open');
    if (opened.open < row.idle.count * 0.95) throw new Error(`only ${opened.open} of ${row.idle.count} idle connections opened (${opened.failed} failed)`);
    const rssIdle = rss();
    let before = 0;
    const reps = await timedReps(row, runner, pids, {
      before: async () => { before = (await ask('stats')).responses; },
      after: async () => (await ask('stats')).responses - before,
    });
    const st = await ask('stats');
    const s = summarise(row, runner, reps);
    const perConn = ((rssIdle - rssBefore) * 1024) / opened.open;
    s.extra = {
      idleOpen: opened.open, idleStillOpen: st.open, idleClosedByServer: st.closed,
      rssBeforeMiB: Math.round(rssBefore / 102.4) / 10, rssIdleMiB: Math.round(rssIdle / 102.4) / 10, rssAfterMiB: Math.round(rss() / 102.4) / 10,
      bytesPerIdleConnection: Math.round(perConn),
      summary: `RSS ${fmt(rssBefore / 1024, 1)} → ${fmt(rssIdle / 1024, 1)} MiB with ${opened.open} idle (${fmt(perConn / 1024, 1)} KiB each); ${st.open} still open`,
    };
    return s;
  } finally {
    try { await ask('close'); } catch { holder.kill('SIGKILL'); }
  }
}

// --- BENCHMARKS.md -----------------------------------------------------------------
function updateDoc(out) {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const start = '<!-- bench:results:start -->';
  const end = '<!-- bench:results:end -->';
  const text = existsSync(file) ? readFileSync(file, 'utf8') : `# Benchmarks\n\n${start}\n${end}\n`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) { log(`! ${file} has no ${start} … ${end} section: not updated`); return; }
  const body = `${start}\n${markdownTable(out)}\n${end}`;
  writeFileSync(file, text.slice(0, a) + body + text.slice(b + end.length));
  log(`updated the results section of ${path.relative(process.cwd(), file)}`);
}

