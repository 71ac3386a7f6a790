import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createWorkerPool, PoolOverloadedError, PoolTimeoutError } from '../../src/workers/pool.js';
import type { CalloutAnswer } from '../../src/workers/callout.js';

let server: http.Server;
let base = '';
const releases: (() => void)[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/hold') {
      // Answers only when the test releases it (or the socket is closed).
      releases.push(() => res.end('late'));
      return;
    }
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, body, auth: req.headers.authorization ?? '' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const r of releases) r();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('worker pool', () => {
  it('starts no thread until the first task, then runs an HTTP callout on a worker', async () => {
    const pool = createWorkerPool({ threads: 1, maxQueue: 16 });
    expect(pool.started).toBe(false);
    const a = await pool.run<CalloutAnswer>('http', { url: `${base}/x`, method: 'POST', headers: { authorization: 'Basic abc' }, body: 'token=t' }, 10_000);
    expect(pool.started).toBe(true);
    expect(a.ok).toBe(true);
    if (!a.ok) return;
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body)).toEqual({ method: 'POST', body: 'token=t', auth: 'Basic abc' });
    expect(pool.stats().completed).toBe(1);
    await pool.close();
  });

  it('start() brings the threads up before any task, so the first callout pays no start-up', async () => {
    const pool = createWorkerPool({ threads: 2, maxQueue: 16 });
    await pool.start();
    expect(pool.started).toBe(true);
    expect(pool.stats()).toMatchObject({ queued: 0, running: 0, completed: 0 });
    await pool.close();
  });

  it('rejects at the deadline without killing the worker, and keeps serving', async () => {
    const pool = createWorkerPool({ threads: 1, maxQueue: 16 });
    await pool.start();
    await expect(pool.run('http', { url: `${base}/hold`, method: 'GET', headers: {} }, 150)).rejects.toBeInstanceOf(PoolTimeoutError);
    expect(pool.stats().timeouts).toBe(1);
    const a = await pool.run<CalloutAnswer>('http', { url: `${base}/ok`, method: 'GET', headers: {} }, 10_000);
    expect(a.ok).toBe(true);
    await pool.close();
  });

  it('refuses work beyond the bounded queue with an overload error', async () => {
    while (releases.length) releases.shift()!();
    const pool = createWorkerPool({ threads: 1, maxQueue: 1, tasksPerThread: 1 });
    await pool.start();
    const held = [
      pool.run('http', { url: `${base}/hold`, method: 'GET', headers: {} }, 5000),
      pool.run('http', { url: `${base}/hold`, method: 'GET', headers: {} }, 5000),
    ];
    // Wait until the first task occupies the only slot and the second sits in the queue.
    for (let i = 0; i < 200 && !(pool.stats().queued === 1); i++) await new Promise((r) => setTimeout(r, 10));
    expect(pool.stats().queued).toBe(1);
    await expect(pool.run('http', { url: `${base}/x`, method: 'GET', headers: {} }, 5000)).rejects.toBeInstanceOf(PoolOverloadedError);
    expect(pool.stats().rejected).toBe(1);
    // Release held answers as they arrive until both tasks settled (bounded).
    let settled = 0;
    held.forEach((h) => void h.then(() => settled++, () => settled++));
    for (let i = 0; i < 500 && settled < 2; i++) {
      while (releases.length) releases.shift()!();
      await new Promise((r) => setTimeout(r, 10));
    }
    const answers = await Promise.all(held);
    expect(answers.every((a) => (a as CalloutAnswer).ok)).toBe(true);
    await pool.close();
  });

  it('reports a refused connection and a garbage answer as values', async () => {
    const pool = createWorkerPool({ threads: 1, maxQueue: 16 });
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const refused = await pool.run<CalloutAnswer>('http', { url: `http://127.0.0.1:${deadPort}/`, method: 'GET', headers: {} }, 2000);
    expect(refused).toMatchObject({ ok: false, error: 'refused' });

    const garbage = net.createServer((s) => s.end('SSH-2.0-not-http\r\n\r\n', () => s.destroy()));
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    const g = await pool.run<CalloutAnswer>('http', { url: `http://127.0.0.1:${(garbage.address() as AddressInfo).port}/`, method: 'GET', headers: {} }, 2000);
    expect(g.ok).toBe(false);
    if (!g.ok) expect(g.error).toBe('protocol');
    await new Promise((r) => garbage.close(r));
    await pool.close();
  });
});

describe('inert pool (portcullis check)', () => {
  it('starts no thread and refuses tasks', async () => {
    const pool = createWorkerPool({ threads: 1, maxQueue: 4, inert: true });
    await pool.start();
    expect(pool.started).toBe(false);
    await expect(pool.run('http', { url: 'http://127.0.0.1:9/', method: 'GET', headers: {} }, 1000)).rejects.toBeInstanceOf(PoolOverloadedError);
    await pool.close();
  });
});
