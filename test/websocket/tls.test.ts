// WebSockets over TLS on both sides: a wss:// client on a TLS listener (also
// under a tls.sni name, which has its own uWS router), relayed to a wss://
// upstream trusted through upstreams.*.tls.ca.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { selfSignedCert } from '../helpers/tls-cert.js';
import { startWsUpstream, type WsUpstream } from './ws-upstream.js';

function echoOnce(url: string, ca: string, servername: string): Promise<{ text: string }> {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(url, { ca, servername, perMessageDeflate: false, handshakeTimeout: 5000 });
    const t = setTimeout(() => { s.terminate(); reject(new Error('no echo')); }, 8000);
    s.once('open', () => s.send('over tls'));
    s.once('message', (d: Buffer) => { clearTimeout(t); s.close(); resolve({ text: d.toString() }); });
    s.once('unexpected-response', (_q, r) => { clearTimeout(t); reject(new Error(`refused ${r.statusCode}`)); });
    s.once('error', (e) => { clearTimeout(t); reject(e); });
  });
}

describe('WebSockets over TLS', () => {
  let up: WsUpstream;
  let gw: RunningGateway;
  let dir: string;

  beforeAll(async () => {
    dir = tempDir();
    const upCert = selfSignedCert(dir, 'upstream');
    const gwCert = selfSignedCert(dir, 'listener');
    const sniCert = selfSignedCert(dir, 'sni');
    up = await startWsUpstream(upCert);
    gw = await startGateway({
      server: { listen: [{ host: '127.0.0.1', port: 0, tls: { cert: 'listener.crt', key: 'listener.key', sni: [{ server_name: 'localhost', cert: 'sni.crt', key: 'sni.key' }] } }] },
      upstreams: { secure: { targets: [up.url], tls: { ca: 'upstream.crt', server_name: 'localhost' } } },
      routes: [{ name: 'live', match: { path_prefix: '/' }, anonymous: true, upstream: 'secure', websocket: {} }],
    }, { dir });
  }, 30_000);

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('relays wss:// to a wss:// upstream verified against upstreams.*.tls.ca, on the default certificate and under a tls.sni name', async () => {
    const port = gw.ports[0]!;
    const n = up.upgrades.length;
    // 127.0.0.1 as server name is not sent as SNI: the listener's own certificate.
    expect((await echoOnce(`wss://127.0.0.1:${port}/echo`, readFileSync(path.join(dir, 'listener.crt'), 'utf8'), '127.0.0.1')).text).toBe('over tls');
    // SNI localhost: the tls.sni certificate and its own router.
    expect((await echoOnce(`wss://127.0.0.1:${port}/echo`, readFileSync(path.join(dir, 'sni.crt'), 'utf8'), 'localhost')).text).toBe('over tls');
    expect(up.upgrades.length).toBe(n + 2);
    expect(up.upgrades.at(-1)!.headers['x-forwarded-proto']).toBe('https');
  });
});
