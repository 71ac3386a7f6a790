// Finding a key's bucket: hash, probe, insert, evict.
//
// Keys are hashed with the store's seeded HalfSipHash-1-3 (a 64-bit secret
// drawn at creation and kept in the header, so every thread sharing the
// buffer hashes alike while clients cannot choose colliding keys). The
// limit's directory index is mixed into the hash and compared, so two limits
// never share a bucket. Keys of up to keyBytes Latin-1 characters are stored
// and compared byte for byte. Longer keys (or keys with characters above
// U+00FF) are stored as their 64-bit keyed digest + length: two such keys
// share a bucket only with probability 2^-64, and nobody without the seed can
// aim for it. Numbers (claims) are keyed by their 8 IEEE bytes, IPv4 by 4
// bytes, IPv6 by its /64.
//
// A key probes a window of PROBE_WINDOW slots from its home. Eviction never
// hands an abuser a fresh bucket: only a bucket that has refilled to full
// (and has no unsynced cluster consumption) may be reused, since a full idle
// bucket is indistinguishable from no bucket. When the window holds neither
// the key, an empty slot nor an evictable bucket, the key uses its limit's
// fixed bucket (same rate and burst as one key, shared by every key that
// found no room) — never an unlimited pass.
//
// Finding is lock-free: a slot's key only changes under its lock, with Gen
// bumped to odd before and even after (seqlock); a find reports the Gen it
// matched, and a take verifies it under the lock. Inserting holds the insert
// stripe of the hash, so two threads never insert the same key twice. Slots
// never become empty again, so a lookup stops at the first empty slot.
import { sipBytes, sipLatin1, sipUtf16 } from '../../lib/hash.js';
import type { StoreMap } from './layout.js';
import * as layout from './layout.js';
import type { SpinLocks } from './locks.js';

// module constants, not imported bindings: see layout.ts
const { KEY_OFF, KIND_BOOL, KIND_DIGEST, KIND_NUM, KIND_STR, PROBE_WINDOW, STRIPES } = layout;
const { CAP: DF_CAP, RATE: DF_RATE, SIZE: DIR_FLOATS } = layout.DIR_F;
const { SYNC_OWNER: H_SYNC_OWNER } = layout.HEADER;
const { LAST: F_LAST, LEVEL: F_LEVEL } = layout.SLOT_F;
const { DIR: S_DIR, GEN: S_GEN, HASH: S_HASH, LOCK: S_LOCK, META: S_META, PENDING: S_PENDING } = layout.SLOT_W;

/** `find*` result when the key is absent and there is room for it (peek only). */
export const NOT_FOUND = -1;

/** Tag of the UTF-16 encoding in the hash's initial state: distinct from any Latin-1 key of the same length. */
const WIDE_TAG = 0x40000000;

export class KeyIndex {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly u8: Uint8Array;
  private readonly capacity: number;
  private readonly mask: number;
  private readonly keyBytes: number;
  private readonly strideW: number;
  private readonly strideF: number;
  private readonly slotsW: number;
  private readonly slotsF: number;
  private readonly stripesW: number;
  private readonly dirF: number;
  private readonly shared: boolean;
  private readonly time: Float64Array;
  private readonly locks: SpinLocks;
  // per-thread scratch (the hot path is synchronous: one user at a time)
  private readonly k0: number;
  private readonly k1: number;
  /** The last key's hash: [0] its slot hash, [1] the second digest word (digest keys). */
  private readonly hash = new Int32Array(2);
  private readonly numF64 = new Float64Array(1);
  private readonly numU8 = new Uint8Array(this.numF64.buffer);

  constructor(map: StoreMap, locks: SpinLocks) {
    this.i32 = map.i32;
    this.f64 = map.f64;
    this.u8 = map.u8;
    this.capacity = map.capacity;
    this.mask = map.mask;
    this.keyBytes = map.keyBytes;
    this.strideW = map.strideW;
    this.strideF = map.strideF;
    this.slotsW = map.slotsW;
    this.slotsF = map.slotsF;
    this.stripesW = map.stripesW;
    this.dirF = map.dirF;
    this.k0 = map.k0;
    this.k1 = map.k1;
    this.shared = map.shared;
    this.time = map.time;
    this.locks = locks;
  }

  /**
   * Finds (or with `insert`, creates) the bucket of string key `s` under
   * limit `d`. Returns the slot: NOT_FOUND when absent and there is room
   * (only without insert), the fixed slot when there is no room. Writes the
   * slot's generation to gens[g] (-1 for a fixed slot).
   */
  findString(d: number, s: string, insert: boolean, gens: Int32Array, g: number): number {
    const L = s.length;
    const long = L > this.keyBytes;
    if (sipLatin1(this.k0, this.k1, d, L, s, long, this.hash) > 0xff) {
      sipUtf16(this.k0, this.k1, d, L ^ WIDE_TAG, s, this.hash);
      return this.probe(d, (L << 4) | KIND_DIGEST, s, null, 0, insert, gens, g);
    }
    return this.probe(d, (L << 4) | (long ? KIND_DIGEST : KIND_STR), s, null, 0, insert, gens, g);
  }

  /** Like findString for a binary key: `len` (≤ 16) bytes of `b` from `off`. */
  findBytes(d: number, kind: number, b: Uint8Array, off: number, len: number, insert: boolean, gens: Int32Array, g: number): number {
    // length and kind in the initial state: no extra round for a length block
    sipBytes(this.k0, this.k1, d, (len << 8) | kind, b, off, len, this.hash);
    return this.probe(d, (len << 4) | kind, '', b, off, insert, gens, g);
  }

  /** A numeric key (claim value): its 8 IEEE-754 bytes. */
  findNumber(d: number, x: number, insert: boolean, gens: Int32Array, g: number): number {
    this.numF64[0] = x;
    return this.findBytes(d, KIND_NUM, this.numU8, 0, 8, insert, gens, g);
  }

  /** A boolean key (claim value). */
  findBool(d: number, x: boolean, insert: boolean, gens: Int32Array, g: number): number {
    this.numU8[0] = x ? 1 : 0;
    return this.findBytes(d, KIND_BOOL, this.numU8, 0, 1, insert, gens, g);
  }

  private keyMatches(sw: number, meta: number, s: string, b: Uint8Array | null, off: number): boolean {
    const kb = (sw << 2) + KEY_OFF;
    const len = meta >>> 4;
    const u8 = this.u8;
    if (b === null) {
      if ((meta & 15) === KIND_DIGEST) return this.i32[kb >> 2] === this.hash[1];
      for (let i = 0; i < len; i++) if (u8[kb + i] !== s.charCodeAt(i)) return false;
      return true;
    }
    for (let i = 0; i < len; i++) if (u8[kb + i] !== b[off + i]) return false;
    return true;
  }

  private probe(d: number, meta: number, s: string, b: Uint8Array | null, off: number, insert: boolean, gens: Int32Array, g: number): number {
    const i32 = this.i32;
    const h1 = this.hash[0]!;
    let slot = h1 & this.mask;
    let p = 0;
    for (; p < PROBE_WINDOW; p++) {
      const sw = this.slotsW + slot * this.strideW;
      const hv = i32[sw + S_HASH];
      if (hv === 0) break;
      if (hv === h1) {
        const gen = this.shared ? Atomics.load(i32, sw + S_GEN) : i32[sw + S_GEN]!;
        if (i32[sw + S_DIR] === d && i32[sw + S_META] === meta && this.keyMatches(sw, meta, s, b, off)) {
          gens[g] = gen;
          return slot;
        }
      }
      slot = (slot + 1) & this.mask;
    }
    if (p === PROBE_WINDOW) {
      // full window: is there a bucket the key could take over? If not, the
      // shared bucket, without touching the insert lock (cheap under a flood)
      slot = h1 & this.mask;
      for (p = 0; p < PROBE_WINDOW; p++) {
        if (this.evictable(slot)) break;
        slot = (slot + 1) & this.mask;
      }
      if (p === PROBE_WINDOW) {
        gens[g] = -1;
        return this.capacity + d;
      }
    }
    if (insert) return this.insert(d, h1, meta, s, b, off, gens, g);
    gens[g] = -1;
    return NOT_FOUND;
  }

  /** Unlocked hint: the bucket has refilled to full and holds no unsynced cluster consumption. */
  private evictable(slot: number): boolean {
    const now = this.time[0]!;
    const sw = this.slotsW + slot * this.strideW;
    const sf = this.slotsF + slot * this.strideF;
    // unsynced cluster consumption must reach Redis first (when a syncer runs)
    if (this.i32[sw + S_PENDING] !== 0 && this.i32[H_SYNC_OWNER] !== 0) return false;
    const f = this.dirF + this.i32[sw + S_DIR]! * DIR_FLOATS;
    const last = this.f64[sf + F_LAST]!;
    const elapsed = now > last ? now - last : 0;
    return this.f64[sf + F_LEVEL]! + elapsed * this.f64[f + DF_RATE]! >= this.f64[f + DF_CAP]!;
  }

  private insert(d: number, h1: number, meta: number, s: string, b: Uint8Array | null, off: number, gens: Int32Array, g: number): number {
    const i32 = this.i32;
    const locks = this.locks;
    const stripe = this.stripesW + (h1 & (STRIPES - 1));
    locks.lock(stripe);
    let result = -1;
    let candidates = 0;
    let slot = h1 & this.mask;
    for (let p = 0; p < PROBE_WINDOW; ) {
      const sw = this.slotsW + slot * this.strideW;
      const hv = Atomics.load(i32, sw + S_HASH);
      if (hv === 0) {
        locks.lock(sw + S_LOCK);
        if (Atomics.load(i32, sw + S_HASH) === 0) {
          gens[g] = this.writeKey(sw, slot, d, h1, meta, s, b, off);
          locks.unlock(sw + S_LOCK);
          result = slot;
          break;
        }
        locks.unlock(sw + S_LOCK);
        continue; // claimed meanwhile by another key: examine it again
      }
      if (hv === h1) {
        const gen = Atomics.load(i32, sw + S_GEN);
        if (i32[sw + S_DIR] === d && i32[sw + S_META] === meta && this.keyMatches(sw, meta, s, b, off)) {
          gens[g] = gen; // inserted by another thread while we waited for the stripe
          result = slot;
          break;
        }
      }
      if (this.evictable(slot)) candidates++;
      slot = (slot + 1) & this.mask;
      p++;
    }
    if (result < 0 && candidates > 0) {
      // no empty slot and the key is absent: take over the first bucket that is full
      slot = h1 & this.mask;
      for (let p = 0; p < PROBE_WINDOW; p++) {
        if (this.evictable(slot)) {
          const sw = this.slotsW + slot * this.strideW;
          locks.lock(sw + S_LOCK);
          if (this.evictable(slot)) {
            gens[g] = this.writeKey(sw, slot, d, h1, meta, s, b, off);
            locks.unlock(sw + S_LOCK);
            result = slot;
            break;
          }
          locks.unlock(sw + S_LOCK);
        }
        slot = (slot + 1) & this.mask;
      }
    }
    locks.unlock(stripe);
    if (result < 0) {
      gens[g] = -1;
      return this.capacity + d;
    }
    return result;
  }

  /** Under the slot lock: (re)assigns the slot to a key, bucket full. Returns the slot's new generation. */
  private writeKey(sw: number, slot: number, d: number, h1: number, meta: number, s: string, b: Uint8Array | null, off: number): number {
    const i32 = this.i32;
    const gen = (i32[sw + S_GEN]! + 1) | 0; // odd: key being written
    Atomics.store(i32, sw + S_GEN, gen);
    i32[sw + S_DIR] = d;
    i32[sw + S_META] = meta;
    i32[sw + S_PENDING] = 0;
    const kb = (sw << 2) + KEY_OFF;
    const len = meta >>> 4;
    if (b !== null) {
      for (let i = 0; i < len; i++) this.u8[kb + i] = b[off + i]!;
    } else if ((meta & 15) === KIND_DIGEST) {
      i32[kb >> 2] = this.hash[1]!;
    } else {
      for (let i = 0; i < len; i++) this.u8[kb + i] = s.charCodeAt(i);
    }
    const sf = this.slotsF + slot * this.strideF;
    this.f64[sf + F_LEVEL] = this.f64[this.dirF + d * DIR_FLOATS + DF_CAP]!;
    this.f64[sf + F_LAST] = this.time[0]!;
    Atomics.store(i32, sw + S_HASH, h1);
    Atomics.store(i32, sw + S_GEN, (gen + 1) | 0);
    return (gen + 1) | 0;
  }
}
