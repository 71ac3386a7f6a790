// Keys from a real JWKS endpoint on 127.0.0.1: rotation, IdP outages,
// unknown-kid floods, and the limits on what is fetched.
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AUTH_OK, AUTH_REJECT, type AuthResult } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileJwt, type JwtAuthenticator, type JwtRuntimeOptions } from '../../src/auth/jwt/index.js';
import { bearer, Clock, contextFor, nowSec, signJws } from './helpers.js';
import { freePort, JwksServer } from './jwks-server.js';
import { LogCapture } from './logs.js';

const k1 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const k2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pub = (k: KeyObject, kid: string) => ({ ...k.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' });
const token = (kid: string, key: KeyObject, over: Record<string, unknown> = {}) =>
  signJws({ alg: 'ES256', kid }, { sub: 'svc', iat: nowSec(), exp: nowSec() + 600, jti: randomUUID(), ...over }, key);

let cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function compile(uri: string, extra: Record<string, unknown> = {}, opts: JwtRuntimeOptions = {}): JwtAuthenticator {
  const { ctx, issues, config } = contextFor({ idp: { type: 'jwt', algorithms: ['ES256'], jwks_uri: uri, ...extra } });
  const a = compileJwt('idp', config.authenticators['idp'] as never, 'authenticators.idp', ctx, opts);
  expect(issues).toEqual([]);
  cleanup.push(() => a.close());
  return a;
}

async function serve(keys: unknown[]): Promise<JwksServer> {
  const s = await new JwksServer().start();
  s.keys = keys;
  cleanup.push(() => s.stop());
  return s;
}

function capture(): LogCapture {
  const c = new LogCapture().start();
  cleanup.push(() => c.stop());
  return c;
}

async function settle(r: number | Promise<AuthResult>, v: ReturnType<typeof bearer>): Promise<[number, number]> {
  if (typeof r === 'number') return [r, r === AUTH_REJECT ? v.reason : 0];
  const a = await r;
  return [a.outcome, a.reason];
}

describe('JWKS from a real endpoint', () => {
  it('fetches the key set at start and accepts its tokens', async () => {
    const s = await serve([pub(k1.publicKey, 'k1')]);
    const a = compile(s.url);
    await a.ready();
    expect(s.requests).toBe(1);
    expect(a.authenticate(bearer(token('k1', k1.privateKey)))).toBe(AUTH_OK);
  });

  it('accepts a new kid after rotation, refetching once, and drops cached verdicts of a removed key', async () => {
    const clock = new Clock();
    const s = await serve([pub(k1.publicKey, 'k1')]);
    const a = compile(s.url, {}, { now: clock.now });
    await a.ready();
    const old = token('k1', k1.privateKey);
    expect(a.authenticate(bearer(old))).toBe(AUTH_OK);

    s.keys = [pub(k2.publicKey, 'k2')]; // the IdP rotates: k1 gone, k2 new
    clock.advance(11_000);
    const v = bearer(token('k2', k2.privateKey));
    const r = a.authenticate(v);
    expect(typeof r).not.toBe('number'); // the request waits for the refetch
    expect(await settle(r, v)).toEqual([AUTH_OK, R.ok]);
    expect(s.requests).toBe(2);

    const again = bearer(old);
    expect(a.authenticate(again)).toBe(AUTH_REJECT); // not served from the cache any more
    expect(again.reason).toBe(R.unknown_kid);
  });

  it('starts when the IdP is down, says so in the log, and recovers once it answers', async () => {
    const logs = capture();
    const clock = new Clock();
    const port = await freePort();
    const a = compile(`http://127.0.0.1:${port}/.well-known/jwks.json`, { jwks_timeout: '2s' }, { now: clock.now });
    await a.ready(); // resolves although the fetch failed
    expect(logs.find(/jwks fetch failed/, /no keys from the IdP yet/, /"authenticator":"idp"|authenticator=idp/)).toBeDefined();
    const v = bearer(token('k1', k1.privateKey));
    expect(a.authenticate(v)).toBe(AUTH_REJECT); // refetch throttled: just failed at start
    expect(v.reason).toBe(R.unknown_kid);

    const s = new JwksServer();
    s.keys = [pub(k1.publicKey, 'k1')];
    await s.start(port);
    cleanup.push(() => s.stop());
    clock.advance(11_000);
    const w = bearer(token('k1', k1.privateKey));
    expect(await settle(a.authenticate(w), w)).toEqual([AUTH_OK, R.ok]);
  });

  it('keeps the last good key set when the IdP fails mid-run, with a clear log line', async () => {
    const s = await serve([pub(k1.publicKey, 'k1')]);
    const a = compile(s.url, { jwks_refresh: '50ms' });
    await a.ready();
    const logs = capture();
    s.mode = 'error';
    const before = s.requests;
    for (let i = 0; i < 100 && !logs.find(/keeping the last good key set/); i++) await new Promise((r) => setTimeout(r, 20));
    expect(s.requests).toBeGreaterThan(before);
    expect(logs.find(/keeping the last good key set/, /HTTP 503/)).toBeDefined();
    // a token never seen before (not cached) still verifies with the kept key
    expect(a.authenticate(bearer(token('k1', k1.privateKey)))).toBe(AUTH_OK);

    await s.stop(); // now the IdP is gone entirely
    const failures = a.stats.keys.fetchFailures;
    for (let i = 0; i < 100 && a.stats.keys.fetchFailures === failures; i++) await new Promise((r) => setTimeout(r, 20));
    expect(a.authenticate(bearer(token('k1', k1.privateKey)))).toBe(AUTH_OK);
  });

  it('bounds refetches under a flood of random kids', async () => {
    const clock = new Clock();
    const s = await serve([pub(k1.publicKey, 'k1')]);
    const a = compile(s.url, {}, { now: clock.now });
    await a.ready();
    expect(s.requests).toBe(1);
    for (let round = 0; round < 3; round++) {
      clock.advance(11_000);
      const pending: Promise<[number, number]>[] = [];
      for (let i = 0; i < 300; i++) {
        const v = bearer(token(randomUUID(), k2.privateKey));
        pending.push(settle(a.authenticate(v), v));
      }
      const results = await Promise.all(pending);
      expect(results.every(([o, r]) => o === AUTH_REJECT && r === R.unknown_kid)).toBe(true);
      expect(s.requests).toBe(2 + round); // one refetch per interval, however many kids
      // right after a refetch, an unknown kid is refused at once: no wait, no request
      const late = bearer(token(randomUUID(), k2.privateKey));
      expect(a.authenticate(late)).toBe(AUTH_REJECT);
      expect(late.reason).toBe(R.unknown_kid);
      expect(s.requests).toBe(2 + round);
    }
    expect(a.stats.keys.refetchesThrottled).toBeGreaterThan(0);
  });

  it('lets at most 1024 requests wait on a slow refetch; the rest are refused at once', async () => {
    const clock = new Clock();
    const s = await serve([pub(k1.publicKey, 'k1')]);
    const a = compile(s.url, { jwks_timeout: '1s' }, { now: clock.now });
    await a.ready();
    s.mode = 'hang';
    clock.advance(11_000);
    const tokens = Array.from({ length: 1500 }, () => token(randomUUID(), k2.privateKey));
    let waiting = 0;
    let refusedNow = 0;
    const pending: Promise<AuthResult>[] = [];
    for (const t of tokens) {
      const v = bearer(t);
      const r = a.authenticate(v);
      if (typeof r === 'number') {
        expect(v.reason).toBe(R.unknown_kid);
        refusedNow++;
      } else {
        waiting++;
        pending.push(r);
      }
    }
    expect(waiting).toBe(1024);
    expect(refusedNow).toBe(476);
    const results = await Promise.all(pending);
    expect(results.every((r) => r.outcome === AUTH_REJECT && r.reason === R.unknown_kid)).toBe(true);
    expect(s.requests).toBeLessThanOrEqual(2); // one refetch at most
  });

  it('refuses a JWK Set larger than the size cap and keeps the previous keys', async () => {
    const logs = capture();
    const s = await serve([pub(k1.publicKey, 'k1')]);
    s.mode = 'huge';
    const a = compile(s.url, {}, { maxJwksBytes: 64 * 1024 });
    await a.ready();
    expect(logs.find(/jwks fetch failed/, /cap/)).toBeDefined();
    expect(a.stats.keyCount).toBe(0);
  });

  it('gives up on a JWKS endpoint that does not answer within jwks_timeout', async () => {
    const logs = capture();
    const s = await serve([]);
    s.mode = 'hang';
    const a = compile(s.url, { jwks_timeout: '200ms' });
    await a.ready();
    expect(logs.find(/jwks fetch failed/, /jwks_timeout/)).toBeDefined();
  });

  it('does not follow a redirect from the JWKS endpoint', async () => {
    const logs = capture();
    const s = await serve([pub(k1.publicKey, 'k1')]);
    s.mode = 'redirect';
    const a = compile(s.url);
    await a.ready();
    expect(s.requests).toBe(1);
    expect(logs.find(/jwks fetch failed/, /HTTP 302/, /redirects are not followed/)).toBeDefined();
  });

  it('skips keys marked for encryption or of another algorithm, with a warning', async () => {
    const logs = capture();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const s = await serve([
      { ...pub(k1.publicKey, 'enc'), use: 'enc' },
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rsa' },
      pub(k1.publicKey, 'k1'),
    ]);
    const a = compile(s.url);
    await a.ready();
    expect(a.stats.keyCount).toBe(1);
    expect(logs.find(/jwks key skipped/, /use=enc/)).toBeDefined();
    expect(logs.find(/jwks key skipped/, /kid=rsa/)).toBeDefined();
    const v = bearer(token('enc', k1.privateKey));
    expect(a.authenticate(v)).toBe(AUTH_REJECT);
  });
});
