// The bounded key table under attack: floods of distinct keys, keys chosen
// to differ in one byte, memory that does not grow.
import { describe, expect, test } from 'vitest';
import { createRateLimitStore } from '../../src/ratelimit/store/index.js';
import { compileRateLimits } from '../../src/ratelimit/compile.js';
import { identity, manualClock, planWith, view } from './fixtures.js';

describe('key flood', () => {
  test('1.1M distinct IPs stay within the table and a depleted hot key stays limited', () => {
    const clock = manualClock();
    const capacity = 1 << 16;
    const store = createRateLimitStore({ capacity });
    const reg = compileRateLimits(planWith({ ip: { key: 'ip', rate: 1, per: '1m', burst: 5 } }), store, { now: clock.now });
    const rl = reg.forRoute(['ip'])!;
    const bytes = store.buffer.byteLength;
    const hot = view({ ip: '203.0.113.66' });
    for (let i = 0; i < 5; i++) expect(rl.take(hot)).toBe(-1);
    expect(rl.take(hot)).toBe(0);

    const v = view();
    const ip = v.clientIp16;
    ip[10] = 0xff;
    ip[11] = 0xff;
    globalThis.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let admitted = 0;
    const FLOOD = 1_100_000;
    for (let i = 0; i < FLOOD; i++) {
      // a new address each time, written in place (10.x.y.z)
      ip[12] = 10;
      ip[13] = (i >>> 16) & 255;
      ip[14] = (i >>> 8) & 255;
      ip[15] = i & 255;
      if (rl.take(v) === -1) admitted++;
      if (i % 100_000 === 0) {
        clock.advance(1000); // time passes, but not enough to refill anything
        expect(rl.take(hot)).toBe(0);
      }
    }
    const heapAfter = process.memoryUsage().heapUsed;
    expect(store.buffer.byteLength).toBe(bytes);
    expect(store.countKeys()).toBeLessThanOrEqual(capacity);
    // each key that found a bucket got its burst's first token; the rest shared one bucket of 5
    expect(admitted).toBeGreaterThan(capacity * 0.9);
    expect(admitted).toBeLessThanOrEqual(capacity + 5 + 11);
    expect(rl.take(hot)).toBe(0);
    // the flood allocated nothing per request on the heap (allow for test bookkeeping)
    expect(heapAfter - heapBefore).toBeLessThan(8 * 1024 * 1024);
    // a new key during the flood is limited by the shared bucket, never passed unlimited
    const late = view({ ip: '198.51.100.200' });
    let lateAdmitted = 0;
    for (let i = 0; i < 100; i++) if (rl.take(late) === -1) lateAdmitted++;
    expect(lateAdmitted).toBeLessThanOrEqual(5);
  });

  test('the default store holds 1M keys in under 100 bytes each', () => {
    const store = createRateLimitStore();
    expect(store.capacity).toBe(1 << 20);
    expect(store.bytesPerKey).toBe(96);
    expect(store.buffer.byteLength / store.capacity).toBeLessThan(100);
  });
});

describe('hash-collision resistance', () => {
  test('keys differing in one character get distinct buckets', () => {
    const clock = manualClock();
    const store = createRateLimitStore({ capacity: 1 << 15 });
    const reg = compileRateLimits(planWith({ h: { key: 'header:x-key', rate: 1, per: '1h', burst: 1 } }), store, { now: clock.now });
    const rl = reg.forRoute(['h'])!;
    const v = view();
    let checked = 0;
    for (const len of [1, 2, 3, 4, 7, 8, 31, 55, 56, 57, 64, 100]) {
      const base = 'k'.repeat(len);
      v.headers['x-key'] = base;
      expect(rl.take(v)).toBe(-1);
      expect(rl.take(v)).toBe(0);
      for (let pos = 0; pos < len; pos++) {
        for (const c of ['j', 'l', 'K', '\u016b']) {
          v.headers['x-key'] = base.slice(0, pos) + c + base.slice(pos + 1);
          expect(rl.take(v)).toBe(-1); // its own, full bucket
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  test('IPv4 addresses differing in one bit get distinct buckets', () => {
    const store = createRateLimitStore({ capacity: 4096 });
    const reg = compileRateLimits(planWith({ ip: { key: 'ip', rate: 1, per: '1h', burst: 1 } }), store, { now: manualClock().now });
    const rl = reg.forRoute(['ip'])!;
    const v = view({ ip: '192.0.2.128' });
    expect(rl.take(v)).toBe(-1);
    for (let byte = 12; byte < 16; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        v.setIp('192.0.2.128');
        v.clientIp16[byte]! ^= 1 << bit;
        expect(rl.take(v)).toBe(-1);
      }
    }
  });

  test('the hash is seeded per store: the same keys land in different slots', () => {
    const a = createRateLimitStore({ capacity: 1 << 16 });
    const b = createRateLimitStore({ capacity: 1 << 16 });
    const da = a.defineLimit(1, 1, 1, 1, false, 0);
    const db = b.defineLimit(1, 1, 1, 1, false, 0);
    const gens = new Int32Array(1);
    let same = 0;
    for (let i = 0; i < 64; i++) if (a.keys.findString(da, `user-${i}`, true, gens, 0) === b.keys.findString(db, `user-${i}`, true, gens, 0)) same++;
    expect(same).toBeLessThan(8);
  });

  test('a second store attached to the buffer finds the same buckets', () => {
    const clock = manualClock();
    const a = createRateLimitStore({ capacity: 1024 });
    const b = createRateLimitStore({ buffer: a.buffer });
    const plan = planWith({ u: { key: 'consumer', rate: 1, per: '1h', burst: 2 } });
    const ra = compileRateLimits(plan, a, { now: clock.now }).forRoute(['u'])!;
    const rb = compileRateLimits(plan, b, { now: clock.now }).forRoute(['u'])!;
    const v = view({ identity: identity('grace') });
    expect(ra.take(v)).toBe(-1);
    expect(rb.take(v)).toBe(-1);
    expect(ra.take(v)).toBe(0);
    expect(rb.take(v)).toBe(0);
    expect(() => createRateLimitStore({ buffer: new SharedArrayBuffer(1024) })).toThrow(/not a rate-limit store/);
  });

  test('a singleThread store limits the same and refuses to be shared', () => {
    const clock = manualClock();
    const store = createRateLimitStore({ capacity: 1024, singleThread: true });
    const rl = compileRateLimits(planWith({ u: { key: 'consumer', rate: 2, per: '1s', burst: 3 } }), store, { now: clock.now }).forRoute(['u'])!;
    const v = view({ identity: identity('heidi') });
    let admitted = 0;
    for (let step = 0; step <= 100; step++) {
      // 0 ms … 10 000 ms in steps of 100: burst 3 + 2/s × 10 s
      while (admitted < 10_000 && rl.take(v) === -1) admitted++;
      clock.advance(100);
    }
    expect(admitted).toBe(3 + 2 * 10);
    expect(() => createRateLimitStore({ buffer: store.buffer })).toThrow(/singleThread/);
  });
});
