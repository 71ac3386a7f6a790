// The request line the upstream receives. uWS decodes the client's request
// target from UTF-8; the upstream client writes one byte per character, so a
// client sending the UTF-8 bytes of "Ċ" (U+010A) would otherwise split the
// upstream request with a bare LF. Non-ASCII goes upstream percent-encoded.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upstreamTarget } from '../../src/proxy/request-target.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { LISTEN, rawRequest } from '../core/util.js';

describe('upstreamTarget', () => {
  it('leaves visible ASCII (and existing escapes) alone', () => {
    const t = '/a/b%20c?x=1&y=%2F';
    expect(upstreamTarget(t)).toBe(t);
  });
  it('percent-encodes non-ASCII as UTF-8 and controls as bytes', () => {
    expect(upstreamTarget('/caf\u00e9')).toBe('/caf%C3%A9');
    expect(upstreamTarget('/a\u010ab?q=\u010a')).toBe('/a%C4%8Ab?q=%C4%8A');
    expect(upstreamTarget('/\ud83d\ude00')).toBe('/%F0%9F%98%80');
    expect(upstreamTarget('/lone\ud83d')).toBe('/lone%EF%BF%BD');
    expect(upstreamTarget('/a b\t\x7f')).toBe('/a%20b%09%7F');
  });
});

describe.each(['native', 'undici'] as const)('through the gateway, client: %s', (client) => {
  let gw: RunningGateway;
  let up: net.Server;
  const lines: string[] = [];

  beforeAll(async () => {
    up = net.createServer((s) => {
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        let end: number;
        while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
          lines.push(...buf.slice(0, end).split('\r\n').filter((l) => /^[A-Z]+ /.test(l)));
          buf = buf.slice(end + 4);
          s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        }
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    const port = (up.address() as net.AddressInfo).port;
    gw = await startGateway({
      server: { listen: LISTEN },
      upstreams: { up: { targets: [`http://127.0.0.1:${port}`], client } },
      routes: [{ name: 'all', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' }],
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await new Promise((r) => up.close(r));
  });

  it('a UTF-8 "Ċ" in path and query reaches the upstream percent-encoded, never as a line break', async () => {
    lines.length = 0;
    const head = Buffer.concat([Buffer.from('GET /split/a'), Buffer.from([0xc4, 0x8a]), Buffer.from('X-Injected:yes?q='), Buffer.from([0xc4, 0x8a]), Buffer.from('x HTTP/1.1\r\nHost: gw\r\n\r\n')]);
    const r = await rawRequest(gw.ports[0]!, head, { timeoutMs: 3000 });
    expect(r.status).toBe(200);
    expect(lines).toEqual(['GET /split/a%C4%8AX-Injected:yes?q=%C4%8Ax HTTP/1.1']);
  });

  it('"é" reaches the upstream as the client\'s two UTF-8 bytes, percent-encoded', async () => {
    lines.length = 0;
    const head = Buffer.concat([Buffer.from('GET /caf'), Buffer.from([0xc3, 0xa9]), Buffer.from(' HTTP/1.1\r\nHost: gw\r\n\r\n')]);
    const r = await rawRequest(gw.ports[0]!, head, { timeoutMs: 3000 });
    expect(r.status).toBe(200);
    expect(lines).toEqual(['GET /caf%C3%A9 HTTP/1.1']);
  });
});
