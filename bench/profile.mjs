#!/usr/bin/env node
// Where the gateway's time goes: runs one scenario's gateway under
// `node --cpu-prof` (same layout as the bench: wrk + nginx upstream on CPU 0,
// gateway on CPU 1), then summarises the profile — top frames by self time
// and the share of each area (uWS, undici, our src/, node internals, GC).
// Usage: node bench/profile.mjs [ROW_ID=pass] [--duration S] [--top N] [--json] [--no-strace]
// Writes bench/results/profile-ROW.cpuprofile (open it in Chrome DevTools or
// speedscope for a flame graph) and bench/results/profile-ROW.txt.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { cpuMicros } from './lib/proc.mjs';
import { scenarios } from './lib/scenarios.mjs';
import { CLI, startAuthzService, startUpstream } from './lib/servers.mjs';
import { CPUS, ensureTools, spawnPinned, stopChild } from './lib/system.mjs';
import { prepareTokens } from './lib/tokens.mjs';
import { runWrk, writeLua } from './lib/wrk.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RESULTS = path.join(HERE, 'results');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const rowId = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--') && args[i - 1] !== '--json')) ?? 'pass';
const seconds = Number(opt('--duration', 10));
const topN = Number(opt('--top', 30));
const log = (s) => process.stderr.write(`${s}\n`);

const tokens = prepareTokens(path.join(RESULTS, 'cache'), log);
const row = scenarios(tokens).find((r) => r.id === rowId);
if (!row || row.system !== 'portcullis' || row.kind !== 'wrk') {
  log(`profile: "${rowId}" is not a Portcullis wrk row (try: pass, jwt-hit, jwt-3-limits, flood-401 …; see node bench/run.mjs --list)`);
  process.exit(2);
}
const tools = ensureTools(['taskset', 'wrk', 'nginx'], log);
if (!tools.wrk || !tools.nginx) { log('profile: needs wrk and nginx'); process.exit(1); }

const prefix = mkdtempSync(path.join(os.tmpdir(), 'portcullis-profile-'));
const profDir = path.join(prefix, 'prof');
mkdirSync(profDir);
const upstream = await startUpstream(tools.nginx, prefix);
// Rows calling the external authz / introspection service get it, pinned as in the bench.
const authz = row.needs?.includes('authz') ? await startAuthzService(prefix) : null;
const cfgFile = path.join(prefix, 'gateway.yaml');
writeFileSync(cfgFile, stringify(row.gateway));
async function startGw(nodeArgs) {
  const child = spawnPinned(CPUS.sut, process.execPath, ['--no-allocation-site-pretenuring', ...nodeArgs, CLI, 'start', '--config', cfgFile], {
    cwd: prefix, env: { ...process.env, PORTCULLIS_LOG_FORMAT: 'json' },
  });
  let text = '';
  child.stdout.on('data', (c) => { text = (text + c).slice(-4000); });
  child.stderr.on('data', (c) => { text = (text + c).slice(-4000); });
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`gateway did not start: ${text.slice(-400)}`)), 20_000);
    const check = () => { if (text.includes('portcullis listening')) { clearTimeout(t); resolve(); } };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.once('exit', (c) => reject(new Error(`gateway exited (${c}): ${text.slice(-400)}`)));
  });
  child.removeAllListeners('exit');
  child.output = () => text;
  return child;
}
const gw = await startGw(['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=100']);

if (row.prepare) await row.prepare(row);
const lua = writeLua(prefix, row.id, row.load ?? {});
log(`profiling ${row.id}: ${seconds} s of wrk -t1 -c64 against the gateway under --cpu-prof …`);
await runWrk({ wrk: tools.wrk, url: row.url, lua, seconds: 2, connections: 64 });
// V8 stamps samples with the system's monotonic clock in µs, as hrtime here:
// only samples inside the timed run are summarised (not start-up, not warm-up).
const t0 = Number(process.hrtime.bigint() / 1000n);
const c0 = cpuMicros(gw.pid);
const r = await runWrk({ wrk: tools.wrk, url: row.url, lua, seconds, connections: 64 });
const c1 = cpuMicros(gw.pid);
const t1 = Number(process.hrtime.bigint() / 1000n);
log(`${Math.round(r.rps)} req/s, ${((c1 - c0) / r.requests).toFixed(1)} µs/req under the profiler (the profiler itself adds some)`);

await stopChild(gw, 10_000);
// Syscalls per request (strace -c attached for a short run; strace slows the
// process, but the count per request does not depend on speed).
let syscalls = null;
if (!args.includes('--no-strace') && ensureTools(['strace'], log).strace) {
  // A gateway without the profiler: --cpu-prof's sampling signals would show up as syscalls.
  const plain = await startGw([]);
  await runWrk({ wrk: tools.wrk, url: row.url, lua, seconds: 2, connections: 64 });
  const sfile = path.join(prefix, 'strace.txt');
  const st = spawn('strace', ['-c', '-f', '-p', String(plain.pid), '-o', sfile], { stdio: 'ignore' });
  await new Promise((res) => setTimeout(res, 500));
  const sr = await runWrk({ wrk: tools.wrk, url: row.url, lua, seconds: 3, connections: 64 });
  st.kill('SIGINT');
  await new Promise((res) => st.once('exit', res));
  const rowsS = [];
  for (const l of readFileSync(sfile, 'utf8').split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)\s*$/.exec(l);
    if (m && m[3] !== 'total') rowsS.push({ name: m[3], perReq: Number(m[1]) / sr.requests });
  }
  rowsS.sort((a, b) => b.perReq - a.perReq);
  await stopChild(plain, 10_000);
  syscalls = { requests: sr.requests, total: rowsS.reduce((a, b) => a + b.perReq, 0), top: rowsS.filter((x) => x.perReq >= 0.01) };
}
upstream.kill('SIGTERM');
if (authz) await authz.stop();

// CPU.<date>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread; worker threads' profiles are kept beside it.
const profFiles = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
const file = profFiles.find((f) => f.split('.')[3] === '0') ?? profFiles[0];
mkdirSync(RESULTS, { recursive: true });
for (const f of profFiles) if (f !== file) writeFileSync(path.join(RESULTS, `profile-${row.id}-worker-${f.split('.')[3]}.cpuprofile`), readFileSync(path.join(profDir, f)));
if (!file) { log(`no .cpuprofile written (gateway output: ${gw.output().slice(-300)})`); process.exit(1); }
const prof = JSON.parse(readFileSync(path.join(profDir, file), 'utf8'));
mkdirSync(RESULTS, { recursive: true });
const saved = path.join(RESULTS, `profile-${row.id}.cpuprofile`);
writeFileSync(saved, JSON.stringify(prof));
rmSync(prefix, { recursive: true, force: true });

// --- summary -----------------------------------------------------------------
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const dt = prof.timeDeltas;
const inWindow = (lo, hi) => {
  const m = new Map();
  let t = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    t += dt[i] ?? 0;
    if (t >= lo && t <= hi) m.set(prof.samples[i], (m.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0));
  }
  return m;
};
let self = inWindow(t0, t1);
let windowNote = 'timed run only';
if (self.size === 0) { self = inWindow(-Infinity, Infinity); windowNote = 'whole process (the profile clock did not line up with the run)'; }
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idleIds = new Set(prof.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
const idle = [...idleIds].reduce((a, id) => a + (self.get(id) ?? 0), 0);
const busy = total - idle;

function area(cf) {
  const u = cf.url || '';
  const f = cf.functionName;
  if (f === '(garbage collector)') return 'GC';
  if (f === '(program)') return '(program): native, incl. uWS C++ and syscalls';
  if (f === '(idle)') return 'idle';
  if (/uwebsockets/i.test(u)) return 'uWS JS wrapper';
  if (/node_modules\/undici/.test(u)) return 'undici';
  if (/node_modules\//.test(u)) return `dependency ${u.replace(/.*node_modules\//, '').split('/')[0]}`;
  if (/\/dist\//.test(u)) return `portcullis ${u.replace(/.*\/dist\//, 'dist/').replace(/\/[^/]+$/, '/')}`;
  if (u.startsWith('node:') || u === '') return f ? 'node internals / native builtins' : '(anonymous native)';
  return 'other';
}
const frames = new Map();
const areas = new Map();
for (const [id, t] of self) {
  if (idleIds.has(id)) continue;
  const cf = byId.get(id).callFrame;
  const key = `${cf.functionName || '(anonymous)'}  ${(cf.url || '').replace(/^file:\/\/.*\/(dist|node_modules)\//, '$1/')}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
  frames.set(key, (frames.get(key) ?? 0) + t);
  const a = area(cf);
  areas.set(a, (areas.get(a) ?? 0) + t);
}
const pct = (t) => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
const lines = [
  `profile of ${row.id} (${row.scenario}): ${Math.round(r.rps)} req/s, ${((c1 - c0) / r.requests).toFixed(1)} µs/req under the profiler; ${windowNote}; busy ${(100 * busy / total).toFixed(0)}% of the sampled time; shares below are of busy time`,
  '',
  'by area (self time):',
  ...[...areas].sort((a, b) => b[1] - a[1]).filter(([, t]) => t / busy >= 0.001).map(([a, t]) => `  ${pct(t)}  ${a}`),
  '',
  `top ${topN} frames (self time):`,
  ...[...frames].sort((a, b) => b[1] - a[1]).slice(0, topN).map(([k, t]) => `  ${pct(t)}  ${k}`),
];
if (syscalls) {
  lines.push('', `syscalls per request (strace -c over ${syscalls.requests} requests): ${syscalls.total.toFixed(2)}`,
    ...syscalls.top.map((x) => `  ${x.perReq.toFixed(2).padStart(6)}  ${x.name}`));
}
const text = lines.join('\n');
writeFileSync(path.join(RESULTS, `profile-${row.id}.txt`), `${text}\n`);
if (args.includes('--json')) process.stdout.write(`${JSON.stringify({ row: row.id, rps: r.rps, areas: Object.fromEntries(areas), frames: Object.fromEntries(frames) })}\n`);
else process.stdout.write(`${text}\n\nsaved ${path.relative(process.cwd(), saved)} (open in Chrome DevTools → Performance, or speedscope)\n`);
