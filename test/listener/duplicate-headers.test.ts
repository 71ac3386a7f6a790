// A header the gateway decided on must not reach the upstream twice.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let out = '';
    s.on('data', (d) => { out += d.toString('latin1'); });
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(10_000, () => { s.destroy(); reject(new Error('timeout')); });
  });
}

describe('repeated decision headers', () => {
  let eu: TestUpstream;
  let us: TestUpstream;
  let gw: RunningGateway;
  beforeAll(async () => {
    eu = await startUpstream();
    us = await startUpstream();
    gw = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port: 0 }] },
      upstreams: { eu: { targets: [eu.url] }, us: { targets: [us.url] } },
      routes: [{
        name: 'tenant', match: { path_prefix: '/' }, anonymous: true,
        route_by: { header: 'x-region', map: { eu: 'eu', us: 'us' }, otherwise: 'deny' },
      }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await eu?.close();
    await us?.close();
  });

  it('routes on a single x-region header', async () => {
    const r = await raw(gw.ports[0]!, 'GET /a HTTP/1.1\r\nHost: gw\r\nX-Region: eu\r\nConnection: close\r\n\r\n');
    expect(r).toMatch(/^HTTP\/1\.1 200/);
    expect(eu.requests.at(-1)!.headers['x-region']).toBe('eu');
  });

  it('refuses a second x-region (the upstream would see "eu, us") and forwards nothing', async () => {
    const before = eu.requests.length + us.requests.length;
    const r = await raw(gw.ports[0]!, 'GET /b HTTP/1.1\r\nHost: gw\r\nX-Region: eu\r\nX-Region: us\r\nConnection: close\r\n\r\n');
    expect(r).toMatch(/^HTTP\/1\.1 400/);
    expect(r).toContain('"reason":"bad_header"');
    expect(eu.requests.length + us.requests.length).toBe(before);
  });

  it('refuses two Cookie headers', async () => {
    const before = eu.requests.length;
    const r = await raw(gw.ports[0]!, 'GET /c HTTP/1.1\r\nHost: gw\r\nX-Region: eu\r\nCookie: a=1\r\nCookie: a=2\r\nConnection: close\r\n\r\n');
    expect(r).toMatch(/^HTTP\/1\.1 400/);
    expect(eu.requests.length).toBe(before);
  });
});
