// listen[].proxy_protocol: the client address comes from a PROXY v2 header.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

function proxyV2(src: [number, number, number, number], dstPort: number): Buffer {
  const h = Buffer.alloc(28);
  Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]).copy(h, 0);
  h[12] = 0x21; // v2, PROXY
  h[13] = 0x11; // TCP over IPv4
  h.writeUInt16BE(12, 14);
  Buffer.from(src).copy(h, 16);
  Buffer.from([127, 0, 0, 1]).copy(h, 20);
  h.writeUInt16BE(40000, 24);
  h.writeUInt16BE(dstPort, 26);
  return h;
}

function raw(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    let out = '';
    s.on('data', (d) => { out += d.toString('latin1'); });
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(10_000, () => { s.destroy(); reject(new Error('timeout')); });
  });
}

const request = (path: string) => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`);

describe('PROXY protocol v2 listener', () => {
  let up: TestUpstream;
  let gw: RunningGateway;
  let gwTrusted: RunningGateway;
  beforeAll(async () => {
    up = await startUpstream();
    const routes = [
      { name: 'denied', match: { path_prefix: '/denied' }, anonymous: true, authorize: { ip_deny: ['203.0.113.0/24'] }, upstream: 'up' },
      { name: 'pub', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' },
    ];
    gw = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port: 0, proxy_protocol: true }] },
      upstreams: { up: { targets: [up.url] } },
      routes,
    });
    gwTrusted = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port: 0, proxy_protocol: true }], trusted_proxies: ['10.0.0.0/8'] },
      upstreams: { up: { targets: [up.url] } },
      routes,
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await gwTrusted?.stop();
    await up?.close();
  });

  it('takes the client address from the PROXY header', async () => {
    const before = up.requests.length;
    const r = await raw(gw.ports[0]!, Buffer.concat([proxyV2([203, 0, 113, 7], gw.ports[0]!), request('/who')]));
    expect(r).toMatch(/^HTTP\/1\.1 200/);
    expect(up.requests[before]!.headers['x-forwarded-for']).toBe('203.0.113.7');
  });

  it('applies IP rules to the PROXY source address', async () => {
    const before = up.requests.length;
    const r = await raw(gw.ports[0]!, Buffer.concat([proxyV2([203, 0, 113, 9], gw.ports[0]!), request('/denied/x')]));
    expect(r).toMatch(/^HTTP\/1\.1 403/);
    expect(r).toContain('"reason":"ip_denied"');
    expect(up.requests.length).toBe(before);
  });

  it('uses the socket peer when a connection sends no PROXY header', async () => {
    const res = await fetch(`${gw.url}/plain`);
    expect(res.status).toBe(200);
    const seen = up.requests.at(-1)!;
    expect(seen.url).toBe('/plain');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('ignores a PROXY header from a peer outside trusted_proxies', async () => {
    const before = up.requests.length;
    const r = await raw(gwTrusted.ports[0]!, Buffer.concat([proxyV2([203, 0, 113, 9], gwTrusted.ports[0]!), request('/denied/y')]));
    expect(r).toMatch(/^HTTP\/1\.1 200/);
    expect(up.requests[before]!.headers['x-forwarded-for']).toBe('127.0.0.1');
  });
});
