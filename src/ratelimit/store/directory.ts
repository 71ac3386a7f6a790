// The store's limit directory and per-limit counters. A definition is
// registered once per (id, params) and keeps its index for the buffer's
// lifetime, in every thread and across reloads, so buckets survive a reload
// that does not change the limit. Each limit's fixed bucket (slot
// capacity + index) serves `key: global`, requests without the key and keys
// that found no room in the table.
import type { StoreMap } from './layout.js';
import * as layout from './layout.js';
import type { SpinLocks } from './locks.js';

// module constants, not imported bindings: see layout.ts
const { COUNTER_LANES, KIND_FIXED, MAX_LIMITS } = layout;
const { CAP: DF_CAP, COST: DF_COST, RATE: DF_RATE, SIZE: DIR_FLOATS } = layout.DIR_F;
const { CLUSTER: DIR_CLUSTER, USED: DIR_USED } = layout.DIR_FLAG;
const { FLAGS: DW_FLAGS, NS: DW_NS, SIZE: DIR_WORDS } = layout.DIR_W;
const { DIRCOUNT: H_DIRCOUNT, DIRLOCK: H_DIRLOCK } = layout.HEADER;
const { LAST: F_LAST, LEVEL: F_LEVEL } = layout.SLOT_F;
const { DIR: S_DIR, META: S_META } = layout.SLOT_W;

export class Directory {
  private readonly map: StoreMap;
  private readonly locks: SpinLocks;
  private readonly f64: Float64Array;
  private readonly countersF: number;
  private readonly lane: number;

  constructor(map: StoreMap, locks: SpinLocks) {
    this.map = map;
    this.locks = locks;
    this.f64 = map.f64;
    this.countersF = map.countersF;
    this.lane = map.lane;
  }

  /**
   * Registers a limit definition and returns its directory index; the same
   * `ns` and params return the same index. rateU: units per ms; costU: units
   * per token; capU: bucket capacity in units. The fixed bucket starts full at `now`.
   */
  define(ns: number, rateU: number, costU: number, capU: number, cluster: boolean, now: number): number {
    const { i32, f64, dirW, dirF } = this.map;
    this.locks.lock(H_DIRLOCK);
    try {
      const count = i32[H_DIRCOUNT]!;
      for (let d = 0; d < count; d++) {
        const w = dirW + d * DIR_WORDS;
        const f = dirF + d * DIR_FLOATS;
        if (i32[w + DW_NS] === ns && f64[f + DF_RATE] === rateU && f64[f + DF_COST] === costU && f64[f + DF_CAP] === capU &&
            ((i32[w + DW_FLAGS]! & DIR_CLUSTER) !== 0) === cluster) {
          return d;
        }
      }
      if (count >= MAX_LIMITS) {
        throw new Error(`rate-limit store: more than ${MAX_LIMITS} distinct rate-limit definitions since start (reloads that change limits add new ones); restart the gateway`);
      }
      const d = count;
      const w = dirW + d * DIR_WORDS;
      const f = dirF + d * DIR_FLOATS;
      i32[w + DW_NS] = ns;
      i32[w + DW_FLAGS] = DIR_USED | (cluster ? DIR_CLUSTER : 0);
      f64[f + DF_RATE] = rateU;
      f64[f + DF_COST] = costU;
      f64[f + DF_CAP] = capU;
      const s = this.fixedSlot(d);
      const sw = this.map.slotsW + s * this.map.strideW;
      const sf = this.map.slotsF + s * this.map.strideF;
      i32[sw + S_DIR] = d;
      i32[sw + S_META] = KIND_FIXED;
      f64[sf + F_LEVEL] = capU;
      f64[sf + F_LAST] = now;
      Atomics.store(i32, H_DIRCOUNT, count + 1);
      return d;
    } finally {
      Atomics.store(i32, H_DIRLOCK, 0);
    }
  }

  /** Limit definitions registered so far. */
  get count(): number {
    return Atomics.load(this.map.i32, H_DIRCOUNT);
  }

  rateU(d: number): number { return this.f64[this.map.dirF + d * DIR_FLOATS + DF_RATE]!; }
  costU(d: number): number { return this.f64[this.map.dirF + d * DIR_FLOATS + DF_COST]!; }
  capU(d: number): number { return this.f64[this.map.dirF + d * DIR_FLOATS + DF_CAP]!; }
  isCluster(d: number): boolean { return (this.map.i32[this.map.dirW + d * DIR_WORDS + DW_FLAGS]! & DIR_CLUSTER) !== 0; }

  /** The limit's shared bucket: `global`, overflow, missing key. */
  fixedSlot(d: number): number {
    return this.map.capacity + d;
  }

  countAdmitted(d: number): void {
    this.f64[this.countersF + (d * COUNTER_LANES + this.lane) * 2]! += 1;
  }

  countRejected(d: number): void {
    this.f64[this.countersF + (d * COUNTER_LANES + this.lane) * 2 + 1]! += 1;
  }

  /** Sums over every thread's lane (reads are not atomic: a metric may lag by a count). */
  counters(d: number): { admitted: number; rejected: number } {
    let admitted = 0;
    let rejected = 0;
    for (let l = 0; l < COUNTER_LANES; l++) {
      const i = this.countersF + (d * COUNTER_LANES + l) * 2;
      admitted += this.f64[i]!;
      rejected += this.f64[i + 1]!;
    }
    return { admitted, rejected };
  }
}
