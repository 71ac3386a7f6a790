// Token-bucket semantics on a simulated clock: exact counts, refill, several
// limits on one request, the answers (Retry-After, RateLimit headers), keys.
import { describe, expect, test } from 'vitest';
import { createRateLimitStore } from '../../src/ratelimit/store/index.js';
import { compileRateLimits, type RouteLimiter } from '../../src/ratelimit/compile.js';
import { identity, manualClock, planWith, view, type TestView } from './fixtures.js';

function setup(limits: Record<string, Record<string, unknown>>, capacity = 4096) {
  const clock = manualClock();
  const store = createRateLimitStore({ capacity });
  const reg = compileRateLimits(planWith(limits), store, { now: clock.now });
  return { clock, store, reg };
}

/** Takes until the first rejection (bounded); returns how many were admitted. */
function drain(rl: RouteLimiter, v: TestView, max = 100_000): number {
  let n = 0;
  while (n < max && rl.take(v) === -1) n++;
  return n;
}

describe('accuracy against a simulated clock', () => {
  const cases: [string, Record<string, unknown>, number, number][] = [
    // [label, limit, periods N, expected rate × N + burst]
    ['10/s burst 20', { key: 'ip', rate: 10, per: '1s', burst: 20 }, 50, 10 * 50 + 20],
    ['3/s, burst defaults to rate', { key: 'ip', rate: 3, per: '1s' }, 40, 3 * 40 + 3],
    ['0.5/s burst 2 (fractional rate)', { key: 'ip', rate: 0.5, per: '1s', burst: 2 }, 30, 15 + 2],
    ['7 per 3s burst 5', { key: 'ip', rate: 7, per: '3s', burst: 5 }, 25, 7 * 25 + 5],
    ['1000/min burst 1000', { key: 'consumer', rate: 1000, per: '1m' }, 5, 1000 * 5 + 1000],
    ['global 10000/s burst 20000', { key: 'global', rate: 10000, per: '1s', burst: 20000 }, 3, 10000 * 3 + 20000],
  ];
  for (const [label, limit, N, expected] of cases) {
    test(`admits exactly rate × N + burst over N periods: ${label}`, () => {
      const { clock, reg } = setup({ l: limit });
      const rl = reg.forRoute(['l'])!;
      const v = view({ identity: identity('alice') });
      const per = reg.limits[0]!.per;
      const start = clock.now();
      const end = start + N * per;
      let admitted = 0;
      // odd steps that do not divide the period, so refills land between requests
      for (let step = 0; step < 1_000_000 && clock.now() < end; step++) {
        admitted += drain(rl, v);
        clock.set(Math.min(end, clock.now() + 37));
      }
      admitted += drain(rl, v);
      expect(admitted).toBe(expected);
      expect(rl.take(v)).toBe(0); // and nothing more at the same instant
    });
  }

  test('refills one token every per/rate, not before', () => {
    const { clock, reg } = setup({ l: { key: 'ip', rate: 4, per: '1s', burst: 2 } });
    const rl = reg.forRoute(['l'])!;
    const v = view();
    expect(drain(rl, v)).toBe(2);
    clock.advance(249);
    expect(rl.take(v)).toBe(0);
    clock.advance(1);
    expect(rl.take(v)).toBe(-1);
    expect(rl.take(v)).toBe(0);
    clock.advance(10_000); // long idle: back to burst, not more
    expect(drain(rl, v)).toBe(2);
  });

  test('a clock going backwards never refills', () => {
    const { clock, reg } = setup({ l: { key: 'ip', rate: 1, per: '1s', burst: 1 } });
    const rl = reg.forRoute(['l'])!;
    const v = view();
    expect(rl.take(v)).toBe(-1);
    clock.advance(-5000);
    expect(rl.take(v)).toBe(0);
    clock.advance(5000);
    expect(rl.take(v)).toBe(0);
    clock.advance(1000);
    expect(rl.take(v)).toBe(-1);
  });
});

describe('several limits on one request', () => {
  test('a rejected request takes no token from any limit', () => {
    const { reg } = setup({
      wide: { key: 'ip', rate: 1, per: '1h', burst: 5 },
      narrow: { key: 'consumer', rate: 1, per: '1h', burst: 2 },
    });
    const both = reg.forRoute(['wide', 'narrow'])!;
    const wideOnly = reg.forRoute(['wide'])!;
    const narrowOnly = reg.forRoute(['narrow'])!;
    const v = view({ identity: identity('bob') });
    expect(drain(both, v)).toBe(2);
    for (let i = 0; i < 10; i++) expect(both.take(v)).toBe(1); // narrow rejects; wide keeps its 3
    expect(v.limitName).toBe('narrow');
    expect(drain(wideOnly, v)).toBe(3);
    // now wide is empty: a request rejected by wide must not drain another consumer's narrow bucket
    const v2 = view({ identity: identity('carol') });
    for (let i = 0; i < 10; i++) expect(both.take(v2)).toBe(0);
    expect(drain(narrowOnly, v2)).toBe(2);
  });

  test('reports the limit that waits longest and its Retry-After', () => {
    const { reg } = setup({
      fast: { key: 'ip', rate: 1, per: '1s', burst: 1 },
      slow: { key: 'consumer', rate: 1, per: '1m', burst: 1 },
    });
    const rl = reg.forRoute(['fast', 'slow'])!;
    const v = view({ identity: identity('dave') });
    expect(rl.take(v)).toBe(-1);
    expect(rl.take(v)).toBe(1);
    expect(v.limitName).toBe('slow');
    expect(v.retryAfter).toBe(60);
  });

  test('two limits with the same key never share a bucket', () => {
    const { reg } = setup({
      a: { key: 'ip', rate: 1, per: '1h', burst: 1 },
      b: { key: 'ip', rate: 1, per: '1h', burst: 1 },
    });
    const a = reg.forRoute(['a'])!;
    const b = reg.forRoute(['b'])!;
    const v = view();
    expect(a.take(v)).toBe(-1);
    expect(a.take(v)).toBe(0);
    expect(b.take(v)).toBe(-1);
  });
});

describe('answers', () => {
  test('429 headers: RateLimit-Policy, RateLimit and Retry-After', () => {
    const { clock, reg } = setup({ 'per-ip': { key: 'ip', rate: 100, per: '1s', burst: 100 } });
    const rl = reg.forRoute(['per-ip'])!;
    const v = view();
    for (let i = 0; i < 43; i++) rl.take(v);
    expect(rl.take(v)).toBe(-1);
    expect(rl.headers(v, -1)).toEqual(['RateLimit-Policy', '"per-ip";q=100;w=1', 'RateLimit', '"per-ip";r=56;t=1']);
    drain(rl, v);
    expect(rl.take(v)).toBe(0);
    expect(v.retryAfter).toBe(1);
    expect(rl.headers(v, 0)).toEqual(['RateLimit-Policy', '"per-ip";q=100;w=1', 'RateLimit', '"per-ip";r=0;t=1', 'Retry-After', '1']);
    clock.advance(10);
    expect(rl.take(v)).toBe(-1);
  });

  test('admitted responses report the most restrictive limit', () => {
    const { reg } = setup({
      big: { key: 'global', rate: 1000, per: '1m' },
      small: { key: 'consumer', rate: 10, per: '1s', burst: 5 },
    });
    const rl = reg.forRoute(['big', 'small'])!;
    const v = view({ identity: identity('erin') });
    expect(rl.take(v)).toBe(-1);
    expect(rl.headers(v, -1)).toEqual(['RateLimit-Policy', '"small";q=10;w=1', 'RateLimit', '"small";r=4;t=1']);
  });

  test('Retry-After is whole seconds until a token, at least 1', () => {
    const { clock, reg } = setup({ l: { key: 'ip', rate: 1, per: '90s', burst: 1 } });
    const rl = reg.forRoute(['l'])!;
    const v = view();
    expect(rl.take(v)).toBe(-1);
    expect(rl.take(v)).toBe(0);
    expect(v.retryAfter).toBe(90);
    clock.advance(89_500);
    expect(rl.take(v)).toBe(0);
    expect(v.retryAfter).toBe(1);
    expect(rl.headers(v, 0)[1]).toBe('"l";q=1;w=90');
  });

  test('header arrays are immutable and may be kept past the next request', () => {
    const { reg } = setup({ l: { key: 'ip', rate: 10, per: '1s', burst: 10 } });
    const rl = reg.forRoute(['l'])!;
    const a = view({ ip: '192.0.2.10' });
    const b = view({ ip: '192.0.2.11' });
    rl.take(a);
    const kept = rl.headers(a, -1);
    for (let i = 0; i < 5; i++) rl.take(b);
    rl.headers(b, -1);
    expect(kept).toEqual(['RateLimit-Policy', '"l";q=10;w=1', 'RateLimit', '"l";r=9;t=1']);
    expect(Object.isFrozen(kept)).toBe(true);
  });

  test('policy for sub-second periods is expressed per second', () => {
    const { reg } = setup({ l: { key: 'ip', rate: 5, per: '100ms' } });
    expect(reg.limits[0]!.policy).toBe('"l";q=50;w=1');
  });
});

describe('precheck before authentication', () => {
  test('peeks at global/ip/header limits and takes nothing', () => {
    const { reg } = setup({
      ip: { key: 'ip', rate: 1, per: '1h', burst: 3 },
      user: { key: 'consumer', rate: 1, per: '1h', burst: 1 },
    });
    const rl = reg.forRoute(['user', 'ip'])!;
    const v = view({ identity: identity('frank') });
    for (let i = 0; i < 100; i++) expect(rl.precheck(v)).toBe(-1);
    expect(rl.take(v)).toBe(-1); // precheck took nothing: the full burst is still there
    expect(rl.take(v)).toBe(0); // user (index 0) exhausted
    const ipOnly = reg.forRoute(['ip'])!;
    expect(drain(ipOnly, v)).toBe(2);
    expect(rl.precheck(v)).toBe(1); // ip exhausted: cut before authentication
    expect(v.limitName).toBe('ip');
    expect(v.retryAfter).toBe(3600);
    // a consumer-keyed limit is never prechecked (no identity yet)
    const fresh = view({ ip: '192.0.2.99', identity: null });
    expect(rl.precheck(fresh)).toBe(-1);
  });

  test('an unknown key is not created by precheck', () => {
    const { reg, store } = setup({ ip: { key: 'ip', rate: 1, per: '1h', burst: 3 } });
    const rl = reg.forRoute(['ip'])!;
    const v = view();
    for (let i = 0; i < 10; i++) {
      v.setIp(`198.51.100.${i}`);
      expect(rl.precheck(v)).toBe(-1);
    }
    expect(store.countKeys()).toBe(0);
  });
});

describe('keys', () => {
  test('IPv6 clients share the bucket of their /64', () => {
    const { reg } = setup({ ip: { key: 'ip', rate: 1, per: '1h', burst: 2 } });
    const rl = reg.forRoute(['ip'])!;
    const v = view({ ip: '2001:db8:1:2::1' });
    expect(rl.take(v)).toBe(-1);
    v.setIp('2001:db8:1:2:ffff:ffff:ffff:ffff');
    expect(rl.take(v)).toBe(-1);
    expect(rl.take(v)).toBe(0);
    v.setIp('2001:db8:1:3::1'); // next /64
    expect(rl.take(v)).toBe(-1);
  });

  test('IPv4 and IPv4-mapped clients are keyed by their address', () => {
    const { reg } = setup({ ip: { key: 'ip', rate: 1, per: '1h', burst: 1 } });
    const rl = reg.forRoute(['ip'])!;
    const v = view({ ip: '203.0.113.5' });
    expect(rl.take(v)).toBe(-1);
    expect(rl.take(v)).toBe(0);
    v.setIp('203.0.113.6');
    expect(rl.take(v)).toBe(-1);
  });

  test('claim keys: strings, numbers and booleans; a missing claim joins the shared bucket', () => {
    const { reg } = setup({ c: { key: 'claim:tenant', rate: 1, per: '1h', burst: 1 } });
    const rl = reg.forRoute(['c'])!;
    const take = (claims: Record<string, unknown>) => rl.take(view({ identity: identity('x', claims) }));
    expect(take({ tenant: 'acme' })).toBe(-1);
    expect(take({ tenant: 'acme' })).toBe(0);
    expect(take({ tenant: 'globex' })).toBe(-1);
    expect(take({ tenant: 42 })).toBe(-1);
    expect(take({ tenant: 42 })).toBe(0);
    expect(take({ tenant: '42' })).toBe(-1); // the string "42" is another key than the number 42
    expect(take({ tenant: true })).toBe(-1);
    expect(take({ tenant: true })).toBe(0);
    expect(take({})).toBe(-1); // no claim: the shared bucket…
    expect(take({ tenant: { nested: 1 } })).toBe(0); // …which a non-scalar claim also uses
    expect(take({ tenant: '' })).toBe(0);
  });

  test('header keys; requests without the header share one bucket', () => {
    const { reg } = setup({ h: { key: 'header:X-Tenant', rate: 1, per: '1h', burst: 1 } });
    const rl = reg.forRoute(['h'])!;
    const t = (headers: Record<string, string>) => rl.take(view({ headers }));
    expect(t({ 'x-tenant': 'a' })).toBe(-1);
    expect(t({ 'x-tenant': 'a' })).toBe(0);
    expect(t({ 'x-tenant': 'b' })).toBe(-1);
    expect(t({})).toBe(-1);
    expect(t({})).toBe(0);
  });

  test('consumer keys; long and non-Latin-1 consumers are kept apart', () => {
    const { reg } = setup({ u: { key: 'consumer', rate: 1, per: '1h', burst: 1 } });
    const rl = reg.forRoute(['u'])!;
    const long = 'u'.repeat(300);
    for (const name of ['alice', 'ålice', 'αlice', long, long + 'x', long.slice(1) + 'v']) {
      const v = view({ identity: identity(name) });
      expect(rl.take(v)).toBe(-1);
      expect(rl.take(v)).toBe(0);
    }
  });
});

describe('eviction and counters', () => {
  test('buckets that refilled to full make room for new keys', () => {
    const { clock, reg, store } = setup({ ip: { key: 'ip', rate: 1, per: '1s', burst: 1 } }, 64);
    const rl = reg.forRoute(['ip'])!;
    const v = view();
    let admitted = 0;
    for (let round = 0; round < 50; round++) {
      clock.advance(1000); // every bucket of the previous round is full again
      for (let i = 0; i < 40; i++) {
        v.setIp(`10.${round}.${i}.1`);
        if (rl.take(v) === -1) admitted++;
      }
    }
    // 2000 distinct keys through a 64-slot table: with eviction none lands in the shared bucket
    expect(admitted).toBe(2000);
    expect(store.countKeys()).toBeLessThanOrEqual(64);
  });

  test('stats count admitted and rejected per limit', () => {
    const { reg } = setup({
      a: { key: 'ip', rate: 1, per: '1h', burst: 3 },
      b: { key: 'global', rate: 1, per: '1h', burst: 100 },
    });
    const rl = reg.forRoute(['a', 'b'])!;
    const v = view();
    for (let i = 0; i < 5; i++) rl.take(v);
    rl.precheck(v);
    expect(reg.stats()).toEqual([
      { name: 'a', admitted: 3, rejected: 3 },
      { name: 'b', admitted: 3, rejected: 0 },
    ]);
  });

  test('a reload with the same limits keeps the buckets; a changed limit starts fresh', () => {
    const clock = manualClock();
    const store = createRateLimitStore({ capacity: 1024 });
    const limits = { l: { key: 'ip', rate: 1, per: '1h', burst: 2 } };
    const v = view();
    const first = compileRateLimits(planWith(limits), store, { now: clock.now }).forRoute(['l'])!;
    expect(drain(first, v)).toBe(2);
    const again = compileRateLimits(planWith(limits), store, { now: clock.now }).forRoute(['l'])!;
    expect(again.take(v)).toBe(0);
    const changed = compileRateLimits(planWith({ l: { key: 'ip', rate: 1, per: '1h', burst: 3 } }), store, { now: clock.now }).forRoute(['l'])!;
    expect(drain(changed, v)).toBe(3);
  });

  test('a route without limits gets null; an unknown name is an error', () => {
    const { reg } = setup({ l: { key: 'ip', rate: 1, per: '1s' } });
    expect(reg.forRoute([])).toBeNull();
    expect(() => reg.forRoute(['nope'])).toThrow(/unknown rate limit "nope"/);
  });
});
