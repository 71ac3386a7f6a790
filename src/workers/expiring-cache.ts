// Bounded caches of slow-path answers, each entry with its own expiry: a hit
// is a synchronous Map lookup plus one clock compare, so the request that
// follows a slow one is a hot-path request again.
import { LRUCache } from 'lru-cache';
import { fnv1aString, fnvMix, FNV_OFFSET } from '../lib/hash.js';
import { clockTime, EXACT_WITHIN_MS, touchClock } from '../lib/clock.js';

interface Entry<V> {
  readonly value: V;
  /** Epoch ms after which the entry is dead. */
  readonly until: number;
}

interface KeyedEntry<V> extends Entry<V> {
  readonly key: string;
  /** A text the key was last seen in (e.g. a whole Cookie header) and where: a probe by range compares that first. */
  src: string;
  at: number;
}

// lru-cache's get() defaults its options to a fresh `{}` per call; one shared
// object avoids that allocation on the hit path.
const GET_OPTS = {};

/** Keyed by short strings (digests). */
export class ExpiringCache<V extends object> {
  private readonly lru: LRUCache<string, Entry<V>> | null;

  constructor(maxEntries: number) {
    this.lru = maxEntries > 0 ? new LRUCache<string, Entry<V>>({ max: maxEntries }) : null;
  }

  get enabled(): boolean {
    return this.lru !== null;
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }

  /** The live value for `key`, or undefined (an expired entry is dropped). */
  get(key: string, now: number): V | undefined {
    if (this.lru === null) return undefined;
    const e = this.lru.get(key, GET_OPTS as LRUCache.GetOptions<string, Entry<V>, unknown>);
    if (e === undefined) return undefined;
    if (now < e.until) return e.value;
    this.lru.delete(key);
    return undefined;
  }

  set(key: string, value: V, until: number): void {
    if (this.lru === null || !(until > Date.now())) return;
    this.lru.set(key, { value, until });
  }

  delete(key: string): void {
    this.lru?.delete(key);
  }

  clear(): void {
    this.lru?.clear();
  }
}

/**
 * FNV-1a over the length and the last 32 characters of `s` from `start` to
 * `n` (for a JWE: its GCM tag; for a JWS: its signature — unique per value).
 */
export function tailHash(s: string, start = 0, n = s.length): number {
  const h = fnv1aString(fnvMix(FNV_OFFSET, n - start), s, n - start > 32 ? n - 32 : start, n);
  // 30 bits: a small integer V8 keeps unboxed (no heap number per lookup).
  return h & 0x3fffffff;
}

/**
 * Keyed by long strings (cookie values) through a number: V8 would hash every
 * character of a freshly sliced header string on each lookup. A hit compares
 * the stored key in full, so a hash collision only costs a miss.
 */
export class TailKeyedCache<V extends object> {
  private readonly lru: LRUCache<number, KeyedEntry<V>>;

  constructor(maxEntries: number) {
    this.lru = new LRUCache<number, KeyedEntry<V>>({ max: Math.max(1, maxEntries) });
  }

  get size(): number {
    return this.lru.size;
  }

  get(key: string, now: number): V | undefined {
    const h = tailHash(key);
    const e = this.lru.get(h, GET_OPTS as LRUCache.GetOptions<number, KeyedEntry<V>, unknown>);
    if (e === undefined || e.key !== key) return undefined;
    if (now < e.until) return e.value;
    this.lru.delete(h);
    return undefined;
  }

  /**
   * get() for the key `src.slice(start, end)` without making it: a request
   * that sends the same header text as the last hit costs one string
   * comparison and no allocation.
   */
  getIn(src: string, start: number, end: number): V | undefined {
    const h = tailHash(src, start, end);
    const e = this.lru.get(h, GET_OPTS as LRUCache.GetOptions<number, KeyedEntry<V>, unknown>);
    if (e === undefined || e.key.length !== end - start) return undefined;
    if (e.at !== start || e.src !== src) {
      if (src.slice(start, end) !== e.key) return undefined;
      e.src = src;
      e.at = start;
    }
    touchClock(); // deadline check: see EXACT_WITHIN_MS (src/lib/clock.ts)
    if (clockTime[0]! + EXACT_WITHIN_MS < e.until || Date.now() < e.until) return e.value;
    this.lru.delete(h);
    return undefined;
  }

  set(key: string, value: V, until: number): void {
    if (!(until > Date.now())) return;
    this.lru.set(tailHash(key), { key, value, until, src: key, at: 0 });
  }

  delete(key: string): void {
    const h = tailHash(key);
    if (this.lru.get(h, GET_OPTS as LRUCache.GetOptions<number, KeyedEntry<V>, unknown>)?.key === key) this.lru.delete(h);
  }

  clear(): void {
    this.lru.clear();
  }
}
