// Answers without a body — 204 and 304 (the gateway's own, a CORS preflight,
// relayed from the upstream) and HEAD — framed so that a keep-alive client
// reads the next answer on the same connection: no Content-Length on 204 and
// 304 (RFC 9110 §8.6; never the 2^63 this uWS build writes for an undefined
// length), and HEAD reporting the upstream's length. A second request sent on
// the same connection after the first answer must be answered whole.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { gatewayConfig } from '../core/util.js';
import { CLIENTS, echo, startRawUpstream, type RawUpstream, type UpReq } from './harness.js';

function behave(req: UpReq): void {
  const s = req.socket;
  if (req.path === '/up-204') s.write('HTTP/1.1 204 No Content\r\nx-up: 1\r\n\r\n');
  else if (req.path === '/up-304') s.write('HTTP/1.1 304 Not Modified\r\netag: "v1"\r\n\r\n');
  else if (req.path === '/sized') s.write(`HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n${req.method === 'HEAD' ? '' : 'hello'}`);
  else echo(req);
}

/** `first`, then — once its bodiless answer's head is in — `GET /sized` on the same connection; everything read until `hello`. */
function twoOnOneConnection(port: number, first: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let raw = '';
    let sent = false;
    const t = setTimeout(() => { s.destroy(); reject(new Error(`no second answer within 5 s; read: ${JSON.stringify(raw)}`)); }, 5000);
    s.on('data', (c: Buffer) => {
      raw += c.toString('latin1');
      if (!sent && raw.includes('\r\n\r\n')) { sent = true; s.write('GET /sized HTTP/1.1\r\nhost: x\r\n\r\n'); }
      if (raw.endsWith('hello')) { clearTimeout(t); s.destroy(); resolve(raw); }
    });
    s.on('error', (e) => { clearTimeout(t); reject(e); });
    s.on('close', () => { clearTimeout(t); reject(new Error(`connection closed; read: ${JSON.stringify(raw)}`)); });
    s.on('connect', () => s.write(first));
  });
}

/** The answers in `raw`, split by their status lines; each one's head as lower-case lines. */
function heads(raw: string): string[][] {
  return raw.split(/(?=HTTP\/1\.1 \d{3} )/).filter((a) => a !== '').map((a) => a.split('\r\n\r\n')[0]!.toLowerCase().split('\r\n'));
}

describe.each(CLIENTS)('bodiless answers with client: %s', (client) => {
  let up: RawUpstream;
  let gw: RunningGateway;
  beforeAll(async () => {
    up = await startRawUpstream(behave);
    gw = await startGateway(gatewayConfig(
      { up: { targets: [up.url], client, connections: 4 } },
      [
        { name: 'no-content', match: { path: '/own-204' }, anonymous: true, respond: { status: 204 } },
        { name: 'spa', match: { path_prefix: '/spa' }, anonymous: true, cors: { allow_origins: ['https://app.test'], allow_methods: ['POST'] }, respond: { status: 200, body: 'ok' } },
        { name: 'all', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' },
      ],
    ));
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  const cases: [string, string, (h: string[]) => void][] = [
    ['the gateway\'s own 204', 'GET /own-204 HTTP/1.1\r\nhost: x\r\n\r\n', (h) => expect(h[0]).toBe('http/1.1 204 no content')],
    ['a CORS preflight', 'OPTIONS /spa HTTP/1.1\r\nhost: x\r\norigin: https://app.test\r\naccess-control-request-method: POST\r\n\r\n', (h) => {
      expect(h[0]).toBe('http/1.1 204 no content');
      expect(h).toContain('access-control-allow-origin: https://app.test');
    }],
    ['an upstream 204', 'GET /up-204 HTTP/1.1\r\nhost: x\r\n\r\n', (h) => { expect(h[0]).toBe('http/1.1 204 no content'); expect(h).toContain('x-up: 1'); }],
    ['an upstream 304', 'GET /up-304 HTTP/1.1\r\nhost: x\r\n\r\n', (h) => { expect(h[0]).toBe('http/1.1 304 not modified'); expect(h).toContain('etag: "v1"'); }],
  ];

  it.each(cases)('%s: no Content-Length, and the next request on the connection is answered', async (_what, req, check) => {
    const raw = await twoOnOneConnection(gw.ports[0]!, req);
    const [first, second] = heads(raw);
    check(first!);
    expect(first!.filter((l) => l.startsWith('content-length'))).toEqual([]);
    expect(second?.[0]).toBe('http/1.1 200 ok');
    expect(raw.endsWith('\r\n\r\nhello')).toBe(true);
  });

  it('HEAD reports the upstream\'s length and sends no body', async () => {
    const raw = await twoOnOneConnection(gw.ports[0]!, 'HEAD /sized HTTP/1.1\r\nhost: x\r\n\r\n');
    const [first, second] = heads(raw);
    expect(first).toContain('content-length: 5');
    expect(second?.[0]).toBe('http/1.1 200 ok');
    expect(raw.match(/hello/g)).toHaveLength(1);
  });
});
