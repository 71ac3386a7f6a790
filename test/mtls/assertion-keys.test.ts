// identity_assertion keys: EdDSA signs too, and rotation is the key order —
// the first key signs, every key is published, so moving a published key
// first (and reloading) switches signing without an unverifiable token.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { describe, expect, it } from 'vitest';
import { makeCompileContext, validateConfig } from '../../src/config/load.js';
import { compileAssertion } from '../../src/proxy/assertion/index.js';
import { makeIdentity } from '../../src/auth/identity.js';
import { tempDir } from '../helpers/gateway.js';

function signerFor(keys: object[], algorithm: 'ES256' | 'EdDSA') {
  const dir = tempDir('portcullis-assertion-keys-');
  writeFileSync(path.join(dir, 'k.json'), JSON.stringify({ keys }));
  const plan = validateConfig({
    identity_assertion: { issuer: 'https://gw.test', algorithm, keys_file: path.join(dir, 'k.json'), ttl: '30s' },
    upstreams: { api: { targets: ['http://127.0.0.1:9'] } },
    authenticators: { keys: { type: 'api_key', keys_file: 'x' } },
    routes: [{ name: 'r', match: { path_prefix: '/' }, anonymous: true, identity_assertion: true, upstream: 'api' }],
  }, '');
  const issues: { path: string; message: string }[] = [];
  const s = compileAssertion(plan.config, ['api'], makeCompileContext(plan, issues));
  return { s, issues };
}

const jwk = (type: 'ec' | 'ed25519', kid: string) => ({
  ...(type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519')).privateKey.export({ format: 'jwk' }), kid,
});

describe('identity_assertion keys', () => {
  it('EdDSA (Ed25519) assertions verify against the published JWKS', async () => {
    const { s, issues } = signerFor([jwk('ed25519', 'ed-1')], 'EdDSA');
    expect(issues).toEqual([]);
    const token = s!.token(makeIdentity('keys', 'robot', {}, {}, Infinity), 0);
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(JSON.parse(s!.jwksJson) as JSONWebKeySet), { issuer: 'https://gw.test', audience: 'api' });
    expect(protectedHeader.alg).toBe('EdDSA');
    expect(payload.sub).toBe('robot');
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(30);
  });

  it('rotation: the first key signs; after reordering, the other signs and old tokens still verify', async () => {
    const a = jwk('ec', 'a');
    const b = jwk('ec', 'b');
    const before = signerFor([a, b], 'ES256').s!;
    const after = signerFor([b, a], 'ES256').s!;
    const id = makeIdentity('keys', 'robot', {}, {}, Infinity);
    const t1 = before.token(id, 0);
    const t2 = after.token(id, 0);
    expect(decodeProtectedHeader(t1).kid).toBe('a');
    expect(decodeProtectedHeader(t2).kid).toBe('b');
    const jwks = createLocalJWKSet(JSON.parse(after.jwksJson) as JSONWebKeySet);
    for (const t of [t1, t2]) expect((await jwtVerify(t, jwks, { audience: 'api' })).payload.sub).toBe('robot');
  });

  it('an assertion never outlives the identity it speaks for', () => {
    const { s } = signerFor([jwk('ec', 'a')], 'ES256');
    const soon = Date.now() + 5_000;
    const t = s!.token(makeIdentity('keys', 'robot', {}, {}, soon), 0);
    const payload = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as { exp: number };
    expect(payload.exp).toBeLessThanOrEqual(Math.floor(soon / 1000));
  });

  it('refuses a public-only key, a missing kid and a key of the other algorithm', () => {
    const { x, y, crv, kty } = jwk('ec', 'p') as unknown as Record<string, string>;
    const { issues } = signerFor([{ kty, crv, x, y, kid: 'p' }, { ...jwk('ec', 'q'), kid: undefined }, jwk('ed25519', 'e')], 'ES256');
    const msgs = issues.map((i) => `${i.path}: ${i.message}`).join('\n');
    expect(msgs).toContain('not a private key');
    expect(msgs).toContain('every key needs a kid');
    expect(msgs).toContain('algorithm ES256 needs an EC P-256 key');
  });
});
