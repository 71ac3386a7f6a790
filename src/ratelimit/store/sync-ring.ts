// What the cluster syncer (cluster-sync.ts) reads from and writes to the
// store (cold path). A take that gives a cluster limit's slot its first
// unsynced consumption records the slot in the dirty ring; the one syncer
// per buffer (ownership by token in the header) drains the ring, takes each
// slot's pending consumption under its lock and later writes back the
// cluster's view (Buckets.applyCluster). A full ring sets the overflow flag
// instead, and the next drain scans every slot once.
import type { StoreMap } from './layout.js';
import * as layout from './layout.js';
import type { SpinLocks } from './locks.js';

// module constants, not imported bindings: see layout.ts
const { KEY_OFF, KIND_DIGEST, KIND_FIXED, MAX_LIMITS } = layout;
const { DIRTY_OVF: H_DIRTY_OVF, DIRTY_R: H_DIRTY_R, DIRTY_W: H_DIRTY_W, SYNC_OWNER: H_SYNC_OWNER } = layout.HEADER;
const { DIR: S_DIR, GEN: S_GEN, HASH: S_HASH, LOCK: S_LOCK, META: S_META, PENDING: S_PENDING } = layout.SLOT_W;

/** A slot's identity and the consumption taken from it, read under its lock. */
export interface SlotSnapshot {
  /** The key's generation (-1 for a fixed slot). */
  gen: number;
  dir: number;
  kind: number;
  /** Key bytes (a digest key: its second 32-bit word). */
  key: Uint8Array;
  consumed: number;
}

export class SyncRing {
  private readonly map: StoreMap;
  private readonly locks: SpinLocks;

  constructor(map: StoreMap, locks: SpinLocks) {
    this.map = map;
    this.locks = locks;
  }

  private slotW(slot: number): number {
    return this.map.slotsW + slot * this.map.strideW;
  }

  /** Records a slot with new unsynced cluster consumption for the syncer. */
  push(slot: number): void {
    const { i32, ringMask, ringW } = this.map;
    const size = ringMask + 1;
    for (;;) {
      const w = Atomics.load(i32, H_DIRTY_W);
      if (((w - Atomics.load(i32, H_DIRTY_R)) | 0) >= size) {
        Atomics.store(i32, H_DIRTY_OVF, 1); // syncer will scan every slot once
        return;
      }
      if (Atomics.compareExchange(i32, H_DIRTY_W, w, (w + 1) | 0) === w) {
        Atomics.store(i32, ringW + (w & ringMask), slot + 1);
        return;
      }
    }
  }

  /** Syncer: hands out slots recorded since the last drain (call from one thread). */
  drain(visit: (slot: number) => void): void {
    const { i32, ringMask, ringW } = this.map;
    const w = Atomics.load(i32, H_DIRTY_W);
    let r = Atomics.load(i32, H_DIRTY_R);
    while (r !== w) {
      const v = Atomics.exchange(i32, ringW + (r & ringMask), 0);
      if (v === 0) break; // a writer reserved this entry and is storing it: next time
      visit(v - 1);
      r = (r + 1) | 0;
    }
    Atomics.store(i32, H_DIRTY_R, r);
    if (Atomics.exchange(i32, H_DIRTY_OVF, 0) === 1) {
      for (let s = 0; s < this.map.capacity + MAX_LIMITS; s++) {
        if (i32[this.slotW(s) + S_PENDING] !== 0) visit(s);
      }
    }
  }

  /** Under the slot lock, reads the slot's identity and takes its pending consumption. Null when the slot is empty. */
  snapshot(slot: number): SlotSnapshot | null {
    const { i32, u8 } = this.map;
    const sw = this.slotW(slot);
    this.locks.lock(sw + S_LOCK);
    const fixed = slot >= this.map.capacity;
    if (!fixed && i32[sw + S_HASH] === 0) {
      this.locks.unlock(sw + S_LOCK);
      return null;
    }
    const meta = i32[sw + S_META]!;
    const kind = meta & 15;
    const len = kind === KIND_DIGEST ? 4 : kind === KIND_FIXED ? 0 : meta >>> 4;
    const kb = (sw << 2) + KEY_OFF;
    const out: SlotSnapshot = {
      gen: fixed ? -1 : i32[sw + S_GEN]!,
      dir: i32[sw + S_DIR]!,
      kind,
      key: u8.slice(kb, kb + len),
      consumed: i32[sw + S_PENDING]!,
    };
    i32[sw + S_PENDING] = 0;
    this.locks.unlock(sw + S_LOCK);
    return out;
  }

  /** The key's 32-bit hash word (part of a digest key's name). */
  hashWord(slot: number): number {
    return this.map.i32[this.slotW(slot) + S_HASH]!;
  }

  /** Digest key length (chars). */
  keyLength(slot: number): number {
    return this.map.i32[this.slotW(slot) + S_META]! >>> 4;
  }

  /** Takes the slot's pending consumption when it still holds the key of generation `gen`; -1 when the key left the slot. */
  takePending(slot: number, gen: number): number {
    const i32 = this.map.i32;
    const sw = this.slotW(slot);
    this.locks.lock(sw + S_LOCK);
    let out = -1;
    if (gen < 0 || i32[sw + S_GEN] === gen) {
      out = i32[sw + S_PENDING]!;
      i32[sw + S_PENDING] = 0;
    }
    this.locks.unlock(sw + S_LOCK);
    return out;
  }

  /** Cluster-sync ownership (one syncer per buffer). */
  tryOwn(token: number): boolean {
    return Atomics.compareExchange(this.map.i32, H_SYNC_OWNER, 0, token) === 0;
  }

  release(token: number): void {
    Atomics.compareExchange(this.map.i32, H_SYNC_OWNER, token, 0);
  }
}
