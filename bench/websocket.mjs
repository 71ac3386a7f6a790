// WebSocket relay: messages/s and gateway CPU µs per relayed message at 64 and
// 1,000 sockets, through the gateway vs straight to the upstream, and the
// gateway's resident memory per open socket. Each socket runs a closed loop
// (send 64 bytes, wait for the echo, send again); one echo is two relayed
// messages (client → upstream, upstream → client). The upstream (`ws` echo
// server) runs in its own process; the clients (`ws`) in this one, so on a
// small machine the clients may be the limit: compare the two columns, not the
// absolute figures. Bounded: about 6 s per run, under 60 s in all.
// Usage: npm run build && node bench/websocket.mjs [seconds-per-run]
// (WS_BENCH_PROF=DIR writes a CPU profile of the gateway into DIR.)
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { cpuMicros, rssKiB } from './lib/proc.mjs';

const SECONDS = Number(process.argv[2] ?? 5);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(HERE, '..', 'dist', 'cli.js');
const PAYLOAD = Buffer.alloc(64, 97);

if (process.argv[2] === '--upstream') {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false }, () => process.send(wss.address().port));
  const small = Buffer.alloc(64, 98);
  wss.on('connection', (ws, req) => {
    if (req.url === '/push') {
      // A live feed: bursts of 32 small messages while the socket keeps up, until the client goes.
      const tick = () => {
        if (ws.readyState !== 1) return;
        if (ws.bufferedAmount < 64 * 1024) for (let i = 0; i < 32; i++) ws.send(small, { binary: true });
        setTimeout(tick, 1);
      };
      tick();
      return;
    }
    ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary }));
  });
} else {
  const upstream = fork(fileURLToPath(import.meta.url), ['--upstream'], { stdio: 'inherit' });
  const upPort = await new Promise((r) => upstream.once('message', r));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-wsbench-'));
  const cfg = path.join(dir, 'portcullis.yaml');
  writeFileSync(cfg, [
    'server:', '  listen: [{ host: 127.0.0.1, port: 0 }]', '  threads: 1',
    'access_log: { enabled: false }',
    'upstreams:', `  echo: { targets: ["http://127.0.0.1:${upPort}"] }`,
    'routes:', '  - { name: live, match: { path_prefix: / }, anonymous: true, upstream: echo, websocket: { idle_timeout: 5m } }', '',
  ].join('\n'));
  // Hard bound on the whole run, whatever hangs.
  const deadline = setTimeout(() => {
    process.stderr.write('[bench] gave up after 120 s\n');
    gw.kill('SIGKILL'); upstream.kill('SIGKILL'); process.exit(1);
  }, 120_000);
  deadline.unref();
  const gw = spawn(process.execPath, [...(process.env.WS_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.WS_BENCH_PROF}`] : []), '--no-allocation-site-pretenuring', CLI, 'start', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORTCULLIS_LOG_FORMAT: 'json' } });
  const gwPort = await new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`gateway did not start: ${buf}`)), 20_000);
    const on = (c) => {
      buf += c;
      const m = /"listeners":\["http:\/\/127\.0\.0\.1:(\d+)"/.exec(buf);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    };
    gw.stderr.on('data', on);
    gw.stdout.on('data', on);
  });

  const openAll = async (url, n) => {
    const out = [];
    for (let i = 0; i < n; i += 100) {
      out.push(...await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => new Promise((resolve, reject) => {
        const s = new WebSocket(url, { perMessageDeflate: false });
        s.once('open', () => resolve(s));
        s.once('error', reject);
      }))));
    }
    return out;
  };
  // A socket that does not finish its close handshake within 2 s is cut (bounded runtime).
  const closeAll = (socks) => Promise.all(socks.map((s) => new Promise((r) => {
    const t = setTimeout(() => s.terminate(), 2000);
    s.once('close', () => { clearTimeout(t); r(); });
    s.close();
  })));

  /** Closed loop on every socket for `seconds`; returns echoes/s and the gateway's CPU µs per relayed message. */
  const run = async (url, n, seconds) => {
    const socks = await openAll(url, n);
    let echoes = 0;
    let running = true;
    for (const s of socks) {
      s.on('message', () => { echoes++; if (running) s.send(PAYLOAD); });
    }
    // Warm-up, then the timed window.
    for (const s of socks) s.send(PAYLOAD);
    await new Promise((r) => setTimeout(r, 1000));
    const e0 = echoes;
    const c0 = cpuMicros(gw.pid);
    const u0 = cpuMicros(upstream.pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const dt = (performance.now() - t0) / 1000;
    const c1 = cpuMicros(gw.pid);
    const u1 = cpuMicros(upstream.pid);
    const e = echoes - e0;
    running = false;
    await new Promise((r) => setTimeout(r, 200));
    await closeAll(socks);
    return { perSec: e / dt, cpuPerMsg: (c1 - c0) / (2 * e), upstreamPerEcho: (u1 - u0) / e };
  };

  // Memory per open socket first, on a fresh gateway (after load, V8 reuses a heap already grown): 1,000 idle sockets.
  await new Promise((r) => setTimeout(r, 500));
  const rss0 = rssKiB(gw.pid);
  const idle = await openAll(`ws://127.0.0.1:${gwPort}/`, 1000);
  await new Promise((r) => setTimeout(r, 500));
  const rss1 = rssKiB(gw.pid);
  await closeAll(idle);

  /** Upstream pushes to every socket for `seconds`; returns messages/s received and the gateway's CPU µs per message. */
  const push = async (url, n, seconds) => {
    const socks = await openAll(url, n);
    let got = 0;
    for (const s of socks) s.on('message', () => { got++; });
    await new Promise((r) => setTimeout(r, 1000));
    const g0 = got;
    const c0 = cpuMicros(gw.pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const dt = (performance.now() - t0) / 1000;
    const c1 = cpuMicros(gw.pid);
    const g = got - g0;
    await closeAll(socks);
    return { perSec: g / dt, cpuPerMsg: (c1 - c0) / g };
  };

  const rows = [];
  const step = (m) => process.stderr.write(`[bench] ${m}\n`);
  for (const n of [64, 1000]) {
    step(`echo, ${n} sockets, direct`);
    const direct = await run(`ws://127.0.0.1:${upPort}/`, n, SECONDS);
    step(`echo, ${n} sockets, via the gateway`);
    const via = await run(`ws://127.0.0.1:${gwPort}/`, n, SECONDS);
    rows.push({ sockets: n, direct, via });
  }
  step('push, 64 sockets');
  const pushDirect = await push(`ws://127.0.0.1:${upPort}/push`, 64, SECONDS);
  const pushVia = await push(`ws://127.0.0.1:${gwPort}/push`, 64, SECONDS);

  console.log(`WebSocket relay, 64-byte messages, closed loop per socket, ${SECONDS} s per run (${os.cpus().length} CPUs)`);
  console.log('| sockets | direct echoes/s | via gateway echoes/s | ratio | gateway CPU µs / relayed message | upstream (ws server) CPU µs / echo, direct |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.sockets} | ${Math.round(r.direct.perSec)} | ${Math.round(r.via.perSec)} | ${(r.via.perSec / r.direct.perSec).toFixed(2)} | ${r.via.cpuPerMsg.toFixed(1)} | ${r.direct.upstreamPerEcho.toFixed(1)} |`);
  }
  console.log(`upstream push (bursts of 64-byte messages) to 64 sockets: direct ${Math.round(pushDirect.perSec)} msg/s, via gateway ${Math.round(pushVia.perSec)} msg/s (${(pushVia.perSec / pushDirect.perSec).toFixed(2)}), gateway CPU ${pushVia.cpuPerMsg.toFixed(2)} µs/message`);
  console.log(`gateway RSS per open socket: ${((rss1 - rss0) / 1000).toFixed(1)} KiB (1,000 idle sockets: ${rss0} → ${rss1} KiB)`);
  gw.kill('SIGTERM');
  upstream.kill('SIGTERM');
}
