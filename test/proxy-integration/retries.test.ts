// Which requests the gateway may send again, to another target, after an
// upstream failure: only those that never reached an upstream (connection
// refused) or that are idempotent and got no answer. A request the first
// target received — and perhaps acted on — must not be replayed when that
// connection is then reset, or the action happens twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { gatewayConfig } from '../core/util.js';
import { CLIENTS, download, echo, sleep, startRawUpstream, type RawUpstream, type UpReq } from './harness.js';

describe.each(CLIENTS)('replays to another target with client: %s', (client) => {
  let a: RawUpstream; // resets
  let b: RawUpstream; // answers
  let gw: RunningGateway;

  beforeAll(async () => {
    a = await startRawUpstream((req: UpReq) => {
      if (req.path.includes('head-then-reset')) {
        req.socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n');
        setTimeout(() => req.socket.resetAndDestroy(), 20);
      } else {
        setTimeout(() => req.socket.resetAndDestroy(), 20);
      }
    });
    b = await startRawUpstream(echo);
    gw = await startGateway(gatewayConfig(
      // Round robin across a and b; a failed target is skipped for unhealthy_for.
      { up: { targets: [a.url, b.url], client, connections: 4, timeout: '5s', unhealthy_for: '150ms' } },
      [{ name: 'all', match: { path_prefix: '/' }, upstream: 'up' }],
    ));
  });
  afterAll(async () => {
    await gw?.stop();
    await a?.close();
    await b?.close();
  });

  /** Sends `method path/i` `tries` times, each after a's unhealthy spell is over; returns where each went. */
  async function tries(method: string, path: string, n: number): Promise<{ atA: number; atB: number; status: number; cut: boolean }[]> {
    const out = [];
    for (let i = 0; i < n; i++) {
      await sleep(200);
      const r = await download(`${gw.url}${path}/${i}`, { method, guardMs: 8000 });
      out.push({
        atA: a.requests.filter((q) => q.path === `${path}/${i}`).length,
        atB: b.requests.filter((q) => q.path === `${path}/${i}`).length,
        status: r.status,
        cut: r.cut,
      });
    }
    return out;
  }

  for (const method of ['POST', 'PATCH'] as const) {
    for (const what of ['reset', 'head-then-reset'] as const) {
      it(`a bodiless ${method} that reached a target which then reset (${what}) is not sent to another target`, async () => {
        const outs = await tries(method, `/${method}/${what}/${Math.random().toString(36).slice(2)}`, 4);
        expect(outs.filter((o) => o.atA === 1).length, 'round robin sent some to a').toBeGreaterThan(0);
        for (const o of outs) {
          expect(o.atA + o.atB, 'reached an upstream exactly once').toBe(1);
          if (o.atB === 1) expect(o.status).toBe(200);
          else expect(o.status === 0 || o.status >= 500 || o.cut).toBe(true);
        }
      });
    }
  }

  it('a bodiless GET reset by a target before any answer is retried on the other one (200)', async () => {
    const outs = await tries('GET', `/GET/reset/${Math.random().toString(36).slice(2)}`, 4);
    expect(outs.filter((o) => o.atA === 1).length, 'round robin sent some to a').toBeGreaterThan(0);
    for (const o of outs) {
      expect(o.atB).toBe(1);
      expect(o.status).toBe(200);
    }
  });

  it('a GET whose response head came before the reset is not retried (the client is cut or gets a 502)', async () => {
    const outs = await tries('GET', `/GET/head-then-reset/${Math.random().toString(36).slice(2)}`, 4);
    expect(outs.filter((o) => o.atA === 1).length).toBeGreaterThan(0);
    for (const o of outs) expect(o.atA + o.atB).toBe(1);
  });
});
