// Upstream groups: round robin across targets, passive health (a target that
// refuses connections is skipped and a bodiless request retried once on
// another), and a response cut short by the upstream is cut toward the client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { deadPort, gatewayConfig, rawRequest, request, startLabUpstream, type LabUpstream } from './util.js';

let gw: RunningGateway;
let a: LabUpstream;
let b: LabUpstream;

beforeAll(async () => {
  a = await startLabUpstream();
  b = await startLabUpstream();
  const dead = await deadPort();
  gw = await startGateway(gatewayConfig({
    pair: { targets: [a.url, b.url] },
    halfdead: { targets: [`http://127.0.0.1:${dead}`, b.url], unhealthy_for: '30s' },
    stall: { targets: [a.url], timeout: '500ms' },
  }, [
    { name: 'pair', match: { path_prefix: '/pair' }, upstream: 'pair' },
    { name: 'halfdead', match: { path_prefix: '/half' }, upstream: 'halfdead' },
    { name: 'stall', match: { path_prefix: '/st' }, upstream: 'stall', strip_prefix: true },
  ]));
});

afterAll(async () => {
  await gw?.stop();
  await a?.close();
  await b?.close();
});

describe('upstream groups', () => {
  it('spread requests round robin across targets', async () => {
    const a0 = a.seen.length;
    const b0 = b.seen.length;
    for (let i = 0; i < 20; i++) expect((await request(`${gw.url}/pair/${i}`)).status).toBe(200);
    expect(a.seen.length - a0).toBe(10);
    expect(b.seen.length - b0).toBe(10);
  });

  it('skip a target that refuses connections: every bodiless request still succeeds', async () => {
    const b0 = b.seen.filter((s) => s.url.startsWith('/half')).length;
    for (let i = 0; i < 10; i++) expect((await request(`${gw.url}/half/${i}`)).status).toBe(200);
    expect(b.seen.filter((s) => s.url.startsWith('/half')).length - b0).toBe(10);
  });

  it('send requests with a body only to the healthy target once the dead one is marked', async () => {
    for (let i = 0; i < 6; i++) {
      const r = await request(`${gw.url}/half/post${i}`, { method: 'POST', body: 'data' });
      expect(r.status).toBe(200);
      expect(r.json().bytes).toBe(4);
    }
  });
});

describe('responses the upstream cuts short', () => {
  it('close the client connection when the upstream stalls mid-body (no hang, no padded body)', async () => {
    const r = await rawRequest(gw.ports[0]!, 'GET /st/stall-body HTTP/1.1\r\nHost: gw\r\n\r\n', { timeoutMs: 8000, waitClose: true });
    expect(r.timedOut).toBe(false);
    expect(r.closed).toBe(true);
    expect(r.status).toBe(200);
    // The client got fewer bytes than announced, so it knows the body is incomplete.
    expect(r.raw.length - r.raw.indexOf('\r\n\r\n') - 4).toBeLessThan(1000);
  });

  it('keep serving after the cut', async () => {
    expect((await request(`${gw.url}/st/ok`)).status).toBe(200);
    expect(gw.proc.exitCode).toBeNull();
  });
});
