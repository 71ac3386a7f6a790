// Bounded cache of a called service's answers, looked up by the hash of
// (tag, key parts) from request-key.ts with a part-by-part comparison on a
// hit: no string is built or hashed by V8 per request, and a collision only
// costs a miss. `tag` is a small integer the entry must match as well (the
// route index for an authorizer's decisions; 0 where nothing else keys).
import { LRUCache } from 'lru-cache';
import { clockTime, EXACT_WITHIN_MS, touchClock } from '../lib/clock.js';

interface Entry<V> {
  readonly tag: number;
  readonly parts: readonly string[];
  readonly value: V;
  /** Epoch ms after which the answer is dead. */
  readonly until: number;
}

// lru-cache's get() defaults its options to a fresh `{}` per call; one shared object avoids that on a hit.
const GET_OPTS = {};

export class PartsCache<V> {
  private readonly lru: LRUCache<number, Entry<V>>;

  constructor(maxEntries: number) {
    this.lru = new LRUCache<number, Entry<V>>({ max: Math.max(1, maxEntries) });
  }

  get size(): number {
    return this.lru.size;
  }

  /** The live answer (expiry by the EXACT_WITHIN_MS check, src/lib/clock.ts: no heap number per call, unlike Date.now(), except in an entry's last second). */
  get(hash: number, tag: number, parts: readonly string[]): V | undefined {
    const e = this.lru.get(hash, GET_OPTS as LRUCache.GetOptions<number, Entry<V>, unknown>);
    if (e === undefined || e.tag !== tag) return undefined;
    const p = e.parts;
    for (let i = 0; i < p.length; i++) if (p[i] !== parts[i]) return undefined;
    touchClock(); // deadline check: see EXACT_WITHIN_MS (src/lib/clock.ts)
    if (clockTime[0]! + EXACT_WITHIN_MS < e.until || Date.now() < e.until) return e.value;
    this.lru.delete(hash);
    return undefined;
  }

  /** Remembers `value` for these parts (copied) until `until`, epoch ms. */
  set(hash: number, tag: number, parts: readonly string[], value: V, until: number): void {
    if (!(until > Date.now())) return;
    this.lru.set(hash, { tag, parts: parts.slice(), value, until });
  }

  clear(): void {
    this.lru.clear();
  }
}
