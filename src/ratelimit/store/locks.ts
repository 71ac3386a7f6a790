// Spin locks on Int32 words of the store: slot locks, insert stripes, the
// directory lock. Critical sections are a few dozen instructions and cannot
// throw, so a waiter spins (no Atomics.wait: a park would cost more than the
// section). A store that is not shared (singleThread) takes the same locks
// with plain writes: Atomics are builtin calls on Node 20 and cost ~40% of a check.
import type { StoreMap } from './layout.js';

/** Spins before a lock is taken over: only a thread that died inside a section holds one that long. */
const STEAL_AFTER_SPINS = 50_000_000;

export class SpinLocks {
  private readonly i32: Int32Array;
  private readonly shared: boolean;
  /** Times a lock was taken over after spinning too long (a thread died holding it). */
  steals = 0;

  constructor(map: StoreMap) {
    this.i32 = map.i32;
    this.shared = map.shared;
  }

  lock(w: number): void {
    if (!this.shared) {
      this.i32[w] = 1;
      return;
    }
    if (Atomics.compareExchange(this.i32, w, 0, 1) === 0) return;
    this.spin(w);
  }

  unlock(w: number): void {
    if (this.shared) Atomics.store(this.i32, w, 0);
    else this.i32[w] = 0;
  }

  /** The contended path of lock(): spin, then take the lock over. */
  spin(w: number): void {
    for (let spins = 0; spins < STEAL_AFTER_SPINS; spins++) {
      if (this.i32[w] === 0 && Atomics.compareExchange(this.i32, w, 0, 1) === 0) return;
    }
    this.steals++;
    Atomics.store(this.i32, w, 1);
  }
}
