// Token-bucket arithmetic under the slot locks.
//
// Tokens are integer "units" so refill is exact. A limit of `rate` per `per`
// ms with `burst` is scaled to integers rate', per' (rate'/per' = rate/per);
// a token costs per' units, a bucket holds burst × per' units and gains rate'
// units per ms. With integer ms clocks and integer config the arithmetic is
// exact in Float64 (values stay far below 2^53). A bucket never refills from
// a time before its last update.
//
// Bucket state is only read or written under the slot's lock. A multi-limit
// take locks its slots in ascending slot order (no deadlock), checks every
// bucket, then takes from all or none: no rollback, so no other thread ever
// sees a token that is later given back.
import type { StoreMap } from './layout.js';
import * as layout from './layout.js';
import type { SpinLocks } from './locks.js';
import type { SyncRing } from './sync-ring.js';

// module constants, not imported bindings: see layout.ts
const { MAX_ROUTE_LIMITS } = layout;
const { CAP: DF_CAP, COST: DF_COST, RATE: DF_RATE, SIZE: DIR_FLOATS } = layout.DIR_F;
const { CLUSTER: DIR_CLUSTER } = layout.DIR_FLAG;
const { FLAGS: DW_FLAGS, SIZE: DIR_WORDS } = layout.DIR_W;
const { LAST: F_LAST, LEVEL: F_LEVEL } = layout.SLOT_F;
const { GEN: S_GEN, LOCK: S_LOCK, PENDING: S_PENDING } = layout.SLOT_W;

/** `takeAll` result when a slot changed hands between lookup and lock: look up again. */
export const STALE = -2;

export class Buckets {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly strideW: number;
  private readonly strideF: number;
  private readonly slotsW: number;
  private readonly slotsF: number;
  private readonly dirW: number;
  private readonly dirF: number;
  private readonly shared: boolean;
  private readonly time: Float64Array;
  private readonly locks: SpinLocks;
  private readonly ring: SyncRing;
  /** Per-thread scratch: the lock order of the current takeAll. */
  private readonly order = new Int32Array(MAX_ROUTE_LIMITS);

  constructor(map: StoreMap, locks: SpinLocks, ring: SyncRing) {
    this.i32 = map.i32;
    this.f64 = map.f64;
    this.strideW = map.strideW;
    this.strideF = map.strideF;
    this.slotsW = map.slotsW;
    this.slotsF = map.slotsF;
    this.dirW = map.dirW;
    this.dirF = map.dirF;
    this.shared = map.shared;
    this.time = map.time;
    this.locks = locks;
    this.ring = ring;
  }

  /**
   * Writes to out[i] the tokens (in units) bucket `slot` of limit `d` holds
   * now, without taking any: the full capacity when the slot changed hands
   * since it was found (generation `gen`; -1 = fixed slot, never changes hands).
   */
  peek(slot: number, gen: number, d: number, out: Float64Array, i: number): void {
    const sw = this.slotsW + slot * this.strideW;
    const sf = this.slotsF + slot * this.strideF;
    const f = this.dirF + d * DIR_FLOATS;
    const capU = this.f64[f + DF_CAP]!;
    const now = this.time[0]!;
    this.lock(sw + S_LOCK);
    let level = capU;
    if (gen < 0 || this.i32[sw + S_GEN] === gen) {
      level = this.f64[sf + F_LEVEL]!;
      const last = this.f64[sf + F_LAST]!;
      if (now > last) {
        level += (now - last) * this.f64[f + DF_RATE]!;
        if (level > capU) level = capU;
      }
    }
    this.unlock(sw + S_LOCK);
    out[i] = level;
  }

  /**
   * All-or-nothing take of one token from each of n buckets. Locks the slots
   * in ascending order, verifies each still holds the key it was found for
   * (gens[i]; -1 for fixed slots), refills, and takes one token from every
   * bucket only if each has one. levels[i] receives each bucket's level in
   * units after the decision. Returns -1 when taken, STALE when a slot
   * changed hands (look the keys up again), else the index of the bucket
   * that waits longest for a token (nothing taken).
   */
  takeAll(n: number, slots: Int32Array, gens: Int32Array, dirs: Int32Array, levels: Float64Array): number {
    const now = this.time[0]!;
    const i32 = this.i32;
    const f64 = this.f64;
    const order = this.order;
    const slotsW = this.slotsW;
    const strideW = this.strideW;
    // insertion sort of the slots: the lock order
    for (let i = 0; i < n; i++) {
      let j = i;
      const s = slots[i]!;
      while (j > 0 && slots[order[j - 1]!]! > s) {
        order[j] = order[j - 1]!;
        j--;
      }
      order[j] = i;
    }
    // the locks as lock()/unlock() below, written out on the local views
    const shared = this.shared;
    let prev = -1;
    for (let k = 0; k < n; k++) {
      const s = slots[order[k]!]!;
      if (s === prev) continue; // one bucket named twice is locked once
      prev = s;
      const lw = slotsW + s * strideW + S_LOCK;
      if (!shared) i32[lw] = 1;
      else if (Atomics.compareExchange(i32, lw, 0, 1) !== 0) this.locks.spin(lw);
    }
    let result = -1;
    for (let i = 0; i < n; i++) {
      const g = gens[i]!;
      // under the lock: plain reads see every write made under it before
      if (g >= 0 && i32[slotsW + slots[i]! * strideW + S_GEN] !== g) {
        result = STALE;
        break;
      }
    }
    if (result === -1) {
      let worstWait = -1;
      for (let i = 0; i < n; i++) {
        const f = this.dirF + dirs[i]! * DIR_FLOATS;
        const sf = this.slotsF + slots[i]! * this.strideF;
        let level = f64[sf + F_LEVEL]!;
        const last = f64[sf + F_LAST]!;
        if (now > last) {
          level += (now - last) * f64[f + DF_RATE]!;
          const capU = f64[f + DF_CAP]!;
          if (level > capU) level = capU;
        }
        levels[i] = level;
        const cost = f64[f + DF_COST]!;
        if (level < cost) {
          const wait = (cost - level) / f64[f + DF_RATE]!;
          if (wait > worstWait) {
            worstWait = wait;
            result = i;
          }
        }
      }
      if (result === -1) {
        for (let i = 0; i < n; i++) {
          const d = dirs[i]!;
          const s = slots[i]!;
          const sf = this.slotsF + s * this.strideF;
          const level = levels[i]! - f64[this.dirF + d * DIR_FLOATS + DF_COST]!;
          levels[i] = level;
          f64[sf + F_LEVEL] = level;
          if (now > f64[sf + F_LAST]!) f64[sf + F_LAST] = now;
          if ((i32[this.dirW + d * DIR_WORDS + DW_FLAGS]! & DIR_CLUSTER) !== 0) {
            const pw = slotsW + s * strideW + S_PENDING;
            const p = i32[pw]!;
            if (p < 0x3fffffff) i32[pw] = p + 1;
            if (p === 0) this.ring.push(s);
          }
        }
      }
    }
    prev = -1;
    for (let k = 0; k < n; k++) {
      const s = slots[order[k]!]!;
      if (s === prev) continue;
      prev = s;
      const lw = slotsW + s * strideW + S_LOCK;
      if (shared) Atomics.store(i32, lw, 0);
      else i32[lw] = 0;
    }
    return result;
  }

  /**
   * Syncer: sets the bucket to the cluster's view — `tokens` left cluster-wide
   * minus what this gateway consumed since its push (the slot's pending).
   * Returns false when the key left the slot.
   */
  applyCluster(slot: number, gen: number, d: number, tokens: number, now: number): boolean {
    const sw = this.slotsW + slot * this.strideW;
    const sf = this.slotsF + slot * this.strideF;
    this.lock(sw + S_LOCK);
    let ok = false;
    if (gen < 0 || this.i32[sw + S_GEN] === gen) {
      const f = this.dirF + d * DIR_FLOATS;
      const capU = this.f64[f + DF_CAP]!;
      let level = (tokens - this.i32[sw + S_PENDING]!) * this.f64[f + DF_COST]!;
      if (level > capU) level = capU;
      this.f64[sf + F_LEVEL] = level;
      this.f64[sf + F_LAST] = now;
      ok = true;
    }
    this.unlock(sw + S_LOCK);
    return ok;
  }

  // SpinLocks.lock/unlock on this object's own fields: one object less to load per lock on the hot path
  private lock(w: number): void {
    if (!this.shared) this.i32[w] = 1;
    else if (Atomics.compareExchange(this.i32, w, 0, 1) !== 0) this.locks.spin(w);
  }

  private unlock(w: number): void {
    if (this.shared) Atomics.store(this.i32, w, 0);
    else this.i32[w] = 0;
  }
}
