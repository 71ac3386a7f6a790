// With trusted_proxies covering the client, an incoming X-Forwarded-For is
// believed (the peer is appended) and its X-Request-Id kept.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { gatewayConfig, rawRequest, startLabUpstream, type LabUpstream } from './util.js';

let gw: RunningGateway;
let lab: LabUpstream;

beforeAll(async () => {
  lab = await startLabUpstream();
  gw = await startGateway(gatewayConfig({ lab: lab.url }, [
    { name: 'all', match: { path_prefix: '/' }, upstream: 'lab' },
  ], { trusted_proxies: ['127.0.0.1/32'] }));
});

afterAll(async () => {
  await gw?.stop();
  await lab?.close();
});

async function upstreamSaw(path: string, headerLines: string): Promise<Record<string, string>> {
  const r = await rawRequest(gw.ports[0]!, `GET ${path} HTTP/1.1\r\nHost: gw.test\r\n${headerLines}Connection: close\r\n\r\n`);
  expect(r.status).toBe(200);
  return lab.seen.find((x) => x.url === path)!.headers as Record<string, string>;
}

describe('trusted proxies', () => {
  it('append the peer to an incoming x-forwarded-for and keep x-request-id', async () => {
    const h = await upstreamSaw('/t1', 'X-Forwarded-For: 203.0.113.9\r\nX-Request-Id: lb-req-42\r\nX-Forwarded-Proto: https\r\n');
    expect(h['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(h['x-request-id']).toBe('lb-req-42');
    expect(h['x-forwarded-proto']).toBe('https');
  });

  it('join several x-forwarded-for lines in order before appending the peer', async () => {
    const h = await upstreamSaw('/t2', 'X-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 203.0.113.9\r\n');
    expect(h['x-forwarded-for']).toBe('198.51.100.1, 203.0.113.9, 127.0.0.1');
  });

  it('still set x-forwarded-for and a fresh x-request-id when the trusted peer sent none', async () => {
    const h = await upstreamSaw('/t3', '');
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-request-id']).toMatch(/\S{8,}/);
  });
});
