// The hostile-token corpus: every way a token can lie, each its own test.
// All keys are made here, at test time.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, type AuthResult } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileJwt } from '../../src/auth/jwt/index.js';
import { makeVerifier } from '../../src/auth/jwt/verifier.js';
import { bearer, contextFor, nowSec, signJws, TestView } from './helpers.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaOther = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
const SECRET = 'x'.repeat(32) + '-test-secret-made-at-test-time-' + Math.random();

const jwk = (k: KeyObject, kid: string) => ({ ...k.export({ format: 'jwk' }), kid });
const ISS = 'https://idp.test/';
const AUD = 'orders-api';

function compile(extra: Record<string, unknown> = {}, name = 'corp') {
  const cfg = {
    type: 'jwt',
    issuer: ISS,
    audience: [AUD, 'other-api'],
    algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    keys: [jwk(rsa.publicKey, 'rsa-1'), jwk(ec.publicKey, 'ec-1'), jwk(ed.publicKey, 'ed-1')],
    required_claims: ['sub'],
    forward_claims: { sub: 'x-user-id', scope: 'x-user-scope' },
    ...extra,
  };
  const { ctx, issues, config } = contextFor({ [name]: cfg });
  const auth = compileJwt(name, config.authenticators[name] as never, `authenticators.${name}`, ctx);
  return { auth, issues };
}

const claims = (over: Record<string, unknown> = {}) => ({
  iss: ISS, aud: AUD, sub: 'alice', iat: nowSec() - 5, exp: nowSec() + 600, scope: 'orders:read orders:write', ...over,
});

const rs = (over: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
  signJws({ alg: 'RS256', typ: 'JWT', kid: 'rsa-1', ...header }, claims(over), rsa.privateKey);

async function outcome(r: number | Promise<AuthResult>, view: TestView): Promise<{ outcome: number; reason: number }> {
  if (typeof r === 'number') return { outcome: r, reason: r === AUTH_REJECT ? view.reason : 0 };
  const a = await r;
  return { outcome: a.outcome, reason: a.reason };
}

const { auth } = compile();
const expectReject = async (token: string, reason: number) => {
  const v = bearer(token);
  const r = auth.authenticate(v);
  expect(typeof r).toBe('number'); // static keys: every verdict is synchronous
  expect(await outcome(r, v)).toEqual({ outcome: AUTH_REJECT, reason });
  expect(v.identity).toBeNull();
};

describe('valid tokens are accepted (baseline for the corpus)', () => {
  it('accepts RS256 and builds the identity once', () => {
    const v = bearer(rs());
    expect(auth.authenticate(v)).toBe(AUTH_OK);
    expect(v.identity?.consumer).toBe('alice');
    expect(v.identity?.authenticator).toBe('corp');
    expect([...v.identity!.scopes]).toEqual(['orders:read', 'orders:write']);
    expect(v.identity?.forwardHeaders).toEqual(['x-user-id', 'alice', 'x-user-scope', 'orders:read orders:write']);
  });
  it('accepts PS256 with an RSA key', () => {
    const v = bearer(signJws({ alg: 'PS256', kid: 'rsa-1' }, claims(), rsa.privateKey));
    expect(auth.authenticate(v)).toBe(AUTH_OK);
  });
  it('accepts ES256', () => {
    const v = bearer(signJws({ alg: 'ES256', kid: 'ec-1' }, claims(), ec.privateKey));
    expect(auth.authenticate(v)).toBe(AUTH_OK);
  });
  it('accepts EdDSA', () => {
    const v = bearer(signJws({ alg: 'EdDSA', kid: 'ed-1' }, claims(), ed.privateKey));
    expect(auth.authenticate(v)).toBe(AUTH_OK);
  });
  it('accepts a token without kid by trying the keys of its algorithm', () => {
    const v = bearer(signJws({ alg: 'ES256' }, claims(), ec.privateKey));
    expect(auth.authenticate(v)).toBe(AUTH_OK);
  });
  it('accepts aud given as an array with one accepted value', () => {
    expect(auth.authenticate(bearer(rs({ aud: ['someone-else', 'other-api'] })))).toBe(AUTH_OK);
  });
});

describe('alg none is refused in every capitalisation', () => {
  const spellings: string[] = [];
  for (let m = 0; m < 16; m++) spellings.push([...'none'].map((c, i) => (m & (1 << i) ? c.toUpperCase() : c)).join(''));
  for (const alg of spellings) {
    it(`rejects alg "${alg}" with an empty signature`, () => expectReject(signJws({ alg, typ: 'JWT' }, claims(), null), R.alg_not_allowed));
  }
  it('rejects alg none carrying a kid of a real key and a signature', () =>
    expectReject(signJws({ alg: 'none', kid: 'rsa-1' }, claims(), null) + 'c2ln', R.alg_not_allowed));
  it('rejects a header without alg', () => expectReject(signJws({ typ: 'JWT', kid: 'rsa-1' }, claims(), rsa.privateKey, 'RS256'), R.alg_not_allowed));
  it('rejects alg as a non-string', () => expectReject(signJws({ alg: ['RS256'], kid: 'rsa-1' }, claims(), rsa.privateKey, 'RS256'), R.alg_not_allowed));
});

describe('algorithm confusion', () => {
  const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  it('rejects HS256 signed with the RSA public key (PEM text as the HMAC secret)', () =>
    expectReject(signJws({ alg: 'HS256', kid: 'rsa-1' }, claims(), Buffer.from(pem)), R.alg_not_allowed));
  it('rejects HS256 signed with the RSA public key (DER bytes as the HMAC secret)', () =>
    expectReject(signJws({ alg: 'HS256', kid: 'rsa-1' }, claims(), rsa.publicKey.export({ type: 'spki', format: 'der' })), R.alg_not_allowed));
  it('never binds an RSA public key to HS256, whatever the allow-list says', () => {
    expect(typeof makeVerifier('HS256', rsa.publicKey)).toBe('string');
    expect(typeof makeVerifier('ES256', rsa.publicKey)).toBe('string');
    expect(typeof makeVerifier('RS256', ec.publicKey)).toBe('string');
    expect(typeof makeVerifier('ES384', ec.publicKey)).toBe('string'); // P-256 key, P-384 algorithm
    expect(typeof makeVerifier('EdDSA', ec.publicKey)).toBe('string');
  });
  it('rejects an allowed algorithm used with a key of another family (ES256 token, RSA kid)', () =>
    expectReject(signJws({ alg: 'ES256', kid: 'rsa-1' }, claims(), ec.privateKey), R.alg_not_allowed));
  it('rejects a PS256 header over an RS256 signature', () =>
    expectReject(signJws({ alg: 'PS256', kid: 'rsa-1' }, claims(), rsa.privateKey, 'RS256'), R.bad_signature));
  it('rejects HS256 on an HS authenticator when the token says RS256', () => {
    const { auth: hs } = compile({ algorithms: ['HS256'], keys: undefined, secret: SECRET }, 'hs');
    const v = bearer(signJws({ alg: 'RS256' }, claims(), rsa.privateKey));
    expect(hs.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.reason).toBe(R.alg_not_allowed);
  });
  it('refuses an HMAC secret shorter than the hash (config error)', () => {
    const { issues } = compile({ algorithms: ['HS256'], keys: undefined, secret: 'short' }, 'weak');
    expect(issues.map((i) => i.path)).toContain('authenticators.weak.secret');
  });
  it('refuses an RSA key under 2048 bits (config error)', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const { issues } = compile({ keys: [jwk(small.publicKey, 'small')] }, 'small');
    expect(issues[0]?.message).toMatch(/2048/);
  });
});

describe('keys and signatures', () => {
  it('rejects a token signed by the wrong key under a known kid', () =>
    expectReject(signJws({ alg: 'RS256', kid: 'rsa-1' }, claims(), rsaOther.privateKey), R.bad_signature));
  it('rejects an unknown kid', () => expectReject(signJws({ alg: 'RS256', kid: 'nobody' }, claims(), rsa.privateKey), R.unknown_kid));
  it('rejects a non-string kid', () => expectReject(signJws({ alg: 'RS256', kid: 7 }, claims(), rsa.privateKey), R.token_malformed));
  it('rejects a tampered payload', () => {
    const [h, , s] = rs().split('.');
    const forged = Buffer.from(JSON.stringify(claims({ sub: 'admin' }))).toString('base64url');
    return expectReject(`${h}.${forged}.${s}`, R.bad_signature);
  });
  it('rejects a tampered header', () => {
    const [, p, s] = rs().split('.');
    const forged = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'rsa-1', typ: 'JWT', x: 1 })).toString('base64url');
    return expectReject(`${forged}.${p}.${s}`, R.bad_signature);
  });
  it('rejects a truncated signature', () => {
    // Whole bytes dropped and re-encoded: cutting characters off would leave a
    // non-canonical last character, refused earlier as token_malformed.
    const t = rs();
    const d = t.lastIndexOf('.');
    return expectReject(`${t.slice(0, d)}.${Buffer.from(t.slice(d + 1), 'base64url').subarray(0, 250).toString('base64url')}`, R.bad_signature);
  });
  it('rejects an ES256 signature in DER instead of r||s', () => {
    const t = signJws({ alg: 'ES256', kid: 'ec-1' }, claims(), ec.privateKey);
    const [h, p] = t.split('.');
    const der = sign('sha256', Buffer.from(`${h}.${p}`), ec.privateKey).toString('base64url');
    return expectReject(`${h}.${p}.${der}`, R.bad_signature);
  });
  it('rejects a header with crit (no extension is understood)', () =>
    expectReject(signJws({ alg: 'RS256', kid: 'rsa-1', crit: ['exp'] }, claims(), rsa.privateKey), R.token_malformed));
  it('rejects a signed payload that is not a JSON object', () =>
    expectReject(signJws({ alg: 'RS256', kid: 'rsa-1' }, '[1,2,3]', rsa.privateKey), R.token_malformed));
});

describe('claims', () => {
  it('rejects an expired token', () => expectReject(rs({ exp: nowSec() - 120 }), R.token_expired));
  it('accepts a token expired within the leeway', () => expect(auth.authenticate(bearer(rs({ exp: nowSec() - 10 })))).toBe(AUTH_OK));
  it('rejects a token not yet valid', () => expectReject(rs({ nbf: nowSec() + 300 }), R.token_not_yet_valid));
  it('rejects iat in the future beyond the leeway', () => expectReject(rs({ iat: nowSec() + 300 }), R.bad_iat));
  it('rejects exp that is not a number', () => expectReject(rs({ exp: String(nowSec() + 600) }), R.token_malformed));
  it('rejects a wrong issuer', () => expectReject(rs({ iss: 'https://evil.test/' }), R.bad_issuer));
  it('rejects a missing issuer', () => expectReject(rs({ iss: undefined }), R.bad_issuer));
  it('rejects a wrong audience', () => expectReject(rs({ aud: 'billing-api' }), R.bad_audience));
  it('rejects an audience array with no accepted value', () => expectReject(rs({ aud: ['a', 'b'] }), R.bad_audience));
  it('rejects a missing required claim', () => expectReject(rs({ sub: undefined }), R.missing_claim));
});

describe('token in the wrong place is not seen', () => {
  const t = rs();
  it('ignores a token in the query when the source is the Authorization header', () =>
    expect(auth.authenticate(new TestView({ query: { access_token: t } }))).toBe(AUTH_ABSENT));
  it('ignores a token in a cookie', () => expect(auth.authenticate(new TestView({ cookies: { token: t } }))).toBe(AUTH_ABSENT));
  it('ignores a token in another header', () => expect(auth.authenticate(new TestView({ headers: { 'x-token': t } }))).toBe(AUTH_ABSENT));
  it('ignores another Authorization scheme', () =>
    expect(auth.authenticate(new TestView({ headers: { authorization: `Token ${t}` } }))).toBe(AUTH_ABSENT));
  it('ignores the Authorization header when the source is a cookie', () => {
    const { auth: ck } = compile({ from: { cookie: 'session' } }, 'ck');
    expect(ck.authenticate(bearer(t))).toBe(AUTH_ABSENT);
    expect(ck.authenticate(new TestView({ cookies: { session: t } }))).toBe(AUTH_OK);
  });
  it('matches the scheme case-insensitively', () =>
    expect(auth.authenticate(new TestView({ headers: { authorization: `bEaReR ${t}` } }))).toBe(AUTH_OK));
  it('treats "Bearer" without a token as present and invalid', () => {
    const v = new TestView({ headers: { authorization: 'Bearer' } });
    expect(auth.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.reason).toBe(R.token_malformed);
  });
});

describe('garbage and oversized tokens are refused without throwing', () => {
  const garbage: [string, string][] = [
    ['one segment', 'abcdef'],
    ['two segments', 'abc.def'],
    ['four segments', 'abc.def.ghi.jkl'],
    ['JWE compact (five segments)', 'eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn'],
    ['only dots', '....'],
    ['empty header', '.eyJzdWIiOiJ4In0.c2ln'],
    ['empty payload', 'eyJhbGciOiJSUzI1NiJ9..c2ln'],
    ['standard base64 with padding', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0=.c2ln'],
    ['standard base64 with plus and slash', 'eyJhbGc+OiJSUzI1NiJ9.eyJzd/IiOiJ4In0.c2ln'],
    ['non-ASCII', 'ä.ö.ü'],
    ['spaces inside', 'eyJhbGciOiJSUzI1NiJ9 .eyJzdWIiOiJ4In0.c2ln'],
    ['percent-encoding', '%7B%7D.%7B%7D.%7B%7D'],
    ['base64url that is not JSON', 'abcd.abcd.abcd'],
    ['JSON that is not an object', `${Buffer.from('[1]').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.c2ln`],
    ['brace-wrapped garbage', `${Buffer.from('{not json}').toString('base64url')}.e30.c2ln`],
    ['impossible base64 length', 'eyJhbGciOiJSUzI1NiJ9x.eyJzdWIiOiJ4In0.c2ln'],
    ['NUL bytes', 'a\u0000b.c.d'],
  ];
  for (const [what, token] of garbage) {
    it(`rejects ${what} as malformed`, () => expectReject(token, R.token_malformed));
  }
  it('rejects a token over max_token_bytes (8 KiB default) before parsing', () => expectReject('a'.repeat(8193), R.token_too_large));
  it('rejects a signed token padded over the limit', () => expectReject(rs({ pad: 'x'.repeat(9000) }), R.token_too_large));
  it('honours a per-authenticator max_token_bytes', () => {
    const { auth: small } = compile({ max_token_bytes: 256 }, 'small');
    const v = bearer(rs());
    expect(small.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.reason).toBe(R.token_too_large);
  });
});

describe('jku, x5u and jwk headers are never followed', () => {
  let server: Server;
  let url = '';
  let hits = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk(attacker.publicKey, 'evil')] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('rejects a token whose jku points at the attacker JWKS, without contacting it', async () => {
    await expectReject(signJws({ alg: 'RS256', kid: 'evil', jku: url }, claims(), attacker.privateKey), R.unknown_kid);
    expect(hits).toBe(0);
  });
  it('rejects a token whose x5u points at the attacker, without contacting it', async () => {
    await expectReject(signJws({ alg: 'RS256', kid: 'evil', x5u: url }, claims(), attacker.privateKey), R.unknown_kid);
    expect(hits).toBe(0);
  });
  it('rejects a token carrying its own key in jwk', async () => {
    await expectReject(signJws({ alg: 'RS256', jwk: jwk(attacker.publicKey, 'evil') }, claims(), attacker.privateKey), R.bad_signature);
    expect(hits).toBe(0);
  });
  it('rejects an attacker jku with a known kid (bad signature), without contacting it', async () => {
    await expectReject(signJws({ alg: 'RS256', kid: 'rsa-1', jku: url, x5u: url }, claims(), attacker.privateKey), R.bad_signature);
    expect(hits).toBe(0);
  });
});

describe('the negative cache', () => {
  it('answers a replayed bad-signature token without verifying again', () => {
    const { auth: a } = compile({}, 'neg');
    const t = signJws({ alg: 'RS256', kid: 'rsa-1' }, claims(), rsaOther.privateKey);
    for (let i = 0; i < 5; i++) {
      const v = bearer(t);
      expect(a.authenticate(v)).toBe(AUTH_REJECT);
      expect(v.reason).toBe(R.bad_signature);
    }
    expect(a.stats.verifications).toBe(1);
    expect(a.stats.cache.negativeHits).toBe(4);
  });
});
