#!/usr/bin/env node
// What a proxied request costs at the floor: nginx, Portcullis pass-through,
// and minimal single-file uWS proxies (undici dispatch; a hand-written client
// over net), measured in one run with the bench's layout (wrk + nginx upstream
// on CPU 0, the system under test on CPU 1). Rounds are interleaved so drift
// hits every system alike. Usage: node bench/feasibility.mjs [--rounds N] [--duration S] [--only a,b]
// --deny: the floor of a rejection instead — HAProxy's and Portcullis' 403 for a
// denied network beside uWS answering 403 itself, with and without reading the
// peer address (ratios to HAProxy).
// FEAS_BASE=DIR adds "portcullis-base": the same config on another build's
// dist/ (e.g. a copy of dist/ before a change), for before/after in one run.
// --row ID: a bench row's Portcullis config and load (bench/lib/scenarios.mjs),
// this build against FEAS_BASE's (ratios to portcullis-base).
// --trace: pass-through (or --row ID) with tracing off, on at sample 0 and on at
// sample 1, exporting to a local OTLP/HTTP receiver that discards (ratios to tracing off).
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSplitOf } from './lib/proc.mjs';
import { PORTS, startNginxPeer, startPortcullis, startUpstream } from './lib/servers.mjs';
import { CPUS, ensureTools, spawnPinned, stopChild, waitPort } from './lib/system.mjs';
import { runWrk, writeLua } from './lib/wrk.mjs';
import { scenarios } from './lib/scenarios.mjs';
import { prepareTokens } from './lib/tokens.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
const rounds = Number(opt('--rounds', 3));
const seconds = Number(opt('--duration', 5));
const only = opt('--only', '')?.split(',').filter(Boolean) ?? [];
const deny = args.includes('--deny');
const rowId = opt('--row', '');
const traced = args.includes('--trace');
const log = (s) => process.stderr.write(`${s}\n`);

const tools = ensureTools(['taskset', 'wrk', 'nginx', ...(deny ? ['haproxy'] : [])], log);
const prefix = mkdtempSync(path.join(os.tmpdir(), 'portcullis-feas-'));
const upstream = await startUpstream(tools.nginx, prefix);
let row = null;
if (rowId !== '') {
  row = scenarios(prepareTokens(path.join(HERE, 'results', 'cache'), log)).find((r) => r.id === rowId && r.system === 'portcullis' && r.gateway);
  if (!row) { log(`feasibility: no Portcullis row "${rowId}" (node bench/run.mjs --list)`); process.exit(2); }
  if (row.prepare) await row.prepare(row);
}
// --trace: a receiver that reads and discards every export (it runs in this process, off the SUT's CPU).
let receiver = null;
if (traced) {
  receiver = http.createServer((req, res) => { req.on('data', () => {}); req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}')); });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
}
const withTracing = (cfg, sample) => ({ ...cfg, tracing: { otlp: `http://127.0.0.1:${receiver.address().port}/v1/traces`, sample } });
const lua = row ? writeLua(prefix, row.id, row.load ?? {}) : writeLua(prefix, 'plain', {});
const PORT = PORTS.gateway;

const passCfg = (client) => ({
  server: { listen: [{ host: '127.0.0.1', port: PORT }], threads: 1 },
  upstreams: { up: { targets: [`http://127.0.0.1:${PORTS.upstream}`], ...(client ? { client } : {}) } },
  routes: [{ name: 'pass', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' }],
  access_log: { enabled: false }, // as in the bench's rows (the access log has its own row there)
});
async function minimal(file, env = {}) {
  const child = spawnPinned(CPUS.sut, process.execPath, [path.join(HERE, 'feasibility', file), String(PORT), String(PORTS.upstream)], { cwd: path.join(HERE, '..'), env: { ...process.env, ...env } });
  child.stdout.on('data', () => {});
  child.stderr.on('data', (c) => process.stderr.write(c));
  await waitPort(PORT);
  return { pids: () => [child.pid], stop: () => stopChild(child) };
}
function baseSystem(cfg) {
  const dir = process.env.FEAS_BASE;
  if (!dir) return [];
  return [{ id: 'portcullis-base', port: PORT, start: () => startPortcullis(cfg(), prefix, 'base', { cli: path.resolve(dir, 'cli.js') }) }];
}
const denyCfg = () => ({
  server: { listen: [{ host: '127.0.0.1', port: PORT }], threads: 1 },
  upstreams: { up: { targets: [`http://127.0.0.1:${PORTS.upstream}`] } },
  routes: [{ name: 'deny', match: { path_prefix: '/' }, anonymous: true, authorize: { ip_deny: ['127.0.0.0/8'] }, upstream: 'up' }],
  access_log: { enabled: false },
});
async function haproxyDeny() {
  const conf = path.join(prefix, 'haproxy-deny.cfg');
  writeFileSync(conf, `global\n  nbthread 1\n  maxconn 9000\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 300s\n  timeout server 30s\n  timeout http-keep-alive 300s\n  option http-keep-alive\nfrontend deny\n  bind 127.0.0.1:${PORT}\n  http-request deny deny_status 403 if { src 127.0.0.0/8 }\n  default_backend up\nbackend up\n  server up1 127.0.0.1:${PORTS.upstream}\n`);
  const child = spawnPinned(CPUS.sut, tools.haproxy, ['-db', '-f', conf]);
  child.stdout.on('data', () => {}); child.stderr.on('data', () => {});
  await waitPort(PORT);
  return { pids: () => [child.pid], stop: () => stopChild(child) };
}
const denySystems = [
  { id: 'haproxy', port: PORT, start: haproxyDeny },
  { id: 'portcullis', port: PORT, start: () => startPortcullis(denyCfg(), prefix, 'deny') },
  ...baseSystem(denyCfg),
  { id: 'uws-403', port: PORT, start: () => minimal('uws-respond.mjs') },
  { id: 'uws-403+ip', port: PORT, start: () => minimal('uws-respond.mjs', { FEAS_IP: '1' }) },
  { id: 'uws-403+ip+reads', port: PORT, start: () => minimal('uws-respond.mjs', { FEAS_IP: '1', FEAS_READS: '1' }) },
  { id: 'uws-403+ip+bufreads', port: PORT, start: () => minimal('uws-respond.mjs', { FEAS_IP: '1', FEAS_READS: 'buf' }) },
];
const rowSystems = () => [
  { id: 'portcullis', port: PORT, url: row.url, start: () => startPortcullis(row.gateway, prefix, 'row') },
  ...baseSystem(() => row.gateway).map((s) => ({ ...s, url: row.url })),
];
const traceSystems = (cfg, url) => [
  { id: 'portcullis', port: PORT, url, start: () => startPortcullis(cfg(), prefix, 'untraced') },
  { id: 'portcullis-trace0', port: PORT, url, start: () => startPortcullis(withTracing(cfg(), 0), prefix, 'trace0') },
  { id: 'portcullis-trace1', port: PORT, url, start: () => startPortcullis(withTracing(cfg(), 1), prefix, 'trace1') },
];
const systems = traced ? traceSystems(row ? () => row.gateway : passCfg, row?.url) : row ? rowSystems() : deny ? denySystems.filter((s) => only.length === 0 || only.includes(s.id)) : [
  { id: 'nginx', port: PORTS.nginx, start: () => startNginxPeer(tools.nginx, prefix) },
  { id: 'portcullis', port: PORT, start: () => startPortcullis(passCfg(), prefix, 'pass') },
  ...baseSystem(passCfg),
  // V8 flags (FEAS_FLAGS="--single-threaded-gc;--max-semi-space-size=64"): one system per set.
  ...(process.env.FEAS_FLAGS ?? '').split(';').filter(Boolean).map((f) => ({ id: `portcullis ${f}`, port: PORT, start: () => startPortcullis(passCfg(), prefix, 'flags', { nodeArgs: f.split(' ') }) })),
  { id: 'portcullis-undici', port: PORT, start: () => startPortcullis(passCfg('undici'), prefix, 'undici') },
  { id: 'uws+undici', port: PORT, start: () => minimal('uws-undici.mjs') },
  { id: 'uws+net', port: PORT, start: () => minimal('uws-net.mjs') },
  // The same with ~20 µs of busy work per request: does the kernel share grow with user time (wakeups)?
  { id: 'uws+net+busy20', port: PORT, start: () => minimal('uws-net.mjs', { FEAS_BUSY_US: '20' }) },
].filter((s) => only.length === 0 || only.includes(s.id) || s.id.startsWith('portcullis --'));

const results = new Map(systems.map((s) => [s.id, []]));
try {
  for (let r = 0; r < rounds; r++) {
    for (const s of systems) {
      const sys = await s.start();
      const url = s.url ?? `http://127.0.0.1:${s.port}/`;
      await runWrk({ wrk: tools.wrk, url, lua, seconds: 1, connections: 64, pin: CPUS.load });
      const before = cpuSplitOf(sys.pids());
      const w = await runWrk({ wrk: tools.wrk, url, lua, seconds, connections: 64, pin: CPUS.load });
      const after = cpuSplitOf(sys.pids());
      await sys.stop();
      const us = (after.user + after.sys - before.user - before.sys) / w.requests;
      results.get(s.id).push({ rps: w.rps, us, user: (after.user - before.user) / w.requests, sys: (after.sys - before.sys) / w.requests, errors: w.socketErrors + w.non2xx });
      log(`round ${r + 1} ${s.id.padEnd(18)} ${Math.round(w.rps).toString().padStart(6)} req/s  ${us.toFixed(1).padStart(6)} µs/req (user ${((after.user - before.user) / w.requests).toFixed(1)}, sys ${((after.sys - before.sys) / w.requests).toFixed(1)})${w.socketErrors + w.non2xx ? `  errors ${w.socketErrors + w.non2xx}` : ''}`);
    }
  }
} finally {
  await stopChild(upstream);
  receiver?.close();
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
// The machine's drift moves whole rounds: the ratio to nginx within a round is the steadier figure.
const BASE = traced ? 'portcullis' : row ? (results.has('portcullis-base') ? 'portcullis-base' : 'portcullis') : deny ? 'haproxy' : 'nginx';
const ratioMed = (id) => { const ng = results.get(BASE); return ng ? med(results.get(id).map((x, i) => x.us / ng[i].us)) : NaN; };
const ng = results.get(BASE) ? med(results.get(BASE).map((x) => x.us)) : NaN;
console.log(`\nsystem              median µs/req   vs ${BASE}   median of per-round ratios   (user / sys)`);
for (const [id, xs] of results) {
  const m = med(xs.map((x) => x.us));
  console.log(`${id.padEnd(20)}${m.toFixed(1).padStart(10)}   ${(m / ng).toFixed(2).padStart(7)}×   ${ratioMed(id).toFixed(2).padStart(10)}×   (${med(xs.map((x) => x.user)).toFixed(1)} / ${med(xs.map((x) => x.sys)).toFixed(1)})`);
}
