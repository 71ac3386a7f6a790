// tls.client_ca / tls.client_cert on a listener (mutual TLS). uWS verifies a
// presented certificate's chain in the handshake but lets a client without a
// certificate through, so `required` is enforced by the gateway before
// routing: 401 client_cert_required, nothing proxied. `optional` lets each
// route decide (anonymous routes serve, mtls routes need a certificate).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { makeCa, makeLeaf, type CaFiles, type LeafFiles } from '../helpers/pki.js';
import { startLabUpstream, type LabUpstream } from '../core/util.js';
import { mtlsGet as get } from '../helpers/mtls-client.js';

let lab: LabUpstream;
let ca: CaFiles;
let other: CaFiles;
let device: LeafFiles;
let stranger: LeafFiles;
let required: RunningGateway;
let optional: RunningGateway;

beforeAll(async () => {
  lab = await startLabUpstream();
  const dir = tempDir('portcullis-mtls-listener-');
  ca = makeCa(dir, 'clients-ca');
  other = makeCa(dir, 'other-ca');
  makeLeaf(ca, 'server', { cn: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'], usage: 'server' });
  device = makeLeaf(ca, 'device', { cn: 'device-42', uris: ['spiffe://example.org/device/42'] });
  stranger = makeLeaf(other, 'stranger', { cn: 'device-42', uris: ['spiffe://example.org/device/42'] });
  const tls = { cert: 'server.crt', key: 'server.key', client_ca: 'clients-ca.crt' };
  const base = {
    upstreams: { lab: { targets: [lab.url] } },
    authenticators: { devices: { type: 'mtls', consumer_from: 'subject_cn' } },
  };
  required = await startGateway({
    ...base,
    server: { listen: [{ host: '127.0.0.1', port: 0, tls }] },
    routes: [{ name: 'all', match: { path_prefix: '/' }, anonymous: true, upstream: 'lab' }],
  }, { dir });
  const dir2 = tempDir('portcullis-mtls-listener-opt-');
  for (const f of ['server.crt', 'server.key', 'clients-ca.crt']) {
    const { copyFileSync } = await import('node:fs');
    copyFileSync(`${dir}/${f}`, `${dir2}/${f}`);
  }
  optional = await startGateway({
    ...base,
    server: { listen: [{ host: '127.0.0.1', port: 0, tls: { ...tls, client_cert: 'optional' } }] },
    routes: [
      { name: 'devices', match: { path_prefix: '/device' }, authenticate: ['devices'], upstream: 'lab' },
      { name: 'public', match: { path_prefix: '/' }, anonymous: true, upstream: 'lab' },
    ],
  }, { dir: dir2 });
});

afterAll(async () => {
  await required?.stop();
  await optional?.stop();
  await lab?.close();
});

describe('tls.client_cert: required', () => {
  it('answers 401 client_cert_required to a client without a certificate, and proxies nothing', async () => {
    const before = lab.arrived();
    const r = await get(required.ports[0]!, '/anything', { ca: ca.pem });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.text)).toEqual({ error: 'unauthorized', reason: 'client_cert_required' });
    // Before routing: even a path no route matches gets the same answer.
    expect(lab.arrived()).toBe(before);
  });

  it('serves a client whose certificate chains to client_ca', async () => {
    const r = await get(required.ports[0]!, '/with-cert', { ca: ca.pem, client: device });
    expect(r.status).toBe(200);
    expect((JSON.parse(r.text) as { url: string }).url).toBe('/with-cert');
  });

  it('fails the handshake of a certificate from another CA: no request reaches the upstream', async () => {
    const before = lab.arrived();
    await expect(get(required.ports[0]!, '/stranger', { ca: ca.pem, client: stranger })).rejects.toThrow();
    expect(lab.arrived()).toBe(before);
  });
});

describe('tls.client_cert: optional', () => {
  it('serves an anonymous route to a client without a certificate', async () => {
    const r = await get(optional.ports[0]!, '/public', { ca: ca.pem });
    expect(r.status).toBe(200);
  });

  it('refuses an mtls route without a certificate (401 no_credentials) and serves it with one', async () => {
    const before = lab.arrived();
    const r = await get(optional.ports[0]!, '/device/status', { ca: ca.pem });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.text)).toMatchObject({ reason: 'no_credentials' });
    expect(lab.arrived()).toBe(before);
    const ok = await get(optional.ports[0]!, '/device/status', { ca: ca.pem, client: device });
    expect(ok.status).toBe(200);
    expect((JSON.parse(ok.text) as { headers: Record<string, string> }).headers['x-portcullis-consumer']).toBe('device-42');
  });

  it('still fails the handshake of a certificate from another CA', async () => {
    await expect(get(optional.ports[0]!, '/public', { ca: ca.pem, client: stranger })).rejects.toThrow();
  });
});
