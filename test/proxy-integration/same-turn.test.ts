// Events that land in the same turn of the gateway's event loop, in either
// order: the gateway is stopped (SIGSTOP) while the test puts both on the
// wire, then resumed, so it reads them together. Upstream reads are handled
// after the poll phase (deferred) and request heads are written then too:
// these are the orderings that could race with that.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { gatewayConfig } from '../core/util.js';
import { CLIENTS, download, echo, sleep, startRawUpstream, stopProcess, until, type RawUpstream, type UpReq } from './harness.js';

/** A client connection to the gateway, accepted and served once before the test stops the gateway. */
async function openClient(port: number): Promise<{ sock: net.Socket; send(path: string): void; response(ms: number): Promise<string> }> {
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  let raw = '';
  s.on('data', (c: Buffer) => { raw += c.toString('latin1'); });
  s.on('error', () => {});
  const response = async (ms: number): Promise<string> => {
    const until = Date.now() + ms;
    for (;;) {
      const at = raw.indexOf('\r\n\r\n');
      const m = /content-length: (\d+)/i.exec(raw.slice(0, Math.max(0, at)));
      if (at >= 0 && m && raw.length >= at + 4 + Number(m[1])) {
        const whole = raw.slice(0, at + 4 + Number(m[1]));
        raw = raw.slice(whole.length);
        return whole;
      }
      if (Date.now() > until || s.destroyed) return `<none: ${JSON.stringify(raw)}>`;
      await sleep(10);
    }
  };
  s.write('GET /warm HTTP/1.1\r\nhost: gw\r\n\r\n');
  await response(5000);
  return { sock: s, send: (path) => { s.write(`GET ${path} HTTP/1.1\r\nhost: gw\r\n\r\n`); }, response };
}

describe.each(CLIENTS)('same event-loop turn with client: %s', (client) => {
  let up: RawUpstream;
  let gw: RunningGateway;
  const held: UpReq[] = [];

  beforeAll(async () => {
    up = await startRawUpstream((req) => {
      if (req.path.startsWith('/hold')) held.push(req);
      else echo(req);
    });
    gw = await startGateway(gatewayConfig(
      { up: { targets: [up.url], client, connections: 1, timeout: '8s' } },
      [{ name: 'all', match: { path_prefix: '/' }, upstream: 'up' }],
    ));
  });
  afterAll(async () => {
    if (gw) process.kill(gw.proc.pid!, 'SIGCONT');
    await gw?.stop();
    await up?.close();
  });

  async function whileStopped(first: () => void, second: () => void): Promise<void> {
    try {
      await stopProcess(gw.proc.pid!);
      first();
      await sleep(40);
      second();
      await sleep(40);
    } finally {
      process.kill(gw.proc.pid!, 'SIGCONT');
    }
  }

  const answer = (r: UpReq, text: string): void => { r.socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${text.length}\r\n\r\n${text}`); };

  /** The gateway still answers, on a connection other than `notConn` when given. */
  async function stillServes(notConn?: number): Promise<void> {
    const r = await download(`${gw.url}/check`, { guardMs: 5000 });
    expect(r.status).toBe(200);
    if (notConn !== undefined) expect(r.text).not.toMatch(new RegExp(`^conn=${notConn} `));
    expect(gw.proc.exitCode).toBeNull();
  }

  for (const order of ['answer first', 'client gone first'] as const) {
    it(`the upstream's answer and the client leaving (${order}): no crash, that upstream connection is never reused`, async () => {
      const c = await openClient(gw.ports[0]!);
      c.send('/hold/1');
      expect(await until(() => held.length === 1, 5000)).toBe(true);
      const r = held.pop()!;
      const answerIt = (): void => answer(r, 'late answer');
      const leave = (): void => { c.sock.resetAndDestroy(); };
      if (order === 'answer first') await whileStopped(answerIt, leave);
      else await whileStopped(leave, answerIt);
      // Either the connection was closed (the answer abandoned), or — answer read whole first — reused cleanly.
      await sleep(100);
      await stillServes(up.isClosed(r.connId) ? r.connId : undefined);
    });

    it(`a queued request's client leaving as the busy connection frees (${order}): the request is never sent`, async () => {
      const c = await openClient(gw.ports[0]!);
      const a = download(`${gw.url}/hold/a`, { guardMs: 10_000 });
      expect(await until(() => held.length === 1, 5000)).toBe(true);
      const ra = held.pop()!;
      const path = `/queued/${order.replace(/ /g, '-')}`;
      c.send(path); // waits for the one connection
      await sleep(100);
      const answerIt = (): void => answer(ra, 'a done');
      const leave = (): void => { c.sock.resetAndDestroy(); };
      if (order === 'answer first') await whileStopped(answerIt, leave);
      else await whileStopped(leave, answerIt);
      expect((await a).status).toBe(200);
      await stillServes();
      expect(up.requests.map((q) => q.path)).not.toContain(path);
    });

    // undici writes the request at once and errors it when the close is read
    // after (idempotent: false, retries are the gateway's): the keep-alive race is a 502 there.
    it.runIf(client === 'native' || order === 'answer first')(`the upstream closing an idle connection and a new request (${order === 'answer first' ? 'close first' : 'request first'}): answered 200`, async () => {
      const c = await openClient(gw.ports[0]!);
      try {
        const r0 = await download(`${gw.url}/before-close`, { guardMs: 5000 });
        expect(r0.status).toBe(200);
        const idle = up.requests.at(-1)!; // its connection is idle in the pool now
        const close = (): void => { idle.socket.end(); };
        const ask = (): void => c.send('/after-close');
        if (order === 'answer first') await whileStopped(close, ask);
        else await whileStopped(ask, close);
        const res = await c.response(5000);
        expect(res.startsWith('HTTP/1.1 200 '), res).toBe(true);
        expect(res).toContain('GET /after-close ');
      } finally {
        c.sock.destroy();
      }
    });
  }
});
