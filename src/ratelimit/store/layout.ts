// The rate-limit store's shared memory: one SharedArrayBuffer that every
// event-loop thread handed it (workerData) maps the same way.
//
//   header      128 B   the HEADER words
//   stripes     16 KiB  4096 insert locks (Int32), chosen by key hash
//   directory   8 KiB   256 limit definitions of 32 B (DIR_W, DIR_F)
//   counters    256 KiB admitted/rejected per limit per thread lane (Float64)
//   dirty ring  ≤256 KiB slots with unsynced cluster consumption (Int32)
//   slots       (capacity + 256) × stride; stride = 40 + keyBytes (96 B by default)
// A slot: SLOT_W words, SLOT_F doubles, then the key bytes at KEY_OFF.
// Bytes per key = stride (96 with the default 56 key bytes): 1M keys ≈ 96 MiB + 0.6 MiB.
// Slots capacity .. capacity + 255 are the limits' fixed (shared) buckets.
//
// Field indexes are named: HEADER, DIR_W / DIR_F (a directory entry's
// words and doubles), SLOT_W / SLOT_F (a slot's words and doubles).

import { randomFillSync } from 'node:crypto';

const MAGIC = 0x5043524c; // "PCRL"
const VERSION = 1;
const HEADER_BYTES = 128;
/** Insert locks (a power of two). */
export const STRIPES = 4096;
/** Limit definitions one store can hold over its lifetime (reloads with changed limits add new ones). */
export const MAX_LIMITS = 256;
/** Threads that can keep separate counters (more wrap around and share a lane). */
export const COUNTER_LANES = 64;
/** Slots a key may occupy from its home slot on. */
export const PROBE_WINDOW = 32;
const MAX_RING = 65536;
/** Most limits one route can name. */
export const MAX_ROUTE_LIMITS = 32;

// The field tables below are plain objects: each file that reads fields on
// the hot path copies the ones it uses into module constants once
// (`const { GEN: SLOT_W.GEN } = SLOT_W`). A binding imported from another module
// is not folded into the code that reads it (V8 loads it on every use, and
// vitest's module runner calls a getter), which a probe loop would pay per slot.

/** Header, in Int32 words. */
export const HEADER = {
  MAGIC: 0,
  VERSION: 1,
  CAPACITY: 2,
  KEYBYTES: 3,
  /** The HalfSipHash key (seed), two words. */
  K0: 4,
  K1: 5,
  DIRCOUNT: 6,
  DIRLOCK: 7,
  /** Cluster sync owner token (0 = nobody): one syncer per buffer. */
  SYNC_OWNER: 8,
  DIRTY_W: 9,
  DIRTY_R: 10,
  /** 1 when the dirty ring overflowed: the syncer scans every slot once. */
  DIRTY_OVF: 11,
  RINGSIZE: 12,
  LANE_NEXT: 13,
  /** 1 for a singleThread store (plain-write locks): refuses to be attached elsewhere. */
  SINGLE: 14,
} as const;

/** A directory entry's Int32 words. */
export const DIR_W = {
  /** Definition id (compile.ts hashes name + params). */
  NS: 0,
  /** DIR_FLAG bits. */
  FLAGS: 1,
  /** Words per entry. */
  SIZE: 8,
} as const;

/** A directory entry's Float64 fields, in the limit's integer units. */
export const DIR_F = {
  /** Units gained per ms. */
  RATE: 1,
  /** Units one token costs. */
  COST: 2,
  /** Units a full bucket holds. */
  CAP: 3,
  /** Doubles per entry. */
  SIZE: 4,
} as const;

/** DIR_W.FLAGS bits. */
export const DIR_FLAG = {
  USED: 1,
  CLUSTER: 2,
} as const;

/** A slot's Int32 words. */
export const SLOT_W = {
  /** The key's 32-bit hash; 0 = empty (slots never become empty again). */
  HASH: 0,
  LOCK: 1,
  /** Directory index of the key's limit. */
  DIR: 2,
  /** Key kind (low 4 bits) | key length << 4. */
  META: 3,
  /** Cluster consumption since the last sync. */
  PENDING: 4,
  /** Seqlock of the key: odd while the key is written. */
  GEN: 5,
} as const;

/** A slot's Float64 fields. */
export const SLOT_F = {
  /** Units in the bucket at LAST. */
  LEVEL: 3,
  /** Epoch ms of the last refill. */
  LAST: 4,
} as const;

/** Byte offset of the key bytes in a slot. */
export const KEY_OFF = 40;

// key kinds (low 4 bits of SLOT_W.META)
export const KIND_FIXED = 0;
export const KIND_STR = 1;
export const KIND_DIGEST = 2;
export const KIND_IP4 = 3;
export const KIND_IP6 = 4;
export const KIND_NUM = 5;
export const KIND_BOOL = 6;

export interface RateLimitStoreOptions {
/** Buckets the table holds (rounded up to a power of two). Default 1,048,576. Ignored when `buffer` is given. */
  capacity?: number;
/** Key bytes stored per bucket for exact comparison (multiple of 8, 8..248). Default 56. */
  keyBytes?: number;
/** An existing store's buffer (from another thread's `store.buffer`). */
  buffer?: SharedArrayBuffer;
  /**
   * This thread is the store's only user (server.threads: 1): buckets are
   * locked with plain writes instead of Atomics (about 40% cheaper on Node 20,
   * where Atomics are builtin calls). Attaching another store to the buffer
   * then throws. Default false.
   */
  singleThread?: boolean;
}

function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function offsets(capacity: number, keyBytes: number, ringSize: number) {
  const stride = KEY_OFF + keyBytes;
  const stripesOff = HEADER_BYTES;
  const dirOff = stripesOff + STRIPES * 4;
  const countersOff = dirOff + MAX_LIMITS * DIR_W.SIZE * 4;
  const ringOff = countersOff + MAX_LIMITS * COUNTER_LANES * 16;
  const slotsOff = Math.ceil((ringOff + ringSize * 4) / 8) * 8;
  const total = slotsOff + (capacity + MAX_LIMITS) * stride;
  return { stride, stripesOff, dirOff, countersOff, ringOff, slotsOff, total };
}

/** Creates a store's buffer with its header written, checking the options. */
function createBuffer(opts: RateLimitStoreOptions): SharedArrayBuffer {
  const want = opts.capacity ?? 1 << 20;
  if (!Number.isInteger(want) || want < 64 || want > 1 << 26) {
    throw new Error(`rate-limit store: capacity ${want} must be an integer from 64 to 67108864`);
  }
  const keyBytes = opts.keyBytes ?? 56;
  if (!Number.isInteger(keyBytes) || keyBytes % 8 !== 0 || keyBytes < 8 || keyBytes > 248) {
    throw new Error(`rate-limit store: keyBytes ${keyBytes} must be a multiple of 8 from 8 to 248`);
  }
  const capacity = pow2AtLeast(want);
  const ringSize = Math.min(MAX_RING, capacity);
  const buffer = new SharedArrayBuffer(offsets(capacity, keyBytes, ringSize).total);
  const h = new Int32Array(buffer, 0, HEADER_BYTES / 4);
  const seed = new Int32Array(2);
  randomFillSync(seed);
  h[HEADER.CAPACITY] = capacity;
  h[HEADER.KEYBYTES] = keyBytes;
  h[HEADER.K0] = seed[0]!;
  h[HEADER.K1] = seed[1]!;
  h[HEADER.RINGSIZE] = ringSize;
  h[HEADER.SINGLE] = opts.singleThread ? 1 : 0;
  h[HEADER.VERSION] = VERSION;
  Atomics.store(h, HEADER.MAGIC, MAGIC);
  return buffer;
}

function checkAttached(buffer: SharedArrayBuffer): void {
  const h = new Int32Array(buffer, 0, HEADER_BYTES / 4);
  if (h[HEADER.MAGIC] !== MAGIC || h[HEADER.VERSION] !== VERSION) {
    throw new Error('rate-limit store: the buffer given is not a rate-limit store of this version; pass `store.buffer` of a store created by createRateLimitStore');
  }
  if (h[HEADER.SINGLE] === 1) {
    throw new Error('rate-limit store: this buffer belongs to a store created with singleThread: true; create it without singleThread to share it between threads');
  }
}

/**
 * One thread's map of a store buffer: typed views and every region's base,
 * in the unit of the view that reads it (W: Int32 words, F: Float64s).
 * The store's parts copy the fields they use into their own (monomorphic
 * loads on the hot path).
 */
export class StoreMap {
  readonly buffer: SharedArrayBuffer;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
/** Buckets in the hash table (power of two). */
  readonly capacity: number;
  readonly mask: number;
/** Key bytes compared verbatim; longer keys are stored as a 64-bit keyed digest. */
  readonly keyBytes: number;
/** Bytes per slot. */
  readonly stride: number;
  readonly strideW: number;
  readonly strideF: number;
  readonly slotsW: number;
  readonly slotsF: number;
  readonly stripesW: number;
  readonly dirW: number;
  readonly dirF: number;
  readonly countersF: number;
  readonly ringW: number;
  readonly ringMask: number;
  readonly k0: number;
  readonly k1: number;
/** Other threads may use the buffer: lock with Atomics. */
  readonly shared: boolean;
/** This thread's counter lane. */
  readonly lane: number;
  /**
   * The current time (epoch ms) for the next lookup, peek or take: the caller
   * writes it here once per request. A Float64Array slot rather than an
   * argument, because a double passed to a call that is not inlined is boxed
   * (a heap allocation per request).
   */
  readonly time = new Float64Array(1);

  constructor(opts: RateLimitStoreOptions) {
    if (opts.buffer) checkAttached(opts.buffer);
    this.buffer = opts.buffer ?? createBuffer(opts);
    this.i32 = new Int32Array(this.buffer);
    this.f64 = new Float64Array(this.buffer);
    this.u8 = new Uint8Array(this.buffer);
    const h = this.i32;
    this.capacity = h[HEADER.CAPACITY]!;
    this.keyBytes = h[HEADER.KEYBYTES]!;
    const ringSize = h[HEADER.RINGSIZE]!;
    const o = offsets(this.capacity, this.keyBytes, ringSize);
    this.mask = this.capacity - 1;
    this.stride = o.stride;
    this.strideW = o.stride / 4;
    this.strideF = o.stride / 8;
    this.slotsW = o.slotsOff / 4;
    this.slotsF = o.slotsOff / 8;
    this.stripesW = o.stripesOff / 4;
    this.dirW = o.dirOff / 4;
    this.dirF = o.dirOff / 8;
    this.countersF = o.countersOff / 8;
    this.ringW = o.ringOff / 4;
    this.ringMask = ringSize - 1;
    this.k0 = h[HEADER.K0]!;
    this.k1 = h[HEADER.K1]!;
    this.shared = h[HEADER.SINGLE] !== 1;
    this.lane = Atomics.add(h, HEADER.LANE_NEXT, 1) % COUNTER_LANES;
  }
}
