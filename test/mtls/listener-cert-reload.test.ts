// The listener's own tls.cert/key (the certificate for clients sending no
// server name or an unknown one) are swapped on SIGHUP too: uWS cannot change
// a running app's default context, so a new app takes over the port
// (SO_REUSEPORT) and the old one serves the connections it holds until they end.
import { execFile } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { fingerprintOf, makeCa, makeLeaf, type CaFiles, type LeafFiles } from '../helpers/pki.js';
import { mtlsGet } from '../helpers/mtls-client.js';
import { freePort } from '../core/util.js';

let dir: string;
let ca: CaFiles;
let device: LeafFiles;
let gw: RunningGateway;
let port = 0;

/** The certificate presented to a client that sends no server name (SHA-256). */
function presented(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: ca.pem, rejectUnauthorized: false }, () => {
      resolve(fingerprintOf(s.getPeerX509Certificate()!.toString()));
      s.end();
    });
    s.on('error', reject);
  });
}

/** The subject CN `openssl s_client` (no -servername: an IP address sends none) prints. */
function sClientCn(): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-noservername'], { timeout: 10_000 }, (err, stdout) => {
      const m = /subject=.*?CN\s?=\s?([^\n,]+)/.exec(stdout);
      if (m) resolve(m[1]!.trim()); else reject(err ?? new Error(stdout));
    });
    p.stdin!.end('');
  });
}

async function sighup(): Promise<void> {
  const reloads = gw.logs.filter((l) => /config reloaded/.test(l)).length;
  gw.proc.kill('SIGHUP');
  for (let i = 0; i < 100 && gw.logs.filter((l) => /config reloaded|reload rejected/.test(l)).length === reloads; i++) await new Promise((r) => setTimeout(r, 50));
  expect(gw.logs.filter((l) => /config reloaded/.test(l)).length).toBe(reloads + 1);
}

beforeAll(async () => {
  dir = tempDir('portcullis-cert-reload-');
  ca = makeCa(dir, 'ca');
  makeLeaf(ca, 'server', { cn: 'first.example', dns: ['first.example'], ips: ['127.0.0.1'], usage: 'server' });
  device = makeLeaf(ca, 'device', { cn: 'device-1' });
  // A port the kernel chose cannot be shared (SO_REUSEPORT): the swap needs a fixed one.
  port = await freePort();
  gw = await startGateway({
    server: { listen: [{ host: '127.0.0.1', port, tls: { cert: 'server.crt', key: 'server.key', client_ca: 'ca.crt', client_cert: 'optional' } }] },
    authenticators: { devices: { type: 'mtls', consumer_from: 'subject_cn' } },
    routes: [
      { name: 'device', match: { path_prefix: '/device' }, authenticate: ['devices'], respond: { status: 200, body: 'device ok' } },
      { name: 'ping', match: { path_prefix: '/' }, anonymous: true, respond: { status: 200, body: 'pong' } },
    ],
  }, { dir });
});

afterAll(async () => {
  await gw?.stop();
});

describe('listener certificate reload', () => {
  it('a SIGHUP swaps tls.cert/key; a connection opened before keeps being served; client_ca still applies', async () => {
    const before = await presented();
    expect(await sClientCn()).toBe('first.example');
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const o = { ca: ca.pem, servername: 'first.example', agent, client: device };
      expect((await mtlsGet(port, '/device', o)).text).toBe('device ok');
      const fresh = makeLeaf(ca, 'server2', { cn: 'second.example', dns: ['second.example'], ips: ['127.0.0.1'], usage: 'server' });
      copyFileSync(fresh.cert, path.join(dir, 'server.crt'));
      copyFileSync(fresh.key, path.join(dir, 'server.key'));
      await sighup();
      expect(gw.logs.some((l) => /listener certificate reloaded/.test(l))).toBe(true);
      const after = await presented();
      expect(after).toBe(fresh.fingerprint);
      expect(after).not.toBe(before);
      expect(await sClientCn()).toBe('second.example');
      // The kept-alive connection (opened on the old certificate) still answers.
      expect((await mtlsGet(port, '/device', o)).text).toBe('device ok');
      // New connections: client certificates are still asked for and verified.
      expect((await mtlsGet(port, '/device', { ca: ca.pem, servername: 'second.example', client: device })).text).toBe('device ok');
      expect((await mtlsGet(port, '/device', { ca: ca.pem, servername: 'second.example' })).status).toBe(401);
    } finally {
      agent.destroy();
    }
  });

  it('a SIGHUP without a certificate change keeps the same listener (no second swap)', async () => {
    const swaps = gw.logs.filter((l) => /listener certificate reloaded/.test(l)).length;
    await sighup();
    expect(gw.logs.filter((l) => /listener certificate reloaded/.test(l)).length).toBe(swaps);
    expect((await mtlsGet(port, '/', { ca: ca.pem, servername: 'second.example' })).text).toBe('pong');
  });
});
