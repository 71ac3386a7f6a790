// server.threads: 2 — two event-loop threads, each with its own uWS app on the
// same (fixed) port; the kernel spreads connections. Every connection must be
// served, proxied or not, and a reload must reach both threads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { freePort, gatewayConfig, request, sleep, startLabUpstream, type LabUpstream } from './util.js';

let gw: RunningGateway;
let lab: LabUpstream;
let port: number;

function config(routes: Record<string, unknown>[]): Record<string, unknown> {
  const c = gatewayConfig({ lab: lab.url }, routes, { threads: 2 });
  (c.server as Record<string, unknown>).listen = [{ host: '127.0.0.1', port }];
  return c;
}

beforeAll(async () => {
  lab = await startLabUpstream();
  port = await freePort();
  gw = await startGateway(config([
    { name: 'ping', match: { path: '/ping' }, respond: { status: 200, body: 'v1' } },
    { name: 'all', match: { path_prefix: '/' }, upstream: 'lab' },
  ]));
});

afterAll(async () => {
  await gw?.stop();
  await lab?.close();
});

describe('two event-loop threads on one port', () => {
  it('start two threads listening on the configured port', () => {
    const line = JSON.parse(gw.logs.find((l) => /portcullis listening/.test(l))!) as { threads: number; listeners: string[] };
    expect(line.threads).toBe(2);
    expect(gw.ports).toEqual([port]);
  });

  it('serve 200 requests on new connections, proxied and respond routes alike', async () => {
    let ok = 0;
    for (let batch = 0; batch < 20; batch++) {
      const rs = await Promise.all(Array.from({ length: 10 }, (_, k) =>
        k % 2 === 0 ? request(`${gw.url}/ping`) : request(`${gw.url}/t/${batch}/${k}`, { method: 'POST', body: 'abc' })));
      for (const r of rs) if (r.status === 200) ok++;
    }
    expect(ok).toBe(200);
    expect(lab.seen.filter((s) => s.url.startsWith('/t/') && s.bytes === 3)).toHaveLength(100);
  });

  it('reload reaches every thread: 20 consecutive new connections all see the new plan', async () => {
    gw.writeConfig(config([
      { name: 'ping', match: { path: '/ping' }, respond: { status: 200, body: 'v2' } },
      { name: 'added', match: { path: '/added' }, respond: { status: 200, body: 'added' } },
      { name: 'all', match: { path_prefix: '/' }, upstream: 'lab' },
    ]));
    const before = gw.logs.length;
    gw.proc.kill('SIGHUP');
    for (let i = 0; i < 400 && !gw.logs.slice(before).some((l) => /config reloaded|reload rejected|reload failed/.test(l)); i++) await sleep(25);
    expect(gw.logs.slice(before).some((l) => /config reloaded/.test(l))).toBe(true);
    for (let i = 0; i < 20; i++) {
      expect((await request(`${gw.url}/ping`)).text).toBe('v2');
      expect((await request(`${gw.url}/added`)).text).toBe('added');
    }
  });

  it('drain and exit 0 with both threads', async () => {
    expect(await gw.stop()).toBe(0);
  });
});
