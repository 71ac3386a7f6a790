// The verified-token cache: hits do no crypto, entries never outlive exp, the
// cache is bounded, and one authenticator's verdict never serves another.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AUTH_OK, AUTH_REJECT } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileJwt, type JwtRuntimeOptions } from '../../src/auth/jwt/index.js';
import { bearer, Clock, contextFor, signJws, TestView } from './helpers.js';

const k = generateKeyPairSync('ed25519');
const key = { ...k.publicKey.export({ format: 'jwk' }), kid: 'k' };

function compile(extra: Record<string, unknown> = {}, opts: JwtRuntimeOptions = {}, name = 'c') {
  const { ctx, issues, config } = contextFor({ [name]: { type: 'jwt', algorithms: ['EdDSA'], keys: [key], ...extra } });
  const a = compileJwt(name, config.authenticators[name] as never, `authenticators.${name}`, ctx, opts);
  expect(issues).toEqual([]);
  return a;
}

const tok = (clock: Clock, over: Record<string, unknown> = {}) => {
  const s = Math.floor(clock.t / 1000);
  return signJws({ alg: 'EdDSA', kid: 'k' }, { sub: 'u', iat: s, exp: s + 600, jti: randomUUID(), ...over }, k.privateKey);
};

describe('verified-token cache', () => {
  it('serves repeated tokens from the cache without verifying again', () => {
    const clock = new Clock();
    const a = compile({}, { now: clock.now });
    const t = tok(clock);
    for (let i = 0; i < 50; i++) expect(a.authenticate(bearer(t))).toBe(AUTH_OK);
    expect(a.stats.verifications).toBe(1);
    expect(a.stats.cache.hits).toBe(49);
  });

  it('returns the same identity object on every hit (nothing rebuilt per request)', () => {
    const clock = new Clock();
    const a = compile({}, { now: clock.now });
    const t = tok(clock);
    const v1 = bearer(t);
    const v2 = bearer(t);
    a.authenticate(v1);
    a.authenticate(v2);
    expect(v2.identity).toBe(v1.identity);
  });

  it('expires an entry at exp even while it is hot', () => {
    const clock = new Clock(1_700_000_000_000);
    const a = compile({ leeway: '0s' }, { now: clock.now });
    const t = tok(clock, { exp: 1_700_000_002 }); // valid for 2 s
    for (let i = 0; i < 20; i++) {
      expect(a.authenticate(bearer(t))).toBe(AUTH_OK);
      clock.advance(99); // 1.98 s of continuous hits
    }
    clock.advance(20); // now exactly exp
    const v = bearer(t);
    expect(a.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.reason).toBe(R.token_expired);
  });

  it('keeps an entry until exp plus leeway, not beyond', () => {
    const clock = new Clock(1_700_000_000_000);
    const a = compile({ leeway: '5s' }, { now: clock.now });
    const t = tok(clock, { exp: 1_700_000_002 });
    expect(a.authenticate(bearer(t))).toBe(AUTH_OK);
    clock.advance(6_900);
    expect(a.authenticate(bearer(t))).toBe(AUTH_OK);
    expect(a.stats.verifications).toBe(1);
    clock.advance(200);
    expect(a.authenticate(bearer(t))).toBe(AUTH_REJECT);
  });

  it('re-verifies a token without exp after a bounded time', () => {
    const clock = new Clock();
    const a = compile({}, { now: clock.now });
    const t = tok(clock, { exp: undefined });
    expect(a.authenticate(bearer(t))).toBe(AUTH_OK);
    clock.advance(11 * 60_000);
    expect(a.authenticate(bearer(t))).toBe(AUTH_OK);
    expect(a.stats.verifications).toBe(2);
  });

  it('is bounded by cache.max_entries', () => {
    const clock = new Clock();
    const a = compile({ cache: { max_entries: 3 } }, { now: clock.now });
    for (let i = 0; i < 10; i++) expect(a.authenticate(bearer(tok(clock)))).toBe(AUTH_OK);
    expect(a.stats.cached).toBe(3);
  });

  it('does not cache at all with max_entries 0', () => {
    const clock = new Clock();
    const a = compile({ cache: { max_entries: 0 } }, { now: clock.now });
    const t = tok(clock);
    for (let i = 0; i < 3; i++) expect(a.authenticate(bearer(t))).toBe(AUTH_OK);
    expect(a.stats.verifications).toBe(3);
  });

  it('never lets one authenticator\'s verdict serve another (issuer/audience differ)', () => {
    const clock = new Clock();
    const orders = compile({ audience: 'orders' }, { now: clock.now }, 'orders');
    const billing = compile({ audience: 'billing' }, { now: clock.now }, 'billing');
    const t = tok(clock, { aud: 'orders' });
    expect(orders.authenticate(bearer(t))).toBe(AUTH_OK);
    const v = bearer(t);
    expect(billing.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.reason).toBe(R.bad_audience);
    expect(orders.authenticate(bearer(t))).toBe(AUTH_OK);
  });

  it('forgets a refused expired token after the negative TTL but keeps refusing it', () => {
    const clock = new Clock();
    const a = compile({ leeway: '0s' }, { now: clock.now });
    const t = tok(clock, { exp: Math.floor(clock.t / 1000) - 1 });
    for (let i = 0; i < 3; i++) expect(a.authenticate(bearer(t))).toBe(AUTH_REJECT);
    expect(a.stats.verifications).toBe(1);
    clock.advance(31_000);
    const v = bearer(t);
    expect(a.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.reason).toBe(R.token_expired);
    expect(a.stats.verifications).toBe(2);
  });

  it('does not remember a not-yet-valid token as refused', () => {
    const clock = new Clock(1_700_000_000_000);
    const a = compile({ leeway: '0s' }, { now: clock.now });
    const t = tok(clock, { nbf: 1_700_000_005 });
    expect(a.authenticate(bearer(t))).toBe(AUTH_REJECT);
    clock.advance(5_000);
    expect(a.authenticate(bearer(t))).toBe(AUTH_OK);
  });
});

// The hit path reads the token in place (no substring) and by the hot path's
// clock; these pin what that must not change.
describe('verified-token cache: lookups in place', () => {
  const header = (v: string) => new TestView({ headers: { authorization: v } });

  it('hits whatever whitespace follows the scheme, and whatever the scheme’s case', () => {
    const clock = new Clock();
    const a = compile({}, { now: clock.now });
    const t = tok(clock);
    expect(a.authenticate(header(`Bearer  ${t}`))).toBe(AUTH_OK);
    for (const v of [`Bearer ${t}`, `bearer\t${t}`, `BEARER ${t}`, `Bearer  ${t}`]) expect(a.authenticate(header(v))).toBe(AUTH_OK);
    expect(a.stats.verifications).toBe(1);
    expect(a.stats.cache.hits).toBe(4);
  });

  it('never serves a cached identity for a token that shares its length and signature but not its payload', () => {
    const clock = new Clock();
    const a = compile({}, { now: clock.now });
    const t = tok(clock, { sub: 'alice' });
    expect(a.authenticate(bearer(t))).toBe(AUTH_OK);
    // Same length, same last 32 characters (the lookup hash), one payload character changed.
    const d1 = t.indexOf('.');
    const i = d1 + 5;
    const forged = t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
    expect(forged.length).toBe(t.length);
    const v = bearer(forged);
    expect(a.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.identity).toBeNull();
    expect(a.stats.verifications).toBe(2);
  });

  it('remembers a refused token however the header spells it', () => {
    const clock = new Clock();
    const a = compile({}, { now: clock.now });
    const t = tok(clock);
    const bad = t.slice(0, -4) + (t.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(a.authenticate(header(`Bearer ${bad}`))).toBe(AUTH_REJECT);
    const v = header(`Bearer   ${bad}`);
    expect(a.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.reason).toBe(R.bad_signature);
    expect(a.stats.verifications).toBe(1);
    expect(a.stats.cache.negativeHits).toBe(1);
  });

  it('refuses garbage after the scheme without verifying, and an empty token as malformed', () => {
    const a = compile();
    for (const v of ['Bearer abc.def', 'Bearer a.b.c.d', 'Bearer ..', 'Bearer', 'Bearer    ']) {
      const view = header(v);
      expect(a.authenticate(view), v).toBe(AUTH_REJECT);
      expect(view.reason, v).toBe(R.token_malformed);
    }
    expect(a.stats.verifications).toBe(0);
  });

  it('with the real clock (the default), an entry stops being served at exp', async () => {
    const a = compile({ leeway: '0s' });
    const exp = Math.floor(Date.now() / 1000) + 1;
    const t = signJws({ alg: 'EdDSA', kid: 'k' }, { sub: 'u', exp, jti: randomUUID() }, k.privateKey);
    expect(a.authenticate(bearer(t))).toBe(AUTH_OK);
    expect(a.authenticate(bearer(t))).toBe(AUTH_OK);
    expect(a.stats.cache.hits).toBe(1);
    await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 50));
    const v = bearer(t);
    expect(a.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.reason).toBe(R.token_expired);
  });
});
