// The rate-limit store: one SharedArrayBuffer holding a fixed-capacity,
// open-addressing table of token buckets, so every event-loop thread that is
// handed the buffer (workerData) enforces the same limits exactly.
//
// Layout (all offsets fixed at creation, recorded in the header):
//   header      128 B   magic, version, capacity, key bytes, hash key (seed),
//                       directory count/lock, cluster-sync owner, dirty ring cursors
//   stripes     16 KiB  4096 insert locks (Int32), chosen by key hash
//   directory   8 KiB   256 limit definitions: rate, token cost, capacity (scaled units)
//   counters    256 KiB admitted/rejected per limit per thread lane (Float64)
//   dirty ring  ≤256 KiB slots with unsynced cluster consumption (Int32)
//   slots       (capacity + 256) × stride; stride = 40 + keyBytes (96 B by default)
// A slot: hash(i32, 0 = empty) lock(i32) limit(i32) meta(i32: kind | len<<4)
//         pending(i32, cluster consumption since last sync) gen(i32, seqlock of the key)
//         level(f64 @24) last(f64 @32) key bytes(@40).
// Bytes per key = stride (96 with the default 56 key bytes): 1M keys ≈ 96 MiB + 0.6 MiB.
//
// Keys: a seeded HalfSipHash-1-3 (64-bit secret key drawn from crypto at
// creation and stored in the header, so every thread sharing the buffer
// hashes alike while clients cannot choose colliding keys), computed by
// iterating charCodeAt / bytes: no strings or objects per check. The limit's
// directory index is mixed into the hash and compared, so two limits never
// share a bucket. Keys of up to keyBytes Latin-1 characters are stored and
// compared byte for byte. Longer keys (or keys with characters above U+00FF)
// are stored as their 64-bit keyed digest + length: two such keys share a
// bucket only with probability 2^-64, and nobody without the seed can aim for it.
// Numbers (claims) are keyed by their 8 IEEE bytes, IPv4 by 4 bytes, IPv6 by its /64.
//
// Tokens: integer "units" so refill is exact. A limit of `rate` per `per` ms
// with `burst` is scaled to integers rate', per' (rate'/per' = rate/per); a
// token costs per' units, a bucket holds burst × per' units and gains rate'
// units per ms. With integer ms clocks and integer config the arithmetic is
// exact in Float64 (values stay far below 2^53).
//
// Eviction never hands an abuser a fresh bucket: only a bucket that has
// refilled to full (and has no unsynced cluster consumption) may be
// reused, since a full idle bucket is indistinguishable from no bucket.
// A key probes a window of 32 slots from its home; when the window holds
// neither the key, an empty slot nor an evictable bucket, the key uses its
// limit's shared "fixed" bucket (the overflow bucket: same rate and burst as
// one key, shared by every key that found no room) — never an unlimited pass.
// The same fixed bucket serves `key: global` and requests that lack the key
// (no header, no claim), see compile.ts.
//
// Concurrency: each slot has an Int32 spin lock (Atomics.compareExchange).
// Bucket state is only read or written under the slot's lock. A multi-limit
// take locks its slots in ascending slot order (no deadlock), checks every
// bucket, then takes from all or none. Finding a key is lock-free: a slot's
// key only changes under its lock, with `gen` bumped to odd before and even
// after (seqlock), so a take verifies under the lock that gen is what it was
// when the key matched, and retries otherwise. Inserting a new key holds the
// insert stripe of its hash, so two threads never insert the same key twice.
// Slots never become empty again, so a lookup stops at the first empty slot.
// A store created with `singleThread: true` (server.threads: 1) takes the
// same locks with plain writes: Atomics are builtin calls on Node 20 and
// cost ~40% of a check; such a buffer refuses to be attached elsewhere.

import { randomFillSync } from 'node:crypto';

const MAGIC = 0x5043524c; // "PCRL"
const VERSION = 1;
const HEADER_BYTES = 128;
const STRIPES = 4096;
/** Limit definitions one store can hold over its lifetime (reloads with changed limits add new ones). */
export const MAX_LIMITS = 256;
const DIR_ENTRY_BYTES = 32;
/** Threads that can keep separate counters (more wrap around and share a lane). */
export const COUNTER_LANES = 64;
const PROBE_WINDOW = 32;
const MAX_RING = 65536;
/** Most limits one route can name. */
export const MAX_ROUTE_LIMITS = 32;

// header word indexes
const H_MAGIC = 0;
const H_VERSION = 1;
const H_CAPACITY = 2;
const H_KEYBYTES = 3;
const H_K0 = 4;
const H_K1 = 5;
const H_DIRCOUNT = 6;
const H_DIRLOCK = 7;
/** Cluster sync owner token (0 = nobody): one syncer per buffer. */
export const H_SYNC_OWNER = 8;
const H_DIRTY_W = 9;
const H_DIRTY_R = 10;
const H_DIRTY_OVF = 11;
const H_RINGSIZE = 12;
const H_LANE_NEXT = 13;
const H_SINGLE = 14;

// slot word offsets
const S_HASH = 0;
const S_LOCK = 1;
const S_DIR = 2;
const S_META = 3;
const S_PENDING = 4;
const S_GEN = 5;
// slot float offsets (in Float64 units from the slot start)
const F_LEVEL = 3;
const F_LAST = 4;
const KEY_OFF = 40;

// key kinds (low 4 bits of meta)
export const KIND_FIXED = 0;
export const KIND_STR = 1;
export const KIND_DIGEST = 2;
export const KIND_IP4 = 3;
export const KIND_IP6 = 4;
export const KIND_NUM = 5;
export const KIND_BOOL = 6;

const DIR_USED = 1;
const DIR_CLUSTER = 2;

/** `find*` result when the key is absent and there is room for it (peek only). */
export const NOT_FOUND = -1;
/** `takeAll` result when a slot changed hands between lookup and lock: look up again. */
export const STALE = -2;

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

function layout(capacity: number, keyBytes: number, ringSize: number) {
  const stride = KEY_OFF + keyBytes;
  const stripesOff = HEADER_BYTES;
  const dirOff = stripesOff + STRIPES * 4;
  const countersOff = dirOff + MAX_LIMITS * DIR_ENTRY_BYTES;
  const ringOff = countersOff + MAX_LIMITS * COUNTER_LANES * 16;
  const slotsOff = Math.ceil((ringOff + ringSize * 4) / 8) * 8;
  const total = slotsOff + (capacity + MAX_LIMITS) * stride;
  return { stride, stripesOff, dirOff, countersOff, ringOff, slotsOff, total };
}

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

  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly u8: Uint8Array;
  private readonly mask: number;
  private readonly strideW: number; // stride in Int32 words
  private readonly strideF: number; // stride in Float64 words
  private readonly slotsW: number;
  private readonly slotsF: number;
  private readonly slotsB: number;
  private readonly stripesW: number;
  private readonly dirF: number; // directory base in Float64 words
  private readonly dirW: number;
  private readonly countersF: number;
  private readonly ringW: number;
  private readonly ringMask: number;
  private readonly k0: number;
  private readonly k1: number;

  // per-thread scratch (the hot path is synchronous: one user at a time)
  private h2 = 0;
  private kind = 0;
  private readonly order = new Int32Array(MAX_ROUTE_LIMITS);
  private readonly numF64 = new Float64Array(1);
  private readonly numU8 = new Uint8Array(this.numF64.buffer);
  /**
   * The current time (epoch ms) for the next lookup, peek or takeAll: the caller
   * writes it here once per request. A Float64Array slot rather than an
   * argument, because a double passed to a call that is not inlined is boxed
   * (a heap allocation per request).
   */
  readonly time = new Float64Array(1);
  /** Generation of the slot returned by the last find* (-1 for fixed slots). */
  foundGen = -1;
  /** Times a slot lock was taken over after spinning too long (a thread died holding it). */
  lockSteals = 0;

  constructor(opts: RateLimitStoreOptions = {}) {
    let capacity: number;
    let keyBytes: number;
    let ringSize: number;
    if (opts.buffer) {
      const h = new Int32Array(opts.buffer, 0, HEADER_BYTES / 4);
      if (h[H_MAGIC] !== MAGIC || h[H_VERSION] !== VERSION) {
        throw new Error('rate-limit store: the buffer given is not a rate-limit store of this version; pass `store.buffer` of a store created by createRateLimitStore');
      }
      if (h[H_SINGLE] === 1) {
        throw new Error('rate-limit store: this buffer belongs to a store created with singleThread: true; create it without singleThread to share it between threads');
      }
      capacity = h[H_CAPACITY]!;
      keyBytes = h[H_KEYBYTES]!;
      ringSize = h[H_RINGSIZE]!;
      this.buffer = opts.buffer;
    } else {
      const want = opts.capacity ?? 1 << 20;
      if (!Number.isInteger(want) || want < 64 || want > 1 << 26) {
        throw new Error(`rate-limit store: capacity ${want} must be an integer from 64 to 67108864`);
      }
      keyBytes = opts.keyBytes ?? 56;
      if (!Number.isInteger(keyBytes) || keyBytes % 8 !== 0 || keyBytes < 8 || keyBytes > 248) {
        throw new Error(`rate-limit store: keyBytes ${keyBytes} must be a multiple of 8 from 8 to 248`);
      }
      capacity = pow2AtLeast(want);
      ringSize = Math.min(MAX_RING, capacity);
      const l = layout(capacity, keyBytes, ringSize);
      this.buffer = new SharedArrayBuffer(l.total);
      const h = new Int32Array(this.buffer, 0, HEADER_BYTES / 4);
      const seed = new Int32Array(2);
      randomFillSync(seed);
      h[H_CAPACITY] = capacity;
      h[H_KEYBYTES] = keyBytes;
      h[H_K0] = seed[0]!;
      h[H_K1] = seed[1]!;
      h[H_RINGSIZE] = ringSize;
      h[H_SINGLE] = opts.singleThread ? 1 : 0;
      h[H_VERSION] = VERSION;
      Atomics.store(h, H_MAGIC, MAGIC);
    }
    const l = layout(capacity, keyBytes, ringSize);
    this.capacity = capacity;
    this.keyBytes = keyBytes;
    this.bytesPerKey = l.stride;
    this.i32 = new Int32Array(this.buffer);
    this.f64 = new Float64Array(this.buffer);
    this.u8 = new Uint8Array(this.buffer);
    this.mask = capacity - 1;
    this.strideW = l.stride / 4;
    this.strideF = l.stride / 8;
    this.slotsW = l.slotsOff / 4;
    this.slotsF = l.slotsOff / 8;
    this.slotsB = l.slotsOff;
    this.stripesW = l.stripesOff / 4;
    this.dirF = l.dirOff / 8;
    this.dirW = l.dirOff / 4;
    this.countersF = l.countersOff / 8;
    this.ringW = l.ringOff / 4;
    this.ringMask = ringSize - 1;
    this.k0 = this.i32[H_K0]!;
    this.k1 = this.i32[H_K1]!;
    this.lane = Atomics.add(this.i32, H_LANE_NEXT, 1) % COUNTER_LANES;
    this.shared = this.i32[H_SINGLE] !== 1;
  }

  // ---------------------------------------------------------------- limits

  /**
   * Registers a limit definition and returns its directory index. `ns`
   * identifies the definition (compile.ts hashes name + params); the same
   * ns and params return the same index in every thread and across reloads,
   * so buckets survive a reload that does not change the limit.
   * rateU: units per ms; costU: units per token; capU: bucket capacity in units.
   */
  defineLimit(ns: number, rateU: number, costU: number, capU: number, cluster: boolean, now: number): number {
    const i32 = this.i32;
    this.spinLock(H_DIRLOCK);
    try {
      const count = i32[H_DIRCOUNT]!;
      for (let d = 0; d < count; d++) {
        const w = this.dirW + d * (DIR_ENTRY_BYTES / 4);
        const f = this.dirF + d * (DIR_ENTRY_BYTES / 8);
        if (i32[w] === ns && this.f64[f + 1] === rateU && this.f64[f + 2] === costU && this.f64[f + 3] === capU &&
            ((i32[w + 1]! & DIR_CLUSTER) !== 0) === cluster) {
          return d;
        }
      }
      if (count >= MAX_LIMITS) {
        throw new Error(`rate-limit store: more than ${MAX_LIMITS} distinct rate-limit definitions since start (reloads that change limits add new ones); restart the gateway`);
      }
      const d = count;
      const w = this.dirW + d * (DIR_ENTRY_BYTES / 4);
      const f = this.dirF + d * (DIR_ENTRY_BYTES / 8);
      i32[w] = ns;
      i32[w + 1] = DIR_USED | (cluster ? DIR_CLUSTER : 0);
      this.f64[f + 1] = rateU;
      this.f64[f + 2] = costU;
      this.f64[f + 3] = capU;
      // the limit's fixed bucket starts full
      const s = this.capacity + d;
      const sw = this.slotsW + s * this.strideW;
      const sf = this.slotsF + s * this.strideF;
      i32[sw + S_DIR] = d;
      i32[sw + S_META] = KIND_FIXED;
      this.f64[sf + F_LEVEL] = capU;
      this.f64[sf + F_LAST] = now;
      Atomics.store(i32, H_DIRCOUNT, count + 1);
      return d;
    } finally {
      Atomics.store(i32, H_DIRLOCK, 0);
    }
  }

  /** Limit definitions registered so far. */
  get limitCount(): number {
    return Atomics.load(this.i32, H_DIRCOUNT);
  }

  rateU(d: number): number { return this.f64[this.dirF + d * 4 + 1]!; }
  costU(d: number): number { return this.f64[this.dirF + d * 4 + 2]!; }
  capU(d: number): number { return this.f64[this.dirF + d * 4 + 3]!; }
  isCluster(d: number): boolean { return (this.i32[this.dirW + d * 8 + 1]! & DIR_CLUSTER) !== 0; }

  /** The limit's shared bucket: `global`, overflow, missing key. */
  fixedSlot(d: number): number {
    return this.capacity + d;
  }

  // ---------------------------------------------------------------- counters

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

  // ---------------------------------------------------------------- hashing + lookup

  /**
   * Finds (or with `insert`, creates) the bucket of string key `s` under
   * limit `d`. Returns the slot; NOT_FOUND when absent and there is room
   * (only without insert); the fixed (overflow) slot when there is no room.
   * Sets `foundGen`.
   */
  findString(d: number, s: string, insert: boolean): number {
    // Latin-1 fast path: four characters per 32-bit word. A character above
    // U+00FF sends the key to findWide (two per word, digest key).
    const L = s.length;
    let v0 = this.k0;
    let v1 = this.k1 ^ d;
    let v2 = 0x6c796765 ^ this.k0 ^ L; // length in the initial state
    let v3 = 0x74656462 ^ this.k1;
    let or = 0;
    let m = 0;
    let i = 0;
    const end = L & ~3;
    for (; i < end; i += 4) {
      const c0 = s.charCodeAt(i);
      const c1 = s.charCodeAt(i + 1);
      const c2 = s.charCodeAt(i + 2);
      const c3 = s.charCodeAt(i + 3);
      or |= c0 | c1 | c2 | c3;
      m = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
      v3 ^= m;
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
      v0 ^= m;
    }
    if (i < L) {
      // the last 1-3 characters, zero-padded
      m = 0;
      for (let sh = 0; i < L; i++, sh += 8) {
        const c = s.charCodeAt(i);
        or |= c;
        m |= c << sh;
      }
      v3 ^= m;
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
      v0 ^= m;
    }
    if (or > 0xff) return this.findWide(d, s, insert);
    v2 ^= 0xff;
    for (let r = 0; r < 3; r++) {
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    }
    let h1 = v1 ^ v3;
    if (h1 === 0) h1 = 1;
    if (L > this.keyBytes) {
      // long key: a second 32-bit output makes the stored 64-bit digest
      v1 ^= 0xdd;
      for (let r = 0; r < 3; r++) {
        v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
        v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
        v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
        v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
      }
      this.h2 = v1 ^ v3;
      this.kind = KIND_DIGEST;
    } else {
      this.kind = KIND_STR;
    }
    return this.probe(d, h1, (L << 4) | this.kind, s, null, 0, insert);
  }

  /** A key with characters above U+00FF: two UTF-16 units per word, always a digest key. */
  private findWide(d: number, s: string, insert: boolean): number {
    const L = s.length;
    let v0 = this.k0;
    let v1 = this.k1 ^ d;
    let v2 = 0x6c796765 ^ this.k0 ^ L ^ 0x40000000; // distinct from the Latin-1 encoding
    let v3 = 0x74656462 ^ this.k1;
    let m = 0;
    let i = 0;
    const end = L & ~1;
    for (; i < end; i += 2) {
      m = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
      v3 ^= m;
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
      v0 ^= m;
    }
    if (i < L) {
      m = s.charCodeAt(i);
      v3 ^= m;
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
      v0 ^= m;
    }
    v2 ^= 0xff;
    for (let r = 0; r < 3; r++) {
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    }
    let h1 = v1 ^ v3;
    if (h1 === 0) h1 = 1;
    v1 ^= 0xdd;
    for (let r = 0; r < 3; r++) {
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    }
    this.h2 = v1 ^ v3;
    this.kind = KIND_DIGEST;
    return this.probe(d, h1, (L << 4) | KIND_DIGEST, s, null, 0, insert);
  }

  /** Like findString for a binary key: `len` (≤ 16) bytes of `b` from `off`. */
  findBytes(d: number, kind: number, b: Uint8Array, off: number, len: number, insert: boolean): number {
    let v0 = this.k0;
    let v1 = this.k1 ^ d;
    // length and kind in the initial state: no extra round for a length block
    let v2 = 0x6c796765 ^ this.k0 ^ ((len << 8) | kind);
    let v3 = 0x74656462 ^ this.k1;
    let m = 0;
    let i = 0;
    const end = off + (len & ~3);
    for (i = off; i < end; i += 4) {
      m = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
      v3 ^= m;
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
      v0 ^= m;
    }
    if (i < off + len) {
      // last partial word, zero-padded (the length is in the initial state)
      m = 0;
      for (let sh = 0; i < off + len; i++, sh += 8) m |= b[i]! << sh;
      v3 ^= m;
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
      v0 ^= m;
    }
    v2 ^= 0xff;
    for (let r = 0; r < 3; r++) {
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    }
    let h1 = v1 ^ v3;
    if (h1 === 0) h1 = 1;
    this.kind = kind;
    return this.probe(d, h1, (len << 4) | kind, '', b, off, insert);
  }

  /** A numeric key (claim value): its 8 IEEE-754 bytes. */
  findNumber(d: number, x: number, insert: boolean): number {
    this.numF64[0] = x;
    return this.findBytes(d, KIND_NUM, this.numU8, 0, 8, insert);
  }

  /** A boolean key (claim value). */
  findBool(d: number, x: boolean, insert: boolean): number {
    this.numU8[0] = x ? 1 : 0;
    return this.findBytes(d, KIND_BOOL, this.numU8, 0, 1, insert);
  }

  private keyMatches(sw: number, meta: number, s: string, b: Uint8Array | null, off: number): boolean {
    const kb = (sw << 2) + KEY_OFF;
    const len = meta >>> 4;
    const u8 = this.u8;
    if (b === null) {
      if ((meta & 15) === KIND_DIGEST) return this.i32[kb >> 2] === this.h2;
      for (let i = 0; i < len; i++) if (u8[kb + i] !== s.charCodeAt(i)) return false;
      return true;
    }
    for (let i = 0; i < len; i++) if (u8[kb + i] !== b[off + i]) return false;
    return true;
  }

  private probe(d: number, h1: number, meta: number, s: string, b: Uint8Array | null, off: number, insert: boolean): number {
    const i32 = this.i32;
    let slot = h1 & this.mask;
    let p = 0;
    for (; p < PROBE_WINDOW; p++) {
      const sw = this.slotsW + slot * this.strideW;
      const hv = i32[sw + S_HASH];
      if (hv === 0) break;
      if (hv === h1) {
        const g = this.shared ? Atomics.load(i32, sw + S_GEN) : i32[sw + S_GEN]!;
        if (i32[sw + S_DIR] === d && i32[sw + S_META] === meta && this.keyMatches(sw, meta, s, b, off)) {
          this.foundGen = g;
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
        this.foundGen = -1;
        return this.capacity + d;
      }
    }
    if (insert) return this.insert(d, h1, meta, s, b, off);
    this.foundGen = -1;
    return NOT_FOUND;
  }

  /** Unlocked hint: the bucket has refilled to full and holds no unsynced cluster consumption. */
  private evictable(slot: number): boolean {
    const now = this.time[0]!;
    const sw = this.slotsW + slot * this.strideW;
    const sf = this.slotsF + slot * this.strideF;
    // unsynced cluster consumption must reach Redis first (when a syncer runs)
    if (this.i32[sw + S_PENDING] !== 0 && this.i32[H_SYNC_OWNER] !== 0) return false;
    const d = this.i32[sw + S_DIR]!;
    const f = this.dirF + d * 4;
    const last = this.f64[sf + F_LAST]!;
    const elapsed = now > last ? now - last : 0;
    return this.f64[sf + F_LEVEL]! + elapsed * this.f64[f + 1]! >= this.f64[f + 3]!;
  }

  private insert(d: number, h1: number, meta: number, s: string, b: Uint8Array | null, off: number): number {
    const i32 = this.i32;
    const stripe = this.stripesW + (h1 & (STRIPES - 1));
    this.spinLock(stripe);
    let result = -1;
    let candidates = 0;
    let slot = h1 & this.mask;
    for (let p = 0; p < PROBE_WINDOW; ) {
      const sw = this.slotsW + slot * this.strideW;
      const hv = Atomics.load(i32, sw + S_HASH);
      if (hv === 0) {
        this.lockSlot(sw);
        if (Atomics.load(i32, sw + S_HASH) === 0) {
          this.writeKey(sw, slot, d, h1, meta, s, b, off);
          this.unlockSlot(sw);
          result = slot;
          break;
        }
        this.unlockSlot(sw);
        continue; // claimed meanwhile by another key: examine it again
      }
      if (hv === h1) {
        const g = Atomics.load(i32, sw + S_GEN);
        if (i32[sw + S_DIR] === d && i32[sw + S_META] === meta && this.keyMatches(sw, meta, s, b, off)) {
          this.foundGen = g; // inserted by another thread while we waited for the stripe
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
          this.lockSlot(sw);
          if (this.evictable(slot)) {
            this.writeKey(sw, slot, d, h1, meta, s, b, off);
            this.unlockSlot(sw);
            result = slot;
            break;
          }
          this.unlockSlot(sw);
        }
        slot = (slot + 1) & this.mask;
      }
    }
    this.unlock(stripe);
    if (result < 0) {
      this.foundGen = -1;
      return this.capacity + d;
    }
    return result;
  }

  /** Under the slot lock: (re)assign the slot to a key, bucket full. */
  private writeKey(sw: number, slot: number, d: number, h1: number, meta: number, s: string, b: Uint8Array | null, off: number): void {
    const i32 = this.i32;
    const g = (i32[sw + S_GEN]! + 1) | 0; // odd: key being written
    Atomics.store(i32, sw + S_GEN, g);
    i32[sw + S_DIR] = d;
    i32[sw + S_META] = meta;
    i32[sw + S_PENDING] = 0;
    const kb = (sw << 2) + KEY_OFF;
    const len = meta >>> 4;
    if (b !== null) {
      for (let i = 0; i < len; i++) this.u8[kb + i] = b[off + i]!;
    } else if ((meta & 15) === KIND_DIGEST) {
      i32[kb >> 2] = this.h2;
    } else {
      for (let i = 0; i < len; i++) this.u8[kb + i] = s.charCodeAt(i);
    }
    const sf = this.slotsF + slot * this.strideF;
    this.f64[sf + F_LEVEL] = this.f64[this.dirF + d * 4 + 3]!;
    this.f64[sf + F_LAST] = this.time[0]!;
    Atomics.store(i32, sw + S_HASH, h1);
    Atomics.store(i32, sw + S_GEN, (g + 1) | 0);
    this.foundGen = (g + 1) | 0;
  }

  // ---------------------------------------------------------------- locks

  private spinLock(w: number): void {
    if (!this.shared) {
      this.i32[w] = 1;
      return;
    }
    if (Atomics.compareExchange(this.i32, w, 0, 1) === 0) return;
    this.spinSlow(w);
  }

  private unlock(w: number): void {
    if (this.shared) Atomics.store(this.i32, w, 0);
    else this.i32[w] = 0;
  }

  private spinSlow(w: number): void {
    // Critical sections are a few dozen instructions; spinning long means the
    // holder died mid-section (it cannot throw there), so take the lock over.
    for (let spins = 0; spins < 50_000_000; spins++) {
      if (this.i32[w] === 0 && Atomics.compareExchange(this.i32, w, 0, 1) === 0) return;
    }
    this.lockSteals++;
    Atomics.store(this.i32, w, 1);
  }

  private lockSlot(sw: number): void {
    this.spinLock(sw + S_LOCK);
  }

  private unlockSlot(sw: number): void {
    this.unlock(sw + S_LOCK);
  }

  // ---------------------------------------------------------------- buckets

  /**
   * Writes to out[i] the tokens (in units) bucket `slot` of limit `d` holds
   * now, without taking any: the full capacity when the slot changed hands
   * since it was found (generation `gen`; -1 = fixed slot, never changes hands).
   */
  peek(slot: number, gen: number, d: number, out: Float64Array, i: number): void {
    const sw = this.slotsW + slot * this.strideW;
    const sf = this.slotsF + slot * this.strideF;
    const capU = this.f64[this.dirF + d * 4 + 3]!;
    const now = this.time[0]!;
    this.lockSlot(sw);
    let level = capU;
    if (gen < 0 || this.i32[sw + S_GEN] === gen) {
      level = this.f64[sf + F_LEVEL]!;
      const last = this.f64[sf + F_LAST]!;
      if (now > last) {
        level += (now - last) * this.f64[this.dirF + d * 4 + 1]!;
        if (level > capU) level = capU;
      }
    }
    this.unlockSlot(sw);
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
    const shared = this.shared;
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
    let prev = -1;
    for (let k = 0; k < n; k++) {
      const s = slots[order[k]!]!;
      if (s === prev) continue; // one bucket named twice is locked once
      prev = s;
      const lw = slotsW + s * strideW + S_LOCK;
      if (!shared) i32[lw] = 1;
      else if (Atomics.compareExchange(i32, lw, 0, 1) !== 0) this.spinSlow(lw);
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
        const f = this.dirF + dirs[i]! * 4;
        const sf = this.slotsF + slots[i]! * this.strideF;
        let level = f64[sf + F_LEVEL]!;
        const last = f64[sf + F_LAST]!;
        if (now > last) {
          level += (now - last) * f64[f + 1]!;
          const capU = f64[f + 3]!;
          if (level > capU) level = capU;
        }
        levels[i] = level;
        const cost = f64[f + 2]!;
        if (level < cost) {
          const wait = (cost - level) / f64[f + 1]!;
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
          const level = levels[i]! - f64[this.dirF + d * 4 + 2]!;
          levels[i] = level;
          f64[sf + F_LEVEL] = level;
          if (now > f64[sf + F_LAST]!) f64[sf + F_LAST] = now;
          if ((i32[this.dirW + d * 8 + 1]! & DIR_CLUSTER) !== 0) {
            const pw = slotsW + s * strideW + S_PENDING;
            const p = i32[pw]!;
            if (p < 0x3fffffff) i32[pw] = p + 1;
            if (p === 0) this.pushDirty(s);
          }
        }
      }
    }
    prev = -1;
    for (let k = 0; k < n; k++) {
      const s = slots[order[k]!]!;
      if (s === prev) continue;
      prev = s;
      if (shared) Atomics.store(i32, slotsW + s * strideW + S_LOCK, 0);
      else i32[slotsW + s * strideW + S_LOCK] = 0;
    }
    return result;
  }

  // ---------------------------------------------------------------- cluster sync support (cold path)

  /** Records a slot with new unsynced cluster consumption for the syncer. */
  private pushDirty(slot: number): void {
    const i32 = this.i32;
    const size = this.ringMask + 1;
    for (;;) {
      const w = Atomics.load(i32, H_DIRTY_W);
      if (((w - Atomics.load(i32, H_DIRTY_R)) | 0) >= size) {
        Atomics.store(i32, H_DIRTY_OVF, 1); // syncer will scan every slot once
        return;
      }
      if (Atomics.compareExchange(i32, H_DIRTY_W, w, (w + 1) | 0) === w) {
        Atomics.store(i32, this.ringW + (w & this.ringMask), slot + 1);
        return;
      }
    }
  }

  /** Syncer: hands out slots recorded since the last drain (call from one thread). */
  drainDirty(visit: (slot: number) => void): void {
    const i32 = this.i32;
    const w = Atomics.load(i32, H_DIRTY_W);
    let r = Atomics.load(i32, H_DIRTY_R);
    while (r !== w) {
      const v = Atomics.exchange(i32, this.ringW + (r & this.ringMask), 0);
      if (v === 0) break; // a writer reserved this entry and is storing it: next time
      visit(v - 1);
      r = (r + 1) | 0;
    }
    Atomics.store(i32, H_DIRTY_R, r);
    if (Atomics.exchange(i32, H_DIRTY_OVF, 0) === 1) {
      for (let s = 0; s < this.capacity + MAX_LIMITS; s++) {
        if (this.i32[this.slotsW + s * this.strideW + S_PENDING] !== 0) visit(s);
      }
    }
  }

  /**
   * Syncer: under the slot lock, reads the slot's identity and takes its
   * pending consumption. Returns null when the slot is empty.
   */
  snapshot(slot: number): { gen: number; dir: number; kind: number; key: Uint8Array; consumed: number } | null {
    const sw = this.slotsW + slot * this.strideW;
    this.lockSlot(sw);
    const fixed = slot >= this.capacity;
    if (!fixed && this.i32[sw + S_HASH] === 0) {
      this.unlockSlot(sw);
      return null;
    }
    const meta = this.i32[sw + S_META]!;
    const kind = meta & 15;
    const len = kind === KIND_DIGEST ? 4 : kind === KIND_FIXED ? 0 : meta >>> 4;
    const kb = (sw << 2) + KEY_OFF;
    const key = this.u8.slice(kb, kb + len);
    const out = {
      gen: fixed ? -1 : this.i32[sw + S_GEN]!,
      dir: this.i32[sw + S_DIR]!,
      kind,
      key,
      consumed: this.i32[sw + S_PENDING]!,
    };
    this.i32[sw + S_PENDING] = 0;
    this.unlockSlot(sw);
    return out;
  }

  /** Syncer: the key's 32-bit hash word (part of a digest key's name). */
  hashWord(slot: number): number {
    return this.i32[this.slotsW + slot * this.strideW + S_HASH]!;
  }

  /** Syncer: digest key length (chars). */
  keyLength(slot: number): number {
    return this.i32[this.slotsW + slot * this.strideW + S_META]! >>> 4;
  }

  /**
   * Syncer: takes the slot's pending consumption when it still holds the key
   * of generation `gen`. Returns -1 when the key left the slot.
   */
  takePending(slot: number, gen: number): number {
    const sw = this.slotsW + slot * this.strideW;
    this.lockSlot(sw);
    let out = -1;
    if (gen < 0 || this.i32[sw + S_GEN] === gen) {
      out = this.i32[sw + S_PENDING]!;
      this.i32[sw + S_PENDING] = 0;
    }
    this.unlockSlot(sw);
    return out;
  }

  /**
   * Syncer: sets the bucket to the cluster's view — `tokens` left cluster-wide
   * minus what this gateway consumed since its push (the slot's pending).
   * Returns false when the key left the slot.
   */
  applyCluster(slot: number, gen: number, d: number, tokens: number, now: number): boolean {
    const sw = this.slotsW + slot * this.strideW;
    const sf = this.slotsF + slot * this.strideF;
    this.lockSlot(sw);
    let ok = false;
    if (gen < 0 || this.i32[sw + S_GEN] === gen) {
      const f = this.dirF + d * 4;
      const cost = this.f64[f + 2]!;
      let level = (tokens - this.i32[sw + S_PENDING]!) * cost;
      if (level > this.f64[f + 3]!) level = this.f64[f + 3]!;
      this.f64[sf + F_LEVEL] = level;
      this.f64[sf + F_LAST] = now;
      ok = true;
    }
    this.unlockSlot(sw);
    return ok;
  }

  /** Cluster-sync ownership (one syncer per buffer). */
  tryOwnSync(token: number): boolean {
    return Atomics.compareExchange(this.i32, H_SYNC_OWNER, 0, token) === 0;
  }

  releaseSync(token: number): void {
    Atomics.compareExchange(this.i32, H_SYNC_OWNER, token, 0);
  }

  /** Occupied hash slots (scans the table: tests and diagnostics only). */
  countKeys(): number {
    let n = 0;
    for (let s = 0; s < this.capacity; s++) if (this.i32[this.slotsW + s * this.strideW + S_HASH] !== 0) n++;
    return n;
  }
}

/** Creates a store (or attaches to another thread's `store.buffer`). */
export function createRateLimitStore(opts: RateLimitStoreOptions = {}): RateLimitStore {
  return new RateLimitStore(opts);
}
