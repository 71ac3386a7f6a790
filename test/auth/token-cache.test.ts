// The verified-token cache's contract with offsets (the token is src[start…],
// read in place from a header), the tail hash over ranges, the shape scan with
// an offset, and deadlines that hold even when the event loop stalls (the
// ticking clock is then stale; liveUntil asks Date.now() near a deadline).
import { beforeEach, describe, expect, it } from 'vitest';
import type { AuthzDecision, Identity } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { JwsShape } from '../../src/auth/jwt/shape.js';
import { TokenCache } from '../../src/auth/jwt/token-cache.js';
import { TailKeyedCache, tailHash } from '../../src/workers/expiring-cache.js';
import { DecisionCache } from '../../src/policy/external-authorizer/decision-cache.js';
import { clockNow, clockTime, wakeClock } from '../../src/lib/clock.js';

const id = (consumer: string, expiresAt = Date.now() + 60_000): Identity =>
  ({ authenticator: 'c', consumer, claims: {}, scopes: new Set(), forwardHeaders: [], expiresAt }) as unknown as Identity;

/** Blocks the event loop: no timer (so no clock tick) runs meanwhile. */
const spin = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* busy */ }
};

describe('TokenCache by (src, start)', () => {
  it('hits only the exact token range, whatever text it sits in', () => {
    const c = new TokenCache(10, Date.now);
    const tok = 'aaa.bbb.ccc';
    const src = `Bearer ${tok}`;
    c.remember(tok, id('alice'), src, 7);
    expect(c.hit(src, 7)?.consumer).toBe('alice'); // the header it was verified from
    expect(c.hit(tok, 0)?.consumer).toBe('alice'); // the token alone
    expect(c.hit(`Bearer  ${tok}`, 8)?.consumer).toBe('alice'); // another spelling
    expect(c.hit(src, 8)).toBeUndefined(); // same text, another start
    expect(c.hit(src, 6)).toBeUndefined();
    expect(c.hit(`Bearer  ${tok}`, 7)).toBeUndefined(); // ' aaa.bbb.ccc'
    expect(c.hit(src, src.length)).toBeUndefined(); // empty token
  });

  it('remembers refusals per exact token and keeps their reasons apart', () => {
    const c = new TokenCache(10, Date.now);
    c.rememberFailure('a.b.c', R.bad_signature, 10_000, 'Bearer a.b.c', 7);
    c.rememberFailure('a.b.d', R.token_expired, 10_000, 'Bearer a.b.d', 7);
    expect(c.rejected('Bearer a.b.c', 7)).toBe(R.bad_signature);
    expect(c.rejected('Bearer   a.b.d', 9)).toBe(R.token_expired);
    expect(c.rejected('Bearer a.b.c', 6)).toBe(0);
    expect(c.rejected('a.b.e', 0)).toBe(0);
  });

  it('tailHash(s, a, b) is the hash of s.slice(a, b) for every range', () => {
    const s = `Bearer ${'x'.repeat(10)}abcdefghijklmnopqrstuvwxyz0123456789ABCDEF`;
    for (let a = 0; a <= s.length; a++) {
      for (let b = a; b <= s.length; b++) expect(tailHash(s, a, b)).toBe(tailHash(s.slice(a, b)));
    }
  });

  it('scan(src, at) reads the token like scan(src.slice(at)), dots relative to the token', () => {
    let seed = 7;
    const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
    const al = ['a', 'B', '0', '-', '_', '.', '.', ' ', '=', 'ä'];
    const a = new JwsShape();
    const b = new JwsShape();
    for (let k = 0; k < 20_000; k++) {
      let s = '';
      const len = rnd(20);
      for (let i = 0; i < len; i++) s += al[rnd(al.length)];
      const prefix = ['', 'Bearer ', 'Bearer\t \t', 'x.y.'][rnd(4)]!;
      const r1 = a.scan(prefix + s, prefix.length);
      const r2 = b.scan(s);
      expect(r1, JSON.stringify(prefix + s)).toBe(r2);
      if (r1) {
        expect(a.d1).toBe(b.d1);
        expect(a.d2).toBe(b.d2);
      }
    }
  });
});

// Deadlines leave room for a loaded machine between set and the first hit
// (150 ms); a test's stall stays under EXACT_WITHIN_MS, the bound the caches are exact within.
describe('deadlines while the event loop is blocked (the ticking clock is stale)', () => {
  // Each test starts from a fresh clock: tests run back to back with no loop turn
  // between them, so without this the stalls of earlier tests would add up.
  beforeEach(() => wakeClock());
  it('a verified token is not served past its deadline', () => {
    const c = new TokenCache(10, Date.now);
    const until = Date.now() + 150;
    c.remember('h.p.s', id('u', until));
    expect(c.hit('h.p.s')).toBeDefined(); // wakes the clock
    spin(400);
    expect(Date.now() - clockTime[0]!).toBeGreaterThan(150); // the clock did lag
    expect(c.hit('h.p.s')).toBeUndefined();
  });

  it('a session is not served past its deadline', () => {
    const c = new TailKeyedCache<{ who: string }>(10);
    const v = 'X'.repeat(64);
    c.set(v, { who: 'a' }, Date.now() + 150);
    const h = `s=${v}`;
    expect(c.getIn(h, 2, h.length)).toBeDefined();
    spin(400);
    expect(c.getIn(h, 2, h.length)).toBeUndefined();
  });

  it('an authorization decision is not served past its deadline', () => {
    const c = new DecisionCache(10);
    const d = { action: 0 } as unknown as AuthzDecision;
    c.set(1, 0, ['alice'], d, Date.now() + 150);
    expect(c.get(1, 0, ['alice'])).toBe(d);
    clockNow();
    spin(400);
    expect(c.get(1, 0, ['alice'])).toBeUndefined();
  });

  it('far from the deadline, a hit needs no fresh clock read (and is still served)', () => {
    const c = new TokenCache(10, Date.now);
    c.remember('h.p.t', id('u', Date.now() + 60_000));
    clockNow();
    spin(30);
    expect(c.hit('h.p.t')?.consumer).toBe('u');
  });
});
