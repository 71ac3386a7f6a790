// An https:// upstream target, with both HTTP clients: the certificate is
// checked against the process's trust store (NODE_EXTRA_CA_CERTS adds a
// private CA, as a user would for an internal service); an untrusted
// certificate is a 502, never a silent plain-text fallback or a hang.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, tempDir } from '../helpers/gateway.js';
import { selfSignedCert } from '../helpers/tls-cert.js';
import { LISTEN, request } from './util.js';

let server: https.Server;
let port: number;
let certFile: string;
const seen: { method: string; url: string; body: string; host: string }[] = [];

beforeAll(async () => {
  const dir = tempDir('portcullis-upstream-tls-');
  const files = selfSignedCert(dir, 'up');
  certFile = files.cert;
  server = https.createServer({ key: readFileSync(files.key), cert: readFileSync(certFile) }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body, host: req.headers.host ?? '' });
      res.setHeader('content-type', 'text/plain');
      res.end(`tls upstream: ${req.method} ${req.url} ${body.length}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const config = (client: 'native' | 'undici') => ({
  server: { listen: LISTEN },
  upstreams: { secure: { targets: [`https://127.0.0.1:${port}`], client, connect_timeout: '2s', timeout: '3s' } },
  routes: [{ name: 'all', match: { path_prefix: '/' }, anonymous: true, upstream: 'secure' }],
});

describe.each(['native', 'undici'] as const)('https upstream with client: %s', (client) => {
  it('proxies GET and a streamed POST body when the upstream certificate is trusted', async () => {
    const gw = await startGateway(config(client), { env: { NODE_EXTRA_CA_CERTS: certFile } });
    try {
      const r = await request(`${gw.url}/hello?x=1`);
      expect(r.status).toBe(200);
      expect(r.text).toBe('tls upstream: GET /hello?x=1 0');
      const body = 'y'.repeat(200_000);
      const p = await request(`${gw.url}/upload`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } });
      expect(p.status).toBe(200);
      expect(p.text).toBe(`tls upstream: POST /upload ${body.length}`);
      const last = seen.filter((s) => s.url === '/upload').at(-1)!;
      expect(last.body).toBe(body);
      expect(last.host).toBe(`127.0.0.1:${port}`);
    } finally {
      await gw.stop();
    }
  });

  it('answers 502 when the upstream certificate is not trusted (and keeps serving)', async () => {
    const before = seen.length;
    const gw = await startGateway(config(client));
    try {
      for (let i = 0; i < 3; i++) {
        const r = await request(`${gw.url}/untrusted`);
        expect(r.status).toBe(502);
        expect(r.text).toContain('upstream_tls');
      }
      expect(seen.length).toBe(before);
    } finally {
      await gw.stop();
    }
  });
});
