// identity_assertion: a signed JWT in x-portcullis-assertion for upstreams,
// verified here with jose against the JWKS the gateway serves (admin
// listener; public listener with expose_jwks). Issuer, audience (the
// upstream's name), subject (the consumer), lifetime ≤ ttl, two keys
// published and the first signing, one signature reused across requests,
// a client's copy removed.
import { createHash, generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, tempDir, type RunningGateway } from '../helpers/gateway.js';
import { LISTEN, request, startLabUpstream, type LabUpstream } from '../core/util.js';

const API_KEY = 'assertion-test-key-0123456789abcdef';
let lab: LabUpstream;
let gw: RunningGateway;
let admin = '';
const ISS = 'https://gateway.test.example';

function privateJwk(kid: string): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid };
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
}

async function assertionOf(p: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await request(`${gw.url}${p}`, { headers: { 'x-api-key': API_KEY, ...headers } });
  expect(r.status).toBe(200);
  return (JSON.parse(r.text) as { headers: Record<string, string> }).headers['x-portcullis-assertion']!;
}

beforeAll(async () => {
  lab = await startLabUpstream();
  const dir = tempDir('portcullis-assertion-');
  writeFileSync(path.join(dir, 'assertion.jwks.json'), JSON.stringify({ keys: [privateJwk('k-new'), privateJwk('k-old')] }));
  writeFileSync(path.join(dir, 'keys.yaml'), `- { consumer: robot, key_sha256: ${createHash('sha256').update(API_KEY).digest('hex')}, metadata: { tier: gold } }\n`);
  gw = await startGateway({
    server: { listen: LISTEN },
    admin: { listen: { host: '127.0.0.1', port: 0 } },
    identity_assertion: { issuer: ISS, algorithm: 'ES256', keys_file: 'assertion.jwks.json', ttl: '60s', expose_jwks: true },
    upstreams: { orders: { targets: [lab.url] }, billing: { targets: [lab.url] } },
    authenticators: { keys: { type: 'api_key', keys_file: 'keys.yaml' } },
    routes: [
      { name: 'orders', match: { path_prefix: '/orders' }, authenticate: ['keys'], identity_assertion: true, upstream: 'orders' },
      { name: 'billing', match: { path_prefix: '/billing' }, authenticate: ['keys'], identity_assertion: true, upstream: 'billing' },
      { name: 'plain', match: { path_prefix: '/plain' }, authenticate: ['keys'], upstream: 'orders' },
      { name: 'open', match: { path_prefix: '/' }, anonymous: true, identity_assertion: true, upstream: 'orders' },
    ],
  }, { dir });
  admin = String((JSON.parse(await gw.waitForLog(/portcullis listening/)) as { admin: string }).admin);
});

afterAll(async () => {
  await gw?.stop();
  await lab?.close();
});

describe('identity_assertion', () => {
  it('is an ES256 JWT the served JWKS verifies: issuer, audience = upstream name, subject = consumer, lifetime ≤ ttl', async () => {
    const jwks = JSON.parse((await get(`${admin}/.well-known/portcullis/jwks.json`)).body) as JSONWebKeySet;
    expect(jwks.keys.map((k) => k.kid)).toEqual(['k-new', 'k-old']);
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true); // public halves only
    const token = await assertionOf('/orders/1');
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', kid: 'k-new' }); // the first key signs
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISS, audience: 'orders', algorithms: ['ES256'] });
    expect(payload.sub).toBe('robot');
    expect(payload.authenticator).toBe('keys');
    expect(typeof payload.jti).toBe('string');
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
    expect(payload.exp!).toBeGreaterThan(Date.now() / 1000);
    // Another upstream gets its own audience: a token for orders is not one for billing.
    const billing = await assertionOf('/billing/1');
    await expect(jwtVerify(billing, createLocalJWKSet(jwks), { issuer: ISS, audience: 'orders' })).rejects.toThrow();
    expect((await jwtVerify(billing, createLocalJWKSet(jwks), { issuer: ISS, audience: 'billing' })).payload.sub).toBe('robot');
  });

  it('is signed once per identity and upstream, and reused', async () => {
    const a = await assertionOf('/orders/a');
    const b = await assertionOf('/orders/b');
    expect(b).toBe(a);
  });

  it("a client's copy is removed: on routes with the assertion, without it, and anonymous ones", async () => {
    const forged = { 'x-portcullis-assertion': 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.' };
    const real = await assertionOf('/orders/x', forged);
    expect(real).not.toBe(forged['x-portcullis-assertion']);
    expect(await assertionOf('/plain/x', forged)).toBeUndefined();
    const anon = await request(`${gw.url}/anon`, { headers: forged });
    expect((JSON.parse(anon.text) as { headers: Record<string, string> }).headers['x-portcullis-assertion']).toBeUndefined();
  });

  it('expose_jwks serves the same JWKS on the public listener', async () => {
    const pub = await get(`${gw.url}/.well-known/portcullis/jwks.json`);
    expect(pub.status).toBe(200);
    expect(pub.body).toBe((await get(`${admin}/.well-known/portcullis/jwks.json`)).body);
  });
});
