// Key sources of a JWT authenticator: inline PEM and JWK, jwks_file, shared
// secrets from a file or the environment, and the problems reported for each.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AUTH_OK, AUTH_REJECT } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileJwt } from '../../src/auth/jwt/index.js';
import { bearer, contextFor, nowSec, signJws } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-jwt-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const claims = () => ({ sub: 's', exp: nowSec() + 60 });

function compile(cfg: Record<string, unknown>) {
  const { ctx, issues, config } = contextFor({ j: { type: 'jwt', ...cfg } });
  return { auth: compileJwt('j', config.authenticators['j'] as never, 'authenticators.j', ctx), issues };
}

describe('JWT key sources', () => {
  it('accepts an inline PEM public key (kid-less: tried for any kid)', () => {
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const { auth, issues } = compile({ algorithms: ['RS256'], keys: [pem] });
    expect(issues).toEqual([]);
    expect(auth.authenticate(bearer(signJws({ alg: 'RS256', kid: 'whatever' }, claims(), rsa.privateKey)))).toBe(AUTH_OK);
  });

  it('reads a JWK Set from jwks_file', () => {
    const f = path.join(dir, 'jwks.json');
    writeFileSync(f, JSON.stringify({ keys: [{ ...ec.publicKey.export({ format: 'jwk' }), kid: 'p384', alg: 'ES384' }] }));
    const { auth, issues } = compile({ algorithms: ['ES384'], jwks_file: f });
    expect(issues).toEqual([]);
    expect(auth.authenticate(bearer(signJws({ alg: 'ES384', kid: 'p384' }, claims(), ec.privateKey)))).toBe(AUTH_OK);
  });

  it('reads an HMAC secret from secret_file and from secret_env', () => {
    const secret = randomBytes(48).toString('base64');
    const f = path.join(dir, 'secret');
    writeFileSync(f, `${secret}\n`);
    process.env['PORTCULLIS_TEST_JWT_SECRET'] = secret;
    const token = signJws({ alg: 'HS256' }, claims(), Buffer.from(secret));
    for (const src of [{ secret_file: f }, { secret_env: 'PORTCULLIS_TEST_JWT_SECRET' }]) {
      const { auth, issues } = compile({ algorithms: ['HS256'], ...src });
      expect(issues).toEqual([]);
      expect(auth.authenticate(bearer(token))).toBe(AUTH_OK);
      const v = bearer(signJws({ alg: 'HS256' }, claims(), Buffer.from(secret + 'x')));
      expect(auth.authenticate(v)).toBe(AUTH_REJECT);
      expect(v.reason).toBe(R.bad_signature);
    }
  });

  it('reports a JWK whose alg is not in algorithms', () => {
    const { issues } = compile({ algorithms: ['RS256'], keys: [{ ...ec.publicKey.export({ format: 'jwk' }), alg: 'ES384' }] });
    expect(issues[0]?.path).toBe('authenticators.j.keys[0]');
    expect(issues[0]?.message).toMatch(/is for ES384, which is not in algorithms \[RS256\]/);
  });

  it('reports a key that cannot serve any allowed algorithm (P-384 key, ES256 allowed)', () => {
    const { issues } = compile({ algorithms: ['ES256'], keys: [ec.publicKey.export({ format: 'jwk' })] });
    expect(issues[0]?.message).toMatch(/ES256 needs curve prime256v1/);
  });

  it('reports text that is not a key', () => {
    const { issues } = compile({ algorithms: ['RS256'], keys: ['not a key'] });
    expect(issues[0]?.message).toMatch(/expected a PEM public key/);
  });

  it('reports an unreadable or invalid jwks_file', () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{ "keys": ');
    expect(compile({ algorithms: ['RS256'], jwks_file: path.join(dir, 'missing.json') }).issues[0]?.message).toMatch(/ENOENT/);
    expect(compile({ algorithms: ['RS256'], jwks_file: bad }).issues[0]?.message).toMatch(/not valid JSON/);
  });

  it('reports HS algorithms without a secret', () => {
    const { issues } = compile({ algorithms: ['HS256'], keys: [rsa.publicKey.export({ type: 'spki', format: 'pem' })] });
    expect(issues.map((i) => i.message).join('\n')).toMatch(/HS256 needs a shared secret/);
  });

  it('reports a secret given for public-key algorithms', () => {
    const { issues } = compile({ algorithms: ['RS256'], secret: 'x'.repeat(40) });
    expect(issues[0]?.path).toBe('authenticators.j.secret');
  });
});
