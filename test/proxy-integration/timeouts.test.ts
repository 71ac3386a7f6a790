// Every timeout fires, and blames the right side: the upstream's `timeout`
// (no head; a body that stalls), the client's idle_timeout (an upload that
// stalls) and request_timeout. A request body the gateway itself holds back
// (queued for a busy connection, or an upstream that does not read it) is not
// an idle client.
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { gatewayConfig } from '../core/util.js';
import { CLIENTS, download, echo, rawExchange, sleep, startRawUpstream, until, type RawUpstream, type UpReq } from './harness.js';

/** POST `bytes` through a node:http client that writes as fast as it is let; resolves with the status (0: connection cut). */
function upload(url: string, bytes: number, guardMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-length': bytes } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString('latin1'); });
      res.on('end', () => { clearTimeout(t); resolve({ status: res.statusCode ?? 0, text }); });
      res.on('error', () => { clearTimeout(t); resolve({ status: 0, text }); });
    });
    const t = setTimeout(() => { req.destroy(); resolve({ status: -1, text: 'guard' }); }, guardMs);
    req.on('error', () => { clearTimeout(t); resolve({ status: 0, text: '' }); });
    const piece = Buffer.alloc(64 * 1024, 97);
    let sent = 0;
    const more = (): void => {
      while (sent < bytes) {
        const n = Math.min(piece.length, bytes - sent);
        sent += n;
        if (!req.write(piece.subarray(0, n))) { req.once('drain', more); return; }
      }
      req.end();
    };
    more();
  });
}

describe.each(CLIENTS)('timeouts with client: %s', (client) => {
  let up: RawUpstream;
  let gw: RunningGateway;
  const held: UpReq[] = [];

  beforeAll(async () => {
    up = await startRawUpstream((req) => {
      const p = req.path;
      if (p.startsWith('/one/hold')) { held.push(req); return; }
      if (p.startsWith('/t/never')) return; // reads the body, never answers
      if (p.startsWith('/t/stall-body')) { req.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n' + 'x'.repeat(1000)); return; }
      if (p.startsWith('/t/no-read')) { req.socket.pause(); return; } // never reads the body, never answers
      echo(req);
    });
    gw = await startGateway(gatewayConfig(
      {
        one: { targets: [up.url], client, connections: 1, timeout: '10s' },
        t: { targets: [up.url], client, connections: 4, timeout: '800ms' },
      },
      [
        { name: 'one', match: { path_prefix: '/one' }, upstream: 'one' },
        { name: 'no-read', match: { path_prefix: '/t/no-read' }, upstream: 'one', timeout: '2500ms' },
        { name: 't', match: { path_prefix: '/t' }, upstream: 't' },
      ],
      { limits: { request_timeout: '20s', idle_timeout: '1s', max_body: '64MiB' } },
    ));
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('an upstream that never answers: 504 (upstream timeout), and its connection is closed', async () => {
    const r = await download(`${gw.url}/t/never`, { guardMs: 10_000 });
    expect(r.status).toBe(504);
    const conn = up.requests.filter((q) => q.path === '/t/never').at(-1)!.connId;
    expect(await up.waitClosed(conn, 5000)).toBe(true);
  });

  it('an upstream that stalls mid-body: the client is cut (no hang, never complete), the connection closed', async () => {
    const r = await download(`${gw.url}/t/stall-body`, { guardMs: 10_000 });
    expect(r.hung).toBe(false);
    expect(r.status).toBe(200);
    expect(r.complete).toBe(false);
    expect(r.bytes).toBe(1000);
    const conn = up.requests.filter((q) => q.path === '/t/stall-body').at(-1)!.connId;
    expect(await up.waitClosed(conn, 5000)).toBe(true);
  });

  it('a client that stalls its upload: 408 after idle_timeout, and the half-sent upstream request is closed', async () => {
    const r = await rawExchange(gw.ports[0]!, 'POST /t/echo-stalled HTTP/1.1\r\nhost: gw\r\ncontent-length: 100000\r\n\r\n' + 'y'.repeat(5000), { timeoutMs: 10_000 });
    expect(r.timedOut).toBe(false);
    expect(r.status).toBe(408);
    const sent = up.requests.filter((q) => q.path === '/t/echo-stalled').at(-1);
    if (sent) expect(await up.waitClosed(sent.connId, 5000)).toBe(true);
  });

  it('an upload queued behind a busy connection for longer than idle_timeout is not cut as an idle client', async () => {
    const first = download(`${gw.url}/one/hold`, { guardMs: 15_000 });
    expect(await until(() => held.length === 1, 5000)).toBe(true);
    const queued = upload(`${gw.url}/one/upload`, 2 * 1024 * 1024, 15_000);
    await sleep(2500); // past idle_timeout (1s): the upload waits on the gateway, not the other way round
    for (const h of held.splice(0)) h.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone');
    expect((await first).status).toBe(200);
    const r = await queued;
    expect(r.status, r.text).toBe(200);
    expect(r.text).toContain(`POST /one/upload ${2 * 1024 * 1024}`);
  });

  it('an upstream that never reads the request body: 504 at the route timeout, not a 408 blaming the client', async () => {
    const r = await upload(`${gw.url}/t/no-read`, 32 * 1024 * 1024, 15_000);
    expect(r.status, r.text).toBe(504);
  });
});
