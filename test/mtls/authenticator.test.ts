// type: mtls: the identity of the verified client certificate. Each
// consumer_from and allow kind, deny_fingerprints, the certificate's fields
// as claims (authorize.claims, route_by, rate-limit keys, forward_claims),
// x-forwarded-client-cert (and a client's copy removed), the chain with
// another authenticator, and one parse per certificate on a kept-alive
// connection — all through the real gateway on 127.0.0.1.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { makeCa, makeLeaf, type CaFiles, type LeafFiles } from '../helpers/pki.js';
import { echoedHeaders, mtlsGet } from '../helpers/mtls-client.js';
import { startLabUpstream, type LabUpstream } from '../core/util.js';

let lab: LabUpstream;
let gw: RunningGateway;
let admin = '';
let ca: CaFiles;
let dev42: LeafFiles;
let dev7: LeafFiles;
let bare: LeafFiles;
let revoked: LeafFiles;
let kept: LeafFiles;
const API_KEY = 'k-0123456789abcdef0123456789abcdef';

const get = (p: string, client?: LeafFiles, headers?: Record<string, string>, agent?: https.Agent) =>
  mtlsGet(gw.ports[0]!, p, { ca: ca.pem, client, headers, agent });
const reasonOf = (r: { text: string }) => (JSON.parse(r.text) as { reason: string }).reason;

/** A named authenticator figure: its family and the labels besides authenticator. */
const FIGURES: Record<string, [family: string, labels: string]> = {
  accepted: ['portcullis_authn_decisions_total', 'result="accepted"'],
  parsed: ['portcullis_authn_cache_lookups_total', 'result="miss"'],
};

function metric(authenticator: string, stat: string): Promise<number> {
  const [name, extra] = FIGURES[stat]!;
  return new Promise((resolve, reject) => {
    http.get(`${admin}/metrics`, (res) => {
      let t = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { t += c; });
      res.on('end', () => {
        const line = t.split('\n').find((l) => l.startsWith(name + '{') && l.includes(`authenticator="${authenticator}"`) && l.includes(extra));
        resolve(line === undefined ? 0 : Number(line.split(' ').at(-1)));
      });
    }).on('error', reject);
  });
}

beforeAll(async () => {
  lab = await startLabUpstream();
  const dir = tempDir('portcullis-mtls-authn-');
  ca = makeCa(dir, 'clients-ca');
  makeLeaf(ca, 'server', { cn: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'], usage: 'server' });
  dev42 = makeLeaf(ca, 'dev42', { cn: 'device-42', subjectPrefix: '/O=Example Devices', uris: ['spiffe://example.org/device/42'], dns: ['d42.devices.example.org'] });
  dev7 = makeLeaf(ca, 'dev7', { cn: 'device-7', uris: ['spiffe://other.org/device/7'], dns: ['a.b.devices.example.org'] });
  bare = makeLeaf(ca, 'bare', { cn: 'bare' });
  revoked = makeLeaf(ca, 'revoked', { cn: 'device-42', uris: ['spiffe://example.org/device/42'] });
  kept = makeLeaf(ca, 'kept', { cn: 'kept-alive' });
  writeFileSync(path.join(dir, 'keys.yaml'), `- { consumer: robot, key_sha256: ${createHash('sha256').update(API_KEY).digest('hex')} }\n`);
  gw = await startGateway({
    server: { listen: [{ host: '127.0.0.1', port: 0, tls: { cert: 'server.crt', key: 'server.key', client_ca: 'clients-ca.crt', client_cert: 'optional' } }] },
    admin: { listen: { host: '127.0.0.1', port: 0 } },
    upstreams: { lab: { targets: [lab.url] } },
    authenticators: {
      'by-uri': {
        type: 'mtls', consumer_from: 'san_uri', allow: { san_uri_prefix: ['spiffe://example.org/'] },
        forward: {}, forward_claims: { subject_cn: 'x-device-cn', not_after: 'x-device-not-after' },
      },
      'by-dns': { type: 'mtls', consumer_from: 'san_dns', allow: { san_dns: ['*.devices.example.org'] } },
      'by-cn': { type: 'mtls', consumer_from: 'subject_cn', allow: { subject_cn: ['device-42'] } },
      'by-fp': { type: 'mtls', consumer_from: 'fingerprint', deny_fingerprints: [revoked.fingerprint.toUpperCase().match(/../g)!.join(':')] },
      'any-cn': { type: 'mtls', consumer_from: 'subject_cn' },
      'ka': { type: 'mtls', consumer_from: 'subject_cn' },
      'own-header': { type: 'mtls', consumer_from: 'subject_cn', forward: { header: 'x-client-cert' } },
      keys: { type: 'api_key', keys_file: 'keys.yaml' },
    },
    rate_limits: { 'per-cert': { key: 'claim:fingerprint', rate: 1, per: '1h', burst: 1 } },
    routes: [
      { name: 'uri', match: { path_prefix: '/uri' }, authenticate: ['by-uri'], upstream: 'lab' },
      { name: 'dns', match: { path_prefix: '/dns' }, authenticate: ['by-dns'], upstream: 'lab' },
      { name: 'cn', match: { path_prefix: '/cn' }, authenticate: ['by-cn'], upstream: 'lab' },
      { name: 'fp', match: { path_prefix: '/fp' }, authenticate: ['by-fp'], upstream: 'lab' },
      { name: 'chain', match: { path_prefix: '/chain' }, authenticate: ['any-cn', 'keys'], upstream: 'lab' },
      { name: 'claims', match: { path_prefix: '/claims' }, authenticate: ['any-cn'], authorize: { claims: { san_dns: ['d42.devices.example.org'] } }, upstream: 'lab' },
      { name: 'by', match: { path_prefix: '/route-by' }, authenticate: ['any-cn'], route_by: { claim: 'subject_cn', map: { 'device-42': 'lab' }, otherwise: 'deny' } },
      { name: 'limited', match: { path_prefix: '/limited' }, authenticate: ['any-cn'], rate_limit: ['per-cert'], upstream: 'lab' },
      { name: 'ka', match: { path_prefix: '/ka' }, authenticate: ['ka'], upstream: 'lab' },
      { name: 'own-header', match: { path_prefix: '/own-header' }, authenticate: ['own-header'], upstream: 'lab' },
      { name: 'public', match: { path_prefix: '/' }, anonymous: true, upstream: 'lab' },
    ],
  }, { dir });
  admin = String((JSON.parse(await gw.waitForLog(/portcullis listening/)) as { admin: string }).admin);
});

afterAll(async () => {
  await gw?.stop();
  await lab?.close();
});

describe('consumer_from and allow', () => {
  it('san_uri: the SPIFFE ID is the consumer; forward_claims carry the certificate fields', async () => {
    const r = await get('/uri', dev42);
    expect(r.status).toBe(200);
    const h = echoedHeaders(r);
    expect(h['x-portcullis-consumer']).toBe('spiffe://example.org/device/42');
    expect(h['x-portcullis-authenticator']).toBe('by-uri');
    expect(h['x-device-cn']).toBe('device-42');
    expect(Number(h['x-device-not-after'])).toBeGreaterThan(Date.now() / 1000);
  });

  it('san_uri_prefix: a SAN URI outside the prefixes is 403 client_cert_not_allowed, never proxied', async () => {
    const before = lab.arrived();
    const r = await get('/uri', dev7);
    expect(r.status).toBe(403);
    expect(reasonOf(r)).toBe('client_cert_not_allowed');
    // A certificate without any SAN URI proves no san_uri consumer.
    expect(reasonOf(await get('/uri', bare))).toBe('client_cert_not_allowed');
    expect(lab.arrived()).toBe(before);
  });

  it('san_dns: "*." matches exactly one label', async () => {
    const ok = await get('/dns', dev42);
    expect(ok.status).toBe(200);
    expect(echoedHeaders(ok)['x-portcullis-consumer']).toBe('d42.devices.example.org');
    const two = await get('/dns', dev7); // a.b.devices.example.org
    expect(two.status).toBe(403);
    expect(reasonOf(two)).toBe('client_cert_not_allowed');
  });

  it('subject_cn: only the listed CNs', async () => {
    const ok = await get('/cn', dev42);
    expect(ok.status).toBe(200);
    expect(echoedHeaders(ok)['x-portcullis-consumer']).toBe('device-42');
    expect(reasonOf(await get('/cn', dev7))).toBe('client_cert_not_allowed');
  });

  it('fingerprint: the SHA-256 is the consumer; a revoked fingerprint is 401 client_cert_revoked', async () => {
    const ok = await get('/fp', dev42);
    expect(ok.status).toBe(200);
    expect(echoedHeaders(ok)['x-portcullis-consumer']).toBe(dev42.fingerprint);
    const before = lab.arrived();
    const r = await get('/fp', revoked);
    expect(r.status).toBe(401);
    expect(reasonOf(r)).toBe('client_cert_revoked');
    expect(lab.arrived()).toBe(before);
  });
});

describe('claims for rules, route_by and rate limits', () => {
  it('authorize.claims on san_dns', async () => {
    expect((await get('/claims', dev42)).status).toBe(200);
    const r = await get('/claims', dev7);
    expect(r.status).toBe(403);
    expect(reasonOf(r)).toBe('claim_mismatch');
  });

  it('route_by on subject_cn', async () => {
    expect((await get('/route-by', dev42)).status).toBe(200);
    const r = await get('/route-by', dev7);
    expect(r.status).toBe(403);
    expect(reasonOf(r)).toBe('route_denied');
  });

  it('a rate limit keyed on claim:fingerprint counts each certificate apart', async () => {
    expect((await get('/limited', dev42)).status).toBe(200);
    const again = await get('/limited', dev42);
    expect(again.status).toBe(429);
    expect((await get('/limited', dev7)).status).toBe(200);
  });
});

describe('in a chain', () => {
  it('without a certificate the next authenticator decides; with one the certificate does', async () => {
    const key = await get('/chain', undefined, { 'x-api-key': API_KEY });
    expect(key.status).toBe(200);
    expect(echoedHeaders(key)['x-portcullis-consumer']).toBe('robot');
    const cert = await get('/chain', dev7);
    expect(echoedHeaders(cert)['x-portcullis-consumer']).toBe('device-7');
    const none = await get('/chain');
    expect(none.status).toBe(401);
    expect(reasonOf(none)).toBe('no_credentials');
  });
});

describe('x-forwarded-client-cert', () => {
  it('is sent in Envoy XFCC format when forward is set, replacing a client copy', async () => {
    const r = await get('/uri', dev42, { 'x-forwarded-client-cert': 'Hash=forged;URI=spiffe://example.org/admin' });
    const xfcc = echoedHeaders(r)['x-forwarded-client-cert'];
    expect(xfcc).toBe(`Hash=${dev42.fingerprint};Subject="CN=device-42,O=Example Devices";URI=spiffe://example.org/device/42;DNS=d42.devices.example.org`);
  });

  it('forward.header names another header: the client copy of that one is removed on every route', async () => {
    const forged = { 'x-client-cert': 'Hash=forged' };
    expect(echoedHeaders(await get('/public', undefined, forged))['x-client-cert']).toBeUndefined();
    const own = echoedHeaders(await get('/own-header', dev7, forged));
    expect(own['x-client-cert']).toBe(`Hash=${dev7.fingerprint};Subject="CN=device-7";URI=spiffe://other.org/device/7;DNS=a.b.devices.example.org`);
    expect(own['x-forwarded-client-cert']).toBeUndefined();
  });

  it('a client copy is removed on routes without forward, even anonymous ones', async () => {
    const forged = { 'x-forwarded-client-cert': 'Hash=forged;URI=spiffe://example.org/admin' };
    expect(echoedHeaders(await get('/public', undefined, forged))['x-forwarded-client-cert']).toBeUndefined();
    expect(echoedHeaders(await get('/cn', dev42, forged))['x-forwarded-client-cert']).toBeUndefined();
  });
});

describe('parse once', () => {
  it('a kept-alive connection presenting one certificate is parsed once for many requests', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 8; i++) expect((await get('/ka', kept, undefined, agent)).status).toBe(200);
    } finally {
      agent.destroy();
    }
    expect(await metric('ka', 'accepted')).toBe(8);
    expect(await metric('ka', 'parsed')).toBe(1);
  });
});

describe('deny_fingerprints reload', () => {
  it('a fingerprint added to the config and reloaded (SIGHUP) refuses that certificate from then on', async () => {
    expect((await get('/cn', dev42)).status).toBe(200);
    const { readFileSync, writeFileSync } = await import('node:fs');
    const { parse, stringify } = await import('yaml');
    const cfg = parse(readFileSync(gw.configFile, 'utf8')) as { authenticators: Record<string, { deny_fingerprints?: string[] }> };
    cfg.authenticators['by-cn']!.deny_fingerprints = [dev42.fingerprint];
    writeFileSync(gw.configFile, stringify(cfg));
    const reloads = gw.logs.filter((l) => /config reloaded/.test(l)).length;
    gw.proc.kill('SIGHUP');
    for (let i = 0; i < 100 && gw.logs.filter((l) => /config reloaded/.test(l)).length === reloads; i++) await new Promise((r) => setTimeout(r, 50));
    const r = await get('/cn', dev42);
    expect(r.status).toBe(401);
    expect(reasonOf(r)).toBe('client_cert_revoked');
  });
});

