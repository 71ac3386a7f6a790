// Responses through the real gateway when one side goes away: a client that
// leaves mid-download or before the answer, an upstream that stops mid-body,
// and a read-until-close body to a client that reads slowly. Both upstream
// clients (native, undici) must behave the same: the upstream connection of an
// abandoned response is closed and never reused, a cut response is never
// relayed as complete, and the gateway keeps serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { gatewayConfig } from '../core/util.js';
import {
  CLIENTS, download, echo, patternSha, pump, rawExchange, startRawUpstream, until, type RawUpstream, type UpReq,
} from './harness.js';

/** Path-driven upstream behaviour (see each branch). */
function behave(req: UpReq): void {
  const u = new URL(req.path, 'http://x');
  const bytes = Number(u.searchParams.get('bytes') ?? 0);
  const framing = u.searchParams.get('framing') ?? 'cl';
  const s = req.socket;
  switch (u.pathname) {
    case '/big': // bytes of the pattern; framing cl | chunked | close (read until close)
      if (framing === 'cl') { s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${bytes}\r\n\r\n`); pump(s, bytes, 'raw'); }
      else if (framing === 'chunked') { s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'); pump(s, bytes, 'chunked'); }
      else { s.write('HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\r\n'); pump(s, bytes, 'raw', () => s.end()); }
      return;
    case '/hold': // answers only when the test says so (late)
      return;
    case '/cut': { // announces `bytes`, sends a tenth, then FIN (how=end) or RST (how=reset)
      const how = u.searchParams.get('how') ?? 'end';
      s.write(framing === 'cl' ? `HTTP/1.1 200 OK\r\ncontent-length: ${bytes}\r\n\r\n` : 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
      pump(s, Math.floor(bytes / 10), framing === 'cl' ? 'raw' : 'chunked-open', () => {
        setTimeout(() => (how === 'reset' ? s.resetAndDestroy() : s.end()), 20);
      });
      return;
    }
    default:
      echo(req);
  }
}

describe.each(CLIENTS)('downloads with client: %s', (client) => {
  let up: RawUpstream;
  let gw: RunningGateway;

  beforeAll(async () => {
    up = await startRawUpstream(behave);
    gw = await startGateway(gatewayConfig(
      { up: { targets: [up.url], client, connections: 4, timeout: '8s' } },
      [{ name: 'all', match: { path_prefix: '/' }, upstream: 'up' }],
      // request_timeout well above what a 24 MiB slow-client download takes on a loaded 2-core CI box:
      // these tests are about bytes and framing, not speed.
      { limits: { request_timeout: '80s', idle_timeout: '5s' } },
    ));
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  const alive = (): void => {
    expect(gw.proc.exitCode).toBeNull();
    expect(gw.proc.signalCode).toBeNull();
  };

  /** An echo through the gateway: 200, and the upstream connection it came on. */
  async function followUp(): Promise<number> {
    const r = await download(`${gw.url}/echo`, { guardMs: 5000 });
    expect(r.status).toBe(200);
    const m = /^conn=(\d+) /.exec(r.text);
    expect(m, r.text).not.toBeNull();
    return Number(m![1]);
  }

  const lastConnOf = (pathStart: string): number => up.requests.filter((r) => r.path.startsWith(pathStart)).at(-1)!.connId;

  for (const framing of ['cl', 'chunked'] as const) {
    it(`a client leaving mid-download (${framing}) closes that upstream connection; the next request uses another`, async () => {
      await followUp(); // an idle connection exists: the download may reuse it
      const path = `/big?bytes=${64 * 1024 * 1024}&framing=${framing}`;
      const r = await download(gw.url + path, { abortAfter: 1024 * 1024 });
      expect(r.status).toBe(200);
      expect(r.cut).toBe(true);
      const conn = lastConnOf('/big');
      expect(await up.waitClosed(conn, 5000), 'the abandoned upstream connection is closed').toBe(true);
      // Every later request is answered, never on the abandoned connection.
      for (let i = 0; i < 5; i++) expect(await followUp()).not.toBe(conn);
      alive();
    });
  }

  it('a client leaving before the upstream answered closes the upstream connection; the late answer is never read as another response', async () => {
    const before = up.requests.length;
    const leave = download(`${gw.url}/hold`, { guardMs: 300 }); // gives up after 300 ms
    expect(await until(() => up.requests.length > before, 3000)).toBe(true);
    const held = up.requests.at(-1)!;
    expect(held.path).toBe('/hold');
    const r = await leave;
    expect(r.hung).toBe(true); // we left; the gateway had nothing to send yet
    expect(await up.waitClosed(held.connId, 5000), 'the upstream connection of the abandoned request is closed').toBe(true);
    // Had it stayed open, this late answer would be the next client's response.
    if (!held.socket.destroyed) held.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nLATE');
    for (let i = 0; i < 5; i++) expect(await followUp()).not.toBe(held.connId);
    alive();
  });

  it('20 clients leaving at once, mid-download and before the answer: every upstream connection they held is closed', async () => {
    const before = up.requests.length;
    const runs: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      runs.push(download(`${gw.url}/big?bytes=${16 * 1024 * 1024}&framing=${i % 2 ? 'cl' : 'chunked'}`, { abortAfter: 256 * 1024 }));
      runs.push(download(`${gw.url}/hold`, { guardMs: 400 }));
    }
    await Promise.all(runs);
    const mine = up.requests.slice(before).filter((r) => r.path !== '/echo');
    expect(mine.length).toBeGreaterThan(0);
    for (const r of mine) expect(await up.waitClosed(r.connId, 5000), `${r.path} on conn ${r.connId}`).toBe(true);
    expect(await followUp()).toBeGreaterThan(0);
    alive();
  });

  for (const framing of ['cl', 'chunked'] as const) {
    for (const how of ['end', 'reset'] as const) {
      it(`an upstream that stops mid-body (${framing}, ${how === 'end' ? 'FIN' : 'RST'}) cuts the client connection: no hang, never complete`, async () => {
        const total = 4 * 1024 * 1024;
        // Raw client: sees exactly what the gateway sends, including a missing last-chunk.
        const r = await rawExchange(gw.ports[0]!, `GET /cut?bytes=${total}&framing=${framing}&how=${how} HTTP/1.1\r\nhost: gw\r\n\r\n`, { timeoutMs: 10_000 });
        expect(r.timedOut, 'the gateway left the client hanging').toBe(false);
        expect(r.closed).toBe(true);
        expect(r.status).toBe(200);
        const headEnd = r.raw.indexOf('\r\n\r\n');
        const body = r.raw.slice(headEnd + 4);
        if (framing === 'cl') {
          expect(r.raw.slice(0, headEnd).toLowerCase()).toContain(`content-length: ${total}`);
          expect(body.length).toBeLessThan(total);
        } else {
          expect(body.endsWith('0\r\n\r\n'), 'a cut chunked body must not end with the last-chunk').toBe(false);
        }
        expect(await followUp()).toBeGreaterThan(0);
        alive();
      });
    }
  }

  it('relays a read-until-close body to a slow client whole (bytes and sha256), as a complete response', { timeout: 90_000 }, async () => {
    const total = 24 * 1024 * 1024;
    const r = await download(`${gw.url}/big?bytes=${total}&framing=close`, { pauseEvery: 1024 * 1024, pauseMs: 40, guardMs: 85_000, keepText: false });
    expect(r.hung).toBe(false);
    expect(r.status).toBe(200);
    expect(r.bytes).toBe(total);
    expect(r.sha).toBe(patternSha(total));
    expect(r.complete).toBe(true);
    expect(r.cut).toBe(false);
    alive();
  });

  for (const framing of ['cl', 'chunked'] as const) {
    it(`relays a ${framing} body to a slow client whole, then reuses the upstream connection`, { timeout: 90_000 }, async () => {
      const total = 24 * 1024 * 1024;
      const r = await download(`${gw.url}/big?bytes=${total}&framing=${framing}`, { pauseEvery: 1024 * 1024, pauseMs: 40, guardMs: 85_000, keepText: false });
      expect(r.status).toBe(200);
      expect(r.bytes).toBe(total);
      expect(r.sha).toBe(patternSha(total));
      expect(r.complete).toBe(true);
      // Read to its end, the connection stays open and serves again: no new connection is needed.
      const conn = lastConnOf('/big');
      const accepted = up.accepted();
      for (let i = 0; i < 3; i++) await followUp();
      expect(up.isClosed(conn)).toBe(false);
      expect(up.accepted()).toBe(accepted);
    });
  }
});
