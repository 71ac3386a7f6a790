// The rate-limit store: one SharedArrayBuffer holding a fixed-capacity,
// open-addressing table of token buckets, so every event-loop thread that is
// handed the buffer (workerData) enforces the same limits exactly.
//
//   layout.ts     the buffer's regions and named fields
//   locks.ts      spin locks (Atomics, or plain writes for a singleThread store)
//   directory.ts  limit definitions, fixed buckets, counters
//   keys.ts       hashing a key to its slot: probe, insert, evict
//   buckets.ts    refill and all-or-nothing takes under the slot locks
//   sync-ring.ts  what the cluster syncer reads and writes
import { Buckets } from './buckets.js';
import { Directory } from './directory.js';
import { KeyIndex } from './keys.js';
import { type RateLimitStoreOptions, SLOT_W, StoreMap } from './layout.js';
import { SpinLocks } from './locks.js';
import { SyncRing } from './sync-ring.js';

const { HASH: S_HASH } = SLOT_W;

export { STALE } from './buckets.js';
export { NOT_FOUND } from './keys.js';
export {
  COUNTER_LANES, KIND_BOOL, KIND_DIGEST, KIND_FIXED, KIND_IP4, KIND_IP6, KIND_NUM, KIND_STR, MAX_LIMITS, MAX_ROUTE_LIMITS,
  type RateLimitStoreOptions,
} from './layout.js';
export type { SlotSnapshot } from './sync-ring.js';

export class RateLimitStore {
  readonly buffer: SharedArrayBuffer;
  /** Buckets in the hash table (power of two). */
  readonly capacity: number;
  /** Key bytes compared verbatim; longer keys are stored as a 64-bit keyed digest. */
  readonly keyBytes: number;
  /** Memory per bucket (bytes). */
  readonly bytesPerKey: number;
  /** This thread's counter lane. */
  readonly lane: number;
  /** Other threads may use the buffer: lock with Atomics. */
  readonly shared: boolean;
  /** The current time (epoch ms) for the next find, peek or take: the caller writes it once per request. */
  readonly time: Float64Array;
  readonly limits: Directory;
  readonly keys: KeyIndex;
  readonly buckets: Buckets;
  readonly sync: SyncRing;
  private readonly map: StoreMap;
  private readonly locks: SpinLocks;

  constructor(opts: RateLimitStoreOptions = {}) {
    const map = new StoreMap(opts);
    this.map = map;
    this.buffer = map.buffer;
    this.capacity = map.capacity;
    this.keyBytes = map.keyBytes;
    this.bytesPerKey = map.stride;
    this.lane = map.lane;
    this.shared = map.shared;
    this.time = map.time;
    this.locks = new SpinLocks(map);
    this.limits = new Directory(map, this.locks);
    this.keys = new KeyIndex(map, this.locks);
    this.sync = new SyncRing(map, this.locks);
    this.buckets = new Buckets(map, this.locks, this.sync);
  }

  /** Times a lock was taken over after spinning too long (a thread died holding it). */
  get lockSteals(): number {
    return this.locks.steals;
  }

  /** See Directory.define. */
  defineLimit(ns: number, rateU: number, costU: number, capU: number, cluster: boolean, now: number): number {
    return this.limits.define(ns, rateU, costU, capU, cluster, now);
  }

  /** Occupied hash slots (scans the table: tests and diagnostics only). */
  countKeys(): number {
    const { i32, slotsW, strideW } = this.map;
    let n = 0;
    for (let s = 0; s < this.capacity; s++) if (i32[slotsW + s * strideW + S_HASH] !== 0) n++;
    return n;
  }
}

/** Creates a store (or attaches to another thread's `store.buffer`). */
export function createRateLimitStore(opts: RateLimitStoreOptions = {}): RateLimitStore {
  return new RateLimitStore(opts);
}
