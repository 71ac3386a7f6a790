// Bounded cache of slow-path answers, each with its own expiry: a hit is a
// synchronous Map lookup plus one clock compare, so the request that follows
// a slow one is a hot-path request again.
import { LRUCache } from 'lru-cache';

interface Entry<V> {
  readonly value: V;
  /** Epoch ms after which the entry is dead. */
  readonly until: number;
}

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
    const e = this.lru.get(key);
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
