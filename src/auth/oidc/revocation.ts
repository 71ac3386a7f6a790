// Revoked OIDC sessions, shared by every event-loop thread of the process.
//
// A fixed-size open-addressing hash set in one SharedArrayBuffer (made by the
// main thread before the others start, like the rate-limit table), keyed by a
// 128-bit digest of what is revoked: a gateway session id, or a provider's
// session id / subject (back-channel logout). Readers (the session hit path on
// any thread) are lock-free and allocation-free: one Atomics.load of a version
// word, and only when something was revoked since the session was last found
// live, up to MAX_PROBE slots of plain integer compares. Writers (logout, the
// file and cluster loaders) are rare and take a lock word, so inserts never
// race each other.
//
// Each entry says "sessions with this key that began at or before `before`
// are revoked until `exp`" (exp = the session's own end: past it the cookie is
// refused anyway, so the slot may be reused).
//
// Bounded: when no slot is free within MAX_PROBE of a key's home, the table
// raises its floor to now — every session that began up to now is revoked.
// Every entry it held was about such a session, so each slot is free again
// (an entry the floor covers is reused like an expired one): nothing is
// forgotten and the table starts afresh. Fail closed (everyone signs in again)
// rather than forget a logout; logged as an error.
import { createHash } from 'node:crypto';
import { clockTime, touchClock } from '../../lib/clock.js';

/** Epoch seconds are stored relative to this (2023-11-14) so they fit an int32 until 2091. */
const BASE = 1_700_000_000;
const H_LOCK = 0;
const H_FLOOR = 1;
/**
 * Bumped (Atomics.add) after every change, as the last step of a write: a
 * reader's Atomics.load of it makes everything written before visible to its
 * plain reads, and a session found live at version V is still live while the
 * version is V (revocations only ever expire).
 */
const H_VERSION = 2;
const VERSION_MASK = 0x3fffffff; // a small integer: storing it in an object allocates nothing
const HEADER = 4;
const SLOT = 8; // state, k0..k3, exp, before, spare
const EMPTY = 0;
const WRITING = 1;
const READY = 2;
const MAX_PROBE = 64;
export const DEFAULT_SLOTS = 1 << 18;

/** What a cached session keeps for the check on each hit. */
export interface RevocationCheck {
  /** Revocation keys, 4 words each. */
  readonly keys: Int32Array;
  readonly n: number;
  /** Session start in table seconds (relSec). */
  readonly iat: number;
  /** Table version at which this session was last found live (-1: never checked). */
  seen: number;
}

/** Revocation key: 4 int32 words (a 128-bit digest). */
export type RevocationKey = Int32Array;

/** The digest of one revocable thing, e.g. ('s', 'sso', sessionId) or ('ps', issuer, providerSid). */
export function revocationKey(kind: string, scope: string, value: string): RevocationKey {
  const d = createHash('sha256').update(`${kind}\0${scope}\0${value}`).digest();
  return new Int32Array(d.buffer.slice(d.byteOffset, d.byteOffset + 16));
}

export function keyToHex(k: RevocationKey, at = 0): string {
  return Buffer.from(k.buffer, k.byteOffset + at * 4, 16).toString('hex');
}

export function keyFromHex(hex: string): RevocationKey | null {
  if (!/^[0-9a-f]{32}$/.test(hex)) return null;
  const b = Buffer.from(hex, 'hex');
  return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + 16));
}

export function revocationBuffer(slots = DEFAULT_SLOTS): SharedArrayBuffer {
  if ((slots & (slots - 1)) !== 0 || slots < MAX_PROBE) throw new Error('revocation slots must be a power of two ≥ 64');
  return new SharedArrayBuffer((HEADER + slots * SLOT) * 4);
}

const rel = (sec: number): number => Math.min(0x7fffffff, Math.max(0, Math.floor(sec) - BASE));

export class RevocationTable {
  private readonly w: Int32Array;
  private readonly mask: number;
  /** Overflows seen by this thread (the floor was raised). */
  overflows = 0;
  private depth = 0;

  constructor(readonly buffer: SharedArrayBuffer = revocationBuffer()) {
    this.w = new Int32Array(buffer);
    this.mask = (this.w.length - HEADER) / SLOT - 1;
  }

  get slots(): number {
    return this.mask + 1;
  }

  /** Epoch seconds up to which every session is revoked (0: none). */
  get floor(): number {
    const f = Atomics.load(this.w, H_FLOOR);
    return f === 0 ? 0 : f + BASE;
  }

  /**
   * Whether a session that began at `iatRel` (relSec) is revoked, at `now`
   * (nowRel), by the floor or by one of the `n` keys packed in `keys` (4 words
   * each). Hot path: no allocation, bounded probes.
   */
  revoked(keys: Int32Array, n: number, iatRel: number, now: number): boolean {
    Atomics.load(this.w, H_VERSION);
    return this.probe(keys, n, iatRel, now);
  }

  /**
   * The hit path's check: when nothing was revoked since this session was last
   * found live, one Atomics.load and a compare; else revoked() and, when still
   * live, the version remembered. No allocation either way.
   */
  isRevoked(c: RevocationCheck): boolean {
    const v = Atomics.load(this.w, H_VERSION) & VERSION_MASK;
    if (v === c.seen) return false;
    if (this.probe(c.keys, c.n, c.iat, nowRel())) return true;
    c.seen = v;
    return false;
  }

  /** Call after an Atomics.load of H_VERSION. A write racing it may or may not be seen: its logout has not been answered yet. */
  private probe(keys: Int32Array, n: number, iatRel: number, now: number): boolean {
    const w = this.w;
    if (iatRel <= w[H_FLOOR]!) return true;
    for (let k = 0; k < n; k++) {
      const k0 = keys[4 * k]!;
      const k1 = keys[4 * k + 1]!;
      const k2 = keys[4 * k + 2]!;
      const k3 = keys[4 * k + 3]!;
      let s = k0 & this.mask;
      for (let p = 0; p < MAX_PROBE; p++) {
        const o = HEADER + s * SLOT;
        const st = w[o]!;
        if (st === EMPTY) break;
        if (st === READY && w[o + 1] === k0 && w[o + 2] === k1 && w[o + 3] === k2 && w[o + 4] === k3 && w[o + 5]! > now && iatRel <= w[o + 6]!) return true;
        s = (s + 1) & this.mask;
      }
    }
    return false;
  }

  /**
   * Records a revocation. Returns 'new' when the table did not already hold
   * it (the caller persists and publishes only then), 'known', or 'floor' when
   * the table overflowed and raised its floor instead.
   */
  add(key: RevocationKey, expSec: number, beforeSec: number, nowSec = Date.now() / 1000): 'new' | 'known' | 'floor' {
    const exp = rel(expSec);
    const before = rel(beforeSec);
    const now = rel(nowSec);
    if (exp <= now) return 'known'; // that session has ended anyway
    return this.locked(() => {
      if (before <= Atomics.load(this.w, H_FLOOR)) return 'known';
      const r = this.place(key, exp, before, now);
      if (r === 'full') this.raiseFloorLocked(now);
      Atomics.add(this.w, H_VERSION, 1); // publish (see H_VERSION)
      return r === 'full' ? 'floor' : r;
    });
  }

  /** Revokes every session that began at or before `sec` (loaded from a file, or an overflow elsewhere). */
  raiseFloor(sec: number): boolean {
    const f = rel(sec);
    return this.locked(() => {
      if (f <= Atomics.load(this.w, H_FLOOR)) return false;
      this.raiseFloorLocked(f);
      Atomics.add(this.w, H_VERSION, 1);
      return true;
    });
  }

  private raiseFloorLocked(f: number): void {
    // Entries stay: the floor covers them, and place() reuses their slots.
    Atomics.store(this.w, H_FLOOR, f);
    this.overflows++;
  }

  private place(key: RevocationKey, exp: number, before: number, now: number): 'new' | 'known' | 'full' {
    const w = this.w;
    let s = key[0]! & this.mask;
    let free = -1;
    const floor = w[H_FLOOR]!;
    for (let p = 0; p < MAX_PROBE; p++) {
      const o = HEADER + s * SLOT;
      const st = Atomics.load(w, o);
      if (st === READY && w[o + 1] === key[0] && w[o + 2] === key[1] && w[o + 3] === key[2] && w[o + 4] === key[3]) {
        const live = w[o + 5]! > now;
        if (live && w[o + 5]! >= exp && w[o + 6]! >= before) return 'known';
        const e = live ? Math.max(exp, w[o + 5]!) : exp;
        const b = live ? Math.max(before, w[o + 6]!) : before;
        Atomics.store(w, o + 6, b);
        Atomics.store(w, o + 5, e);
        return 'new';
      }
      if (free < 0 && (st === EMPTY || (st === READY && (w[o + 5]! <= now || w[o + 6]! <= floor)))) free = o;
      if (st === EMPTY) break; // the key is in no later slot
      s = (s + 1) & this.mask;
    }
    if (free < 0) return 'full';
    // A reused slot leaves its chain intact (never EMPTY again): readers skip it while WRITING.
    Atomics.store(w, free, WRITING);
    w[free + 1] = key[0]!;
    w[free + 2] = key[1]!;
    w[free + 3] = key[2]!;
    w[free + 4] = key[3]!;
    w[free + 5] = exp;
    w[free + 6] = before;
    Atomics.store(w, free, READY);
    return 'new';
  }

  /**
   * Runs `fn` holding the writer lock (shared by every thread). Writers hold it
   * for microseconds; a holder that died (a crashed thread) is overridden after
   * about a second rather than blocking logouts for good.
   */
  locked<T>(fn: () => T): T {
    if (this.depth > 0) return fn(); // re-entered by this thread: it holds the lock already
    const w = this.w;
    let got = false;
    for (let i = 0; i < 1000 && !got; i++) {
      got = Atomics.compareExchange(w, H_LOCK, 0, 1) === 0;
      if (!got) Atomics.wait(w, H_LOCK, 1, 1);
    }
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
      Atomics.store(w, H_LOCK, 0);
      Atomics.notify(w, H_LOCK, 1);
    }
  }
}

/** Seconds as the table stores them (a session's start, for revoked()). */
export function relSec(sec: number): number {
  return rel(sec);
}

/** The hot path's clock in table seconds: a small integer, so returning it allocates nothing. */
export function nowRel(): number {
  touchClock();
  return (clockTime[0]! / 1000 - BASE) | 0;
}

// This thread's table: the main thread's buffer when several threads share
// one (adopted before any authenticator compiles), else one of its own.
let table: RevocationTable | null = null;

export function adoptRevocationBuffer(buffer: SharedArrayBuffer): void {
  if (table === null || table.buffer !== buffer) table = new RevocationTable(buffer);
}

export function revocationTable(): RevocationTable {
  table ??= new RevocationTable();
  return table;
}
