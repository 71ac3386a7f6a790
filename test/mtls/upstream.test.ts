// upstreams.*.tls, with both HTTP clients: trust only the given CA, present
// the gateway's client certificate to an upstream that requires one
// (node:https with requestCert), verify server_name. Every handshake failure
// is a 502 upstream_tls and no request reaches the upstream's handler.
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { makeCa, makeLeaf, type CaFiles, type LeafFiles } from '../helpers/pki.js';
import { LISTEN, request } from '../core/util.js';

let dir: string;
let internal: CaFiles;
let rogue: CaFiles;
let serverCert: LeafFiles;
let rogueCert: LeafFiles;
const servers: https.Server[] = [];
let strictPort = 0;
let roguePort = 0;
let resetPort = 0;
const resetServers: tls.Server[] = [];
/** Client certificate CNs the strict upstream's handler saw. */
const seen: string[] = [];

async function serve(leaf: LeafFiles, requireClient: boolean): Promise<number> {
  const s = https.createServer({
    key: leaf.keyPem, cert: leaf.pem, ca: internal.pem, requestCert: requireClient, rejectUnauthorized: requireClient,
  }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    seen.push(peer?.subject?.CN ?? '');
    res.end(`hello ${peer?.subject?.CN ?? 'anonymous'}`);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

beforeAll(async () => {
  dir = tempDir('portcullis-mtls-upstream-');
  internal = makeCa(dir, 'internal-ca');
  rogue = makeCa(dir, 'rogue-ca');
  serverCert = makeLeaf(internal, 'payments', { cn: 'payments.internal', dns: ['payments.internal'], usage: 'server' });
  rogueCert = makeLeaf(rogue, 'rogue', { cn: 'payments.internal', dns: ['payments.internal'], usage: 'server' });
  makeLeaf(internal, 'gateway-client', { cn: 'gateway' });
  strictPort = await serve(serverCert, true);
  roguePort = await serve(rogueCert, false);
  resetPort = await serveReset();
});

/**
 * Completes the handshake, then resets the TCP connection when the request
 * arrives (no alert is ever read): how a TLS 1.3 refusal of the client's
 * certificate often reaches the client.
 */
async function serveReset(): Promise<number> {
  const s = tls.createServer({ key: serverCert.keyPem, cert: serverCert.pem });
  s.on('secureConnection', (t: TLSSocket) => {
    // The TCP socket under the TLS one (node keeps it as _parent): reset it, not the TLS layer.
    const raw = (t as unknown as { _parent: Socket })._parent;
    t.once('data', () => { raw.resetAndDestroy(); });
    t.on('error', () => {});
  });
  resetServers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
  await Promise.all(resetServers.map((s) => new Promise((r) => s.close(r))));
});

describe.each(['native', 'undici'] as const)('upstream mTLS with client: %s', (client) => {
  let gw: RunningGateway;
  beforeAll(async () => {
    const trust = { ca: 'internal-ca.crt', server_name: 'payments.internal' };
    const up = (port: number, tls: object) => ({ targets: [`https://127.0.0.1:${port}`], client, timeout: '3s', tls });
    gw = await startGateway({
      server: { listen: LISTEN },
      upstreams: {
        payments: up(strictPort, { ...trust, cert: 'gateway-client.crt', key: 'gateway-client.key' }),
        'no-client-cert': up(strictPort, trust),
        'wrong-ca': up(roguePort, trust),
        'wrong-name': up(strictPort, { ca: 'internal-ca.crt', cert: 'gateway-client.crt', key: 'gateway-client.key' }),
        'reset-after-handshake': up(resetPort, trust),
      },
      routes: ['payments', 'no-client-cert', 'wrong-ca', 'wrong-name', 'reset-after-handshake'].map((u) => ({ name: u, match: { path_prefix: `/${u}` }, anonymous: true, upstream: u })),
    }, { dir });
  });
  afterAll(async () => { await gw?.stop(); });

  it('presents the client certificate to an upstream that requires one, trusting only tls.ca', async () => {
    const r = await request(`${gw.url}/payments/charge`);
    expect(r.status).toBe(200);
    expect(r.text).toBe('hello gateway');
  });

  it('without a client certificate the upstream refuses the handshake: 502, nothing served', async () => {
    const before = seen.length;
    const r = await request(`${gw.url}/no-client-cert/charge`);
    expect(r.status).toBe(502);
    // TLS 1.3: the refusal is an alert read after the handshake (undici saw the socket end first).
    expect(r.text).toContain('upstream_tls');
    expect(seen.length).toBe(before);
  });

  it('an upstream certificate from another CA is 502 upstream_tls (even one the name fits)', async () => {
    const before = seen.length;
    const r = await request(`${gw.url}/wrong-ca/charge`);
    expect(r.status).toBe(502);
    expect(r.text).toContain('upstream_tls');
    expect(seen.length).toBe(before);
  });

  it('a certificate not for the name dialled (no server_name, no IP SAN) is 502 upstream_tls', async () => {
    const r = await request(`${gw.url}/wrong-name/charge`);
    expect(r.status).toBe(502);
    expect(r.text).toContain('upstream_tls');
  });

  it('a TLS connection reset before any byte of its first response is 502 upstream_tls', async () => {
    const r = await request(`${gw.url}/reset-after-handshake/charge`);
    expect(r.status).toBe(502);
    expect(r.text).toContain('upstream_tls');
  });
});
