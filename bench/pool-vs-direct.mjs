// A callout (HTTP POST to a local service) made through the worker pool vs
// made directly on the event loop with undici, at concurrency 1 and 64.
// Reports throughput, latency and the main thread's event-loop utilisation
// (ELU: the share of time the event loop was busy — what the pool is meant to
// take off the hot path). Usage: npm run build && node bench/pool-vs-direct.mjs [seconds]
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';

const SECONDS = Number(process.argv[2] ?? 3);

if (process.argv[2] === '--serve') {
  const http = await import('node:http');
  const body = JSON.stringify({ active: true, sub: 'alice', scope: 'orders:read orders:write', exp: 4102444800, client_id: 'gw' });
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  srv.keepAliveTimeout = 30_000;
  srv.listen(0, '127.0.0.1', () => process.send(srv.address().port));
} else {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: 'inherit' });
  const port = await new Promise((r) => child.once('message', r));
  const url = `http://127.0.0.1:${port}/introspect`;
  const { createWorkerPool } = await import('../dist/workers/pool.js');
  const pool = createWorkerPool({ threads: 'auto', maxQueue: 4096 });
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 256 });
  const reqBody = 'token=abcdefghijklmnopqrstuvwxyz0123456789&token_type_hint=access_token';
  const headers = { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic Z3c6c2VjcmV0' };

  const direct = async () => {
    const res = await request(url, { dispatcher: agent, method: 'POST', headers, body: reqBody, signal: AbortSignal.timeout(2000) });
    const text = await res.body.text();
    return JSON.parse(text);
  };
  const viaPool = async () => {
    const a = await pool.run('http', { url, method: 'POST', headers, body: reqBody }, 2000);
    if (!a.ok) throw new Error(a.error);
    return JSON.parse(a.body);
  };

  async function measure(name, fn, concurrency) {
    // warm up connections / threads
    await Promise.all(Array.from({ length: concurrency }, () => fn()));
    const lat = [];
    let n = 0;
    const end = performance.now() + SECONDS * 1000;
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        await fn();
        lat.push(performance.now() - s);
        n++;
      }
    }));
    const secs = (performance.now() - t0) / 1000;
    const elu = performance.eventLoopUtilization(elu0);
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))].toFixed(3);
    const r = { mode: name, concurrency, 'req/s': Math.round(n / secs), 'p50 ms': q(0.5), 'p99 ms': q(0.99), 'main ELU': elu.utilization.toFixed(2), 'main busy µs/req': Math.round((elu.active * 1000) / n) };
    console.log(JSON.stringify(r));
    return r;
  }

  const rows = [];
  for (const c of [1, 64]) {
    rows.push(await measure('direct', direct, c));
    rows.push(await measure('pool', viaPool, c));
  }
  console.table(rows);
  for (const c of [1, 64]) {
    const d = rows.find((r) => r.mode === 'direct' && r.concurrency === c);
    const p = rows.find((r) => r.mode === 'pool' && r.concurrency === c);
    console.log(`concurrency ${c}: pool/direct throughput ${(p['req/s'] / d['req/s']).toFixed(2)}x, main-thread busy per callout ${p['main busy µs/req']}µs vs ${d['main busy µs/req']}µs`);
  }
  await pool.close();
  await agent.close();
  child.kill();
}
