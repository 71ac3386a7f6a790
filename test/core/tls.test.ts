// A TLS listener (uWS SSLApp) next to a plain HTTP listener in one gateway:
// both answer, proxied and respond routes alike, and X-Forwarded-Proto tells
// the upstream which one the client used.
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { selfSignedCert } from '../helpers/tls-cert.js';
import { request, startLabUpstream, type LabUpstream } from './util.js';

let gw: RunningGateway;
let lab: LabUpstream;
let cert: string;

function httpsGet(url: string, opts: https.RequestOptions = {}): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ca: cert, servername: 'localhost', agent: false, ...opts }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(opts.method === 'POST' ? 'x'.repeat(100_000) : undefined);
  });
}

beforeAll(async () => {
  lab = await startLabUpstream();
  const dir = tempDir('portcullis-tls-');
  selfSignedCert(dir, 'server');
  const { readFileSync } = await import('node:fs');
  cert = readFileSync(path.join(dir, 'server.crt'), 'utf8');
  gw = await startGateway({
    server: {
      listen: [
        { host: '127.0.0.1', port: 0 },
        // Relative paths resolve against the config file's directory.
        { host: '127.0.0.1', port: 0, tls: { cert: 'server.crt', key: 'server.key' } },
      ],
    },
    upstreams: { lab: { targets: [lab.url] } },
    routes: [
      { name: 'ping', match: { path: '/ping' }, anonymous: true, respond: { status: 200, body: 'pong' } },
      { name: 'all', match: { path_prefix: '/' }, anonymous: true, upstream: 'lab' },
    ],
  }, { dir });
});

afterAll(async () => {
  await gw?.stop();
  await lab?.close();
});

describe('TLS and plain listeners side by side', () => {
  it('logs both listeners with their schemes', () => {
    const line = gw.logs.find((l) => /portcullis listening/.test(l))!;
    const listeners = (JSON.parse(line) as { listeners: string[] }).listeners;
    expect(listeners[0]).toMatch(/^http:\/\//);
    expect(listeners[1]).toMatch(/^https:\/\//);
    expect(gw.ports[0]).not.toBe(gw.ports[1]);
  });

  it('answers a respond route over HTTPS with a certificate the client verifies', async () => {
    const r = await httpsGet(`https://127.0.0.1:${gw.ports[1]}/ping`);
    expect(r.status).toBe(200);
    expect(r.text).toBe('pong');
  });

  it('proxies over HTTPS and tells the upstream x-forwarded-proto: https', async () => {
    const r = await httpsGet(`https://127.0.0.1:${gw.ports[1]}/over-tls`);
    expect(r.status).toBe(200);
    const j = JSON.parse(r.text) as { url: string; headers: Record<string, string> };
    expect(j.url).toBe('/over-tls');
    expect(j.headers['x-forwarded-proto']).toBe('https');
  });

  it('streams a request body over HTTPS', async () => {
    const r = await httpsGet(`https://127.0.0.1:${gw.ports[1]}/tls-body`, { method: 'POST', headers: { 'content-length': '100000' } });
    expect(r.status).toBe(200);
    expect((JSON.parse(r.text) as { bytes: number }).bytes).toBe(100_000);
  });

  it('still answers plain HTTP on the other listener, with x-forwarded-proto: http', async () => {
    expect((await request(`http://127.0.0.1:${gw.ports[0]}/ping`)).text).toBe('pong');
    const r = await request(`http://127.0.0.1:${gw.ports[0]}/plain`);
    expect(r.json<{ headers: Record<string, string> }>().headers['x-forwarded-proto']).toBe('http');
  });

  it('refuses a client that does not trust the certificate', async () => {
    await expect(httpsGet(`https://127.0.0.1:${gw.ports[1]}/ping`, { ca: undefined })).rejects.toThrow(/self[- ]signed|certificate/i);
  });

  it('does not speak plain HTTP on the TLS port', async () => {
    await expect(request(`http://127.0.0.1:${gw.ports[1]}/ping`, { timeoutMs: 3000 })).rejects.toThrow();
  });
});
