// uWS's connection timers, set from server.limits (issue 13, finding 11):
// idle keep-alive connections are closed after keepalive_timeout, a
// connection that never completes its request head is cut after
// header_timeout, and a connection that keeps sending requests stays open.
// The uWS build's own default for both is 30 s (cut at 27–32 s), so every
// wait below is bounded well under that: without the settings applied the
// connections would still be open when the wait gives up.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/** Far below uWS's built-in 30 s, far above 5 s + one 4 s timer tick. */
const GIVE_UP_MS = 20_000;

interface Conn {
  readonly socket: net.Socket;
  /** Bytes received so far. */
  received(): string;
  /** Resolves true once closed by the peer, false after `ms`. */
  closed(ms: number): Promise<boolean>;
  isClosed(): boolean;
  /** Resolves when `n` responses (status lines) have arrived, bounded. */
  responses(n: number, ms?: number): Promise<number>;
}

function connect(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    let isClosed = false;
    const onClose: (() => void)[] = [];
    const onData: (() => void)[] = [];
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => { data += c; for (const f of onData.splice(0)) f(); });
    socket.on('error', () => {});
    socket.on('close', () => { isClosed = true; for (const f of onClose.splice(0)) f(); for (const f of onData.splice(0)) f(); });
    socket.once('connect', () => resolve({
      socket,
      received: () => data,
      isClosed: () => isClosed,
      closed: (ms) => isClosed ? Promise.resolve(true) : new Promise((r) => {
        const t = setTimeout(() => r(false), ms);
        onClose.push(() => { clearTimeout(t); r(true); });
      }),
      responses: (n, ms = 5000) => new Promise((r) => {
        const count = () => (data.match(/HTTP\/1\.1 \d{3}/g) ?? []).length;
        const t = setTimeout(() => r(count()), ms);
        const check = () => { if (count() >= n || isClosed) { clearTimeout(t); r(count()); } else onData.push(check); };
        check();
      }),
    }));
    socket.once('error', reject);
  });
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: gw.test\r\n\r\n`;

describe('connection timers: keepalive_timeout and header_timeout', () => {
  let up: TestUpstream;
  let gw: RunningGateway;
  let port: number;
  beforeAll(async () => {
    up = await startUpstream();
    gw = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port: 0 }], limits: { header_timeout: '5s', keepalive_timeout: '5s' } },
      access_log: { enabled: false },
      upstreams: { up: { targets: [up.url] } },
      routes: [
        { name: 'ping', match: { path: '/ping' }, anonymous: true, respond: { status: 200, body: 'pong' } },
        { name: 'up', match: { path_prefix: '/up' }, anonymous: true, upstream: 'up' },
      ],
    });
    port = gw.ports[0]!;
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('closes idle keep-alive connections after keepalive_timeout; a connection that keeps sending requests stays open', { timeout: 60_000 }, async () => {
    const idle = await Promise.all(Array.from({ length: 6 }, () => connect(port)));
    idle.forEach((c, i) => c.socket.write(get(i % 2 === 0 ? '/ping' : '/up/x')));
    for (const c of idle) expect(await c.responses(1)).toBe(1);

    // One request a second: never idle for a whole keepalive_timeout.
    const active = await connect(port);
    let sent = 0;
    const ticker = setInterval(() => { if (!active.isClosed()) { active.socket.write(get(sent % 2 === 0 ? '/ping' : '/up/y')); sent++; } }, 1000);
    try {
      const closed = await Promise.all(idle.map((c) => c.closed(GIVE_UP_MS)));
      expect(closed).toEqual(idle.map(() => true));
      // The idle ones were given a response and then closed: nothing else was sent.
      for (const c of idle) expect((c.received().match(/HTTP\/1\.1 /g) ?? []).length).toBe(1);
      // Keep going past two more keepalive periods (bounded: 12 requests in all).
      while (sent < 12 && !active.isClosed()) await new Promise((r) => setTimeout(r, 250));
    } finally {
      clearInterval(ticker);
    }
    expect(active.isClosed()).toBe(false);
    expect(await active.responses(sent)).toBe(sent);
    expect(active.received()).not.toMatch(/HTTP\/1\.1 (?!200)/);
    active.socket.destroy();
  });

  it('cuts a connection whose request head never completes (header_timeout), and a slow later head on a kept-alive one', { timeout: 60_000 }, async () => {
    const silent = await connect(port);
    const partial = await connect(port);
    partial.socket.write('GET /ping HTTP/1.1\r\nHost: gw.test\r\n');
    const trickle = await connect(port);
    trickle.socket.write('GET /ping HTTP/1.1\r\n');
    // A header line a second: data keeps coming, the head never ends (slowloris).
    let lines = 0;
    const drip = setInterval(() => { if (!trickle.isClosed() && lines < 30) { trickle.socket.write(`x-slow-${lines++}: 1\r\n`); } }, 1000);
    const second = await connect(port);
    second.socket.write(get('/ping'));
    expect(await second.responses(1)).toBe(1);
    second.socket.write('GET /ping HTTP/1.1\r\nHost: gw.test\r\n');
    try {
      const closed = await Promise.all([silent, partial, trickle, second].map((c) => c.closed(GIVE_UP_MS)));
      expect(closed).toEqual([true, true, true, true]);
    } finally {
      clearInterval(drip);
    }
    // Cut, not answered: no request was ever complete on the first three.
    for (const c of [silent, partial, trickle]) expect(c.received()).toBe('');
    expect((second.received().match(/HTTP\/1\.1 /g) ?? []).length).toBe(1);
  });
});
