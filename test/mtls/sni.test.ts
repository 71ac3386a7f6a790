// tls.sni: extra certificates chosen by the TLS server name (exact and "*."
// of one label); unknown names get the listener's cert. Client certificates
// are asked for under every name (each SNI context carries client_ca). A
// SIGHUP swaps an SNI certificate without dropping open connections.
import { execFile } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { fingerprintOf, makeCa, makeLeaf, type CaFiles, type LeafFiles } from '../helpers/pki.js';
import { mtlsGet } from '../helpers/mtls-client.js';

let dir: string;
let ca: CaFiles;
let other: CaFiles;
let device: LeafFiles;
let stranger: LeafFiles;
let gw: RunningGateway;
let config: object;

/** The certificate the gateway presents for `servername` (SHA-256 and CN), over node:tls. */
function presented(servername: string): Promise<{ fingerprint: string; cn: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: gw.ports[0]!, servername, ca: ca.pem, rejectUnauthorized: false }, () => {
      const c = s.getPeerX509Certificate()!;
      resolve({ fingerprint: fingerprintOf(c.toString()), cn: /CN=([^\n]+)/.exec(c.subject)?.[1] ?? '' });
      s.end();
    });
    s.on('error', reject);
  });
}

/** The subject line `openssl s_client -servername` prints. */
function sClientSubject(servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${gw.ports[0]}`, '-servername', servername], { timeout: 10_000 }, (err, stdout) => {
      const m = /subject=.*?CN\s?=\s?([^\n,]+)/.exec(stdout);
      if (m) resolve(m[1]!.trim()); else reject(err ?? new Error(stdout));
    });
    p.stdin!.end('');
  });
}

beforeAll(async () => {
  dir = tempDir('portcullis-sni-');
  ca = makeCa(dir, 'ca');
  other = makeCa(dir, 'other');
  makeLeaf(ca, 'default', { cn: 'default.example', dns: ['default.example'], usage: 'server' });
  makeLeaf(ca, 'api', { cn: 'api.example.com', dns: ['api.example.com'], usage: 'server' });
  makeLeaf(ca, 'org', { cn: 'wild.example.org', dns: ['*.example.org'], usage: 'server' });
  device = makeLeaf(ca, 'device', { cn: 'device-1' });
  stranger = makeLeaf(other, 'stranger', { cn: 'device-1' });
  const { generateKeyPairSync } = await import('node:crypto');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path.join(dir, 'keys.json'), JSON.stringify({ keys: [{ ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'k1' }] }));
  config = {
    identity_assertion: { issuer: 'https://gw.test', keys_file: 'keys.json', expose_jwks: true },
    server: {
      listen: [{
        host: '127.0.0.1', port: 0,
        tls: {
          cert: 'default.crt', key: 'default.key', client_ca: 'ca.crt', client_cert: 'optional',
          sni: [
            { server_name: 'api.example.com', cert: 'api.crt', key: 'api.key' },
            { server_name: '*.example.org', cert: 'org.crt', key: 'org.key' },
          ],
        },
      }],
    },
    authenticators: { devices: { type: 'mtls', consumer_from: 'subject_cn' } },
    routes: [
      { name: 'device', match: { path_prefix: '/device' }, authenticate: ['devices'], respond: { status: 200, body: 'device ok' } },
      { name: 'ping', match: { path_prefix: '/' }, anonymous: true, respond: { status: 200, body: 'pong' } },
    ],
  };
  gw = await startGateway(config, { dir });
});

afterAll(async () => {
  await gw?.stop();
});

describe('tls.sni', () => {
  it('presents the certificate of the exact name, of a one-label wildcard, and the default otherwise', async () => {
    expect((await presented('api.example.com')).cn).toBe('api.example.com');
    expect((await presented('shop.example.org')).cn).toBe('wild.example.org');
    expect((await presented('a.b.example.org')).cn).toBe('default.example');
    expect((await presented('unknown.example.net')).cn).toBe('default.example');
  });

  it('openssl s_client -servername sees the chosen certificate', async () => {
    expect(await sClientSubject('api.example.com')).toBe('api.example.com');
    expect(await sClientSubject('nothing.example.net')).toBe('default.example');
  });

  it('asks for client certificates under an SNI name too (client_ca applies to every name)', async () => {
    const o = { ca: ca.pem, servername: 'api.example.com' };
    const ok = await mtlsGet(gw.ports[0]!, '/device', { ...o, client: device });
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('device ok');
    expect((await mtlsGet(gw.ports[0]!, '/device', o)).status).toBe(401);
    await expect(mtlsGet(gw.ports[0]!, '/device', { ...o, client: stranger })).rejects.toThrow();
  });

  it('serves the exposed JWKS under an SNI name too (uWS routes each name apart)', async () => {
    const r = await mtlsGet(gw.ports[0]!, '/.well-known/portcullis/jwks.json', { ca: ca.pem, servername: 'api.example.com' });
    expect(r.status).toBe(200);
    expect((JSON.parse(r.text) as { keys: { kid: string }[] }).keys[0]!.kid).toBe('k1');
  });

  it('a SIGHUP swaps an SNI certificate; a connection opened before keeps being served', async () => {
    const before = await presented('api.example.com');
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const o = { ca: ca.pem, servername: 'api.example.com', agent };
      expect((await mtlsGet(gw.ports[0]!, '/', o)).text).toBe('pong');
      const fresh = makeLeaf(ca, 'api2', { cn: 'api.example.com', dns: ['api.example.com'], usage: 'server' });
      copyFileSync(fresh.cert, path.join(dir, 'api.crt'));
      copyFileSync(fresh.key, path.join(dir, 'api.key'));
      const reloads = gw.logs.filter((l) => /config reloaded/.test(l)).length;
      gw.proc.kill('SIGHUP');
      for (let i = 0; i < 100 && gw.logs.filter((l) => /config reloaded/.test(l)).length === reloads; i++) await new Promise((r) => setTimeout(r, 50));
      expect(gw.logs.filter((l) => /config reloaded/.test(l)).length).toBe(reloads + 1);
      const after = await presented('api.example.com');
      expect(after.fingerprint).toBe(fresh.fingerprint);
      expect(after.fingerprint).not.toBe(before.fingerprint);
      // The kept-alive connection still answers (same socket: the agent holds one).
      expect((await mtlsGet(gw.ports[0]!, '/', o)).text).toBe('pong');
      // Names not swapped keep their certificates.
      expect((await presented('shop.example.org')).cn).toBe('wild.example.org');
    } finally {
      agent.destroy();
    }
  });
});
