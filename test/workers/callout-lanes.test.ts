// The callout lanes and the workers' HTTP/1.1 client against real servers on
// 127.0.0.1: many calls share one message per turn and one keep-alive
// connection at a time, answers keep their framing rules and bounds, and the
// bounds Piscina used to enforce (tasks per thread, max_queue, deadline) hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createWorkerPool, PoolTimeoutError } from '../../src/workers/pool.js';
import type { CalloutAnswer } from '../../src/workers/callout.js';
import { DeadlineQueue } from '../../src/workers/deadline-queue.js';

let server: http.Server;
let base = '';
const sockets = new Set<net.Socket>();
let connections = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (req.url === '/chunked') {
        res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': 'a=b', 'x-rep': ['1', '2'] });
        res.write('über ');
        setTimeout(() => res.end('alles'), 5);
        return;
      }
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(5000));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url, body, xf: req.headers['x-forwarded-uri'] ?? null, len: req.headers['content-length'] ?? null }));
    });
  });
  server.on('connection', (s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const call = (path: string, extra: Record<string, unknown> = {}) => ({ url: `${base}${path}`, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', ...extra });

describe('callout lanes', () => {
  it('answers a burst of calls made in one turn, each its own, over few keep-alive connections', async () => {
    const pool = createWorkerPool({ threads: 1, maxQueue: 512, tasksPerThread: 64 });
    await pool.start();
    const before = connections;
    const n = 200;
    const all = await Promise.all(Array.from({ length: n }, (_, i) => pool.run<CalloutAnswer>('http', call(`/c${i}`, { body: `{"i":${i},"t":"grüße"}`, headers: { 'x-forwarded-uri': `/p${i}` } }), 10_000)));
    all.forEach((a, i) => {
      expect(a.ok).toBe(true);
      if (!a.ok) return;
      const j = JSON.parse(a.body) as { url: string; body: string; xf: string; len: string };
      expect(j).toEqual({ url: `/c${i}`, body: `{"i":${i},"t":"grüße"}`, xf: `/p${i}`, len: String(Buffer.byteLength(`{"i":${i},"t":"grüße"}`)) });
    });
    // At most tasksPerThread calls are in flight, so at most that many connections were opened.
    expect(connections - before).toBeLessThanOrEqual(64);
    // A second burst reuses them.
    const mid = connections;
    await Promise.all(Array.from({ length: 20 }, () => pool.run<CalloutAnswer>('http', call('/again'), 10_000)));
    expect(connections).toBe(mid);
    expect(pool.stats()).toMatchObject({ queued: 0, running: 0, completed: n + 20, timeouts: 0, rejected: 0 });
    await pool.close();
  });

  it('opens one lane per worker thread and spreads calls over them', async () => {
    const pool = createWorkerPool({ threads: 2, maxQueue: 512, tasksPerThread: 8 });
    await pool.start();
    const answers = await Promise.all(Array.from({ length: 64 }, (_, i) => pool.run<CalloutAnswer>('http', call(`/s${i}`), 10_000)));
    expect(answers.every((a) => a.ok)).toBe(true);
    await pool.close();
  });

  it('reads chunked answers, joins repeated headers, drops set-cookie, bounds the body', async () => {
    const pool = createWorkerPool({ threads: 1, maxQueue: 16 });
    const a = await pool.run<CalloutAnswer>('http', call('/chunked', { method: 'GET', body: undefined }), 5000);
    expect(a.ok).toBe(true);
    if (a.ok) {
      expect(a.body).toBe('über alles');
      expect(a.headers['x-rep']).toBe('1, 2');
      expect(a.headers['set-cookie']).toBeUndefined();
    }
    const big = await pool.run<CalloutAnswer>('http', call('/big', { maxBody: 4096 }), 5000);
    expect(big).toMatchObject({ ok: false, error: 'too_large' });
    // The connection of a refused answer is not reused; the next call still works.
    const ok = await pool.run<CalloutAnswer>('http', call('/after'), 5000);
    expect(ok.ok).toBe(true);
    await pool.close();
  });

  it('retries once on a fresh connection when the service closed an idle keep-alive one', async () => {
    const pool = createWorkerPool({ threads: 1, maxQueue: 16 });
    expect((await pool.run<CalloutAnswer>('http', call('/one'), 5000)).ok).toBe(true);
    // The service drops its idle connections (as at its keep-alive timeout).
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 20));
    const again = await pool.run<CalloutAnswer>('http', call('/two'), 5000);
    expect(again.ok).toBe(true);
    await pool.close();
  });

  it('reads an answer delimited by the connection close, and refuses bytes nobody asked for', async () => {
    const raw = net.createServer((s) => {
      s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nuntil close'));
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/`;
    const pool = createWorkerPool({ threads: 1, maxQueue: 16 });
    const a = await pool.run<CalloutAnswer>('http', { url, method: 'GET', headers: {} }, 5000);
    expect(a).toMatchObject({ ok: true, status: 200, body: 'until close' });
    // A header value the client cannot send is a failed call, never sent.
    const bad = await pool.run<CalloutAnswer>('http', { url, method: 'GET', headers: { 'x-a': 'x\r\ninjected: 1' } }, 5000);
    expect(bad.ok).toBe(false);
    await pool.close();
    await new Promise((r) => raw.close(r));
  });

  it('a queued call past its deadline is a timeout and never reaches the service', async () => {
    const seen: string[] = [];
    const hold = http.createServer((req) => seen.push(req.url ?? ''));
    await new Promise<void>((r) => hold.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hold.address() as AddressInfo).port}`;
    const pool = createWorkerPool({ threads: 1, maxQueue: 4, tasksPerThread: 1 });
    await pool.start();
    const first = pool.run('http', { url: `${url}/first`, method: 'GET', headers: {} }, 300);
    const queued = pool.run('http', { url: `${url}/queued`, method: 'GET', headers: {} }, 100);
    await expect(queued).rejects.toBeInstanceOf(PoolTimeoutError);
    await expect(first).rejects.toBeInstanceOf(PoolTimeoutError);
    expect(pool.stats().timeouts).toBe(2);
    expect(seen).toEqual(['/first']);
    hold.closeAllConnections();
    await pool.close();
    await new Promise((r) => hold.close(r));
  });
});

describe('deadline queue', () => {
  it('expires entries of one timeout in order, skips settled ones, from one timer', async () => {
    const q = new DeadlineQueue();
    const fired: number[] = [];
    const mk = (i: number, ms: number) => ({ i, expiresAt: performance.now() + ms, settled: false, expire() { this.settled = true; fired.push(i); } });
    const a = mk(1, 20);
    const b = mk(2, 20);
    const c = mk(3, 60);
    q.add(a, 20);
    q.add(b, 20);
    q.add(c, 60);
    b.settled = true; // answered before its deadline
    for (let i = 0; i < 100 && fired.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(fired).toEqual([1, 3]);
    q.close();
  });
});
