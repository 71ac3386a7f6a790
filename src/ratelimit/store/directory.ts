// The store's limit directory and per-limit counters. A definition is
// registered once per (id, params) and keeps its index for the buffer's
// lifetime, in every thread and across reloads, so buckets survive a reload
// that does not change the limit. Each limit's fixed bucket (slot
// capacity + index) serves `key: global`, requests without the key and keys
// that found no room in the table.
import { COUNTER_LANES, DirF, DirFlag, DirW, Header, KIND_FIXED, MAX_LIMITS, SlotF, SlotW, type StoreMap } from './layout.js';
import type { SpinLocks } from './locks.js';

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
    this.locks.lock(Header.DirLock);
    try {
      const count = i32[Header.DirCount]!;
      for (let d = 0; d < count; d++) {
        const w = dirW + d * DirW.Size;
        const f = dirF + d * DirF.Size;
        if (i32[w + DirW.Ns] === ns && f64[f + DirF.Rate] === rateU && f64[f + DirF.Cost] === costU && f64[f + DirF.Cap] === capU &&
            ((i32[w + DirW.Flags]! & DirFlag.Cluster) !== 0) === cluster) {
          return d;
        }
      }
      if (count >= MAX_LIMITS) {
        throw new Error(`rate-limit store: more than ${MAX_LIMITS} distinct rate-limit definitions since start (reloads that change limits add new ones); restart the gateway`);
      }
      const d = count;
      const w = dirW + d * DirW.Size;
      const f = dirF + d * DirF.Size;
      i32[w + DirW.Ns] = ns;
      i32[w + DirW.Flags] = DirFlag.Used | (cluster ? DirFlag.Cluster : 0);
      f64[f + DirF.Rate] = rateU;
      f64[f + DirF.Cost] = costU;
      f64[f + DirF.Cap] = capU;
      const s = this.fixedSlot(d);
      const sw = this.map.slotsW + s * this.map.strideW;
      const sf = this.map.slotsF + s * this.map.strideF;
      i32[sw + SlotW.Dir] = d;
      i32[sw + SlotW.Meta] = KIND_FIXED;
      f64[sf + SlotF.Level] = capU;
      f64[sf + SlotF.Last] = now;
      Atomics.store(i32, Header.DirCount, count + 1);
      return d;
    } finally {
      Atomics.store(i32, Header.DirLock, 0);
    }
  }

  /** Limit definitions registered so far. */
  get count(): number {
    return Atomics.load(this.map.i32, Header.DirCount);
  }

  rateU(d: number): number { return this.f64[this.map.dirF + d * DirF.Size + DirF.Rate]!; }
  costU(d: number): number { return this.f64[this.map.dirF + d * DirF.Size + DirF.Cost]!; }
  capU(d: number): number { return this.f64[this.map.dirF + d * DirF.Size + DirF.Cap]!; }
  isCluster(d: number): boolean { return (this.map.i32[this.map.dirW + d * DirW.Size + DirW.Flags]! & DirFlag.Cluster) !== 0; }

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
