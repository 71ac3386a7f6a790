// Bounded cache of external-authorization decisions, looked up by the hash
// of (route, key parts) with a part-by-part comparison on a hit: no string is
// built or hashed by V8 per request, and a collision only costs a miss.
import { LRUCache } from 'lru-cache';
import type { AuthzDecision } from '../../contracts.js';
import { clockTime, EXACT_WITHIN_MS, touchClock } from '../../ratelimit/clock.js';

interface Entry {
  readonly route: number;
  readonly parts: readonly string[];
  readonly decision: AuthzDecision;
  /** Epoch ms after which the decision is dead. */
  readonly until: number;
}

const GET_OPTS = {} as LRUCache.GetOptions<number, Entry, unknown>;

export class DecisionCache {
  private readonly lru: LRUCache<number, Entry>;

  constructor(maxEntries: number) {
    this.lru = new LRUCache<number, Entry>({ max: Math.max(1, maxEntries) });
  }

  get size(): number {
    return this.lru.size;
  }

  /** The live decision (expiry by the EXACT_WITHIN_MS check, src/ratelimit/clock.ts: no heap number per call, unlike Date.now(), except in an entry's last second). */
  get(hash: number, route: number, parts: readonly string[]): AuthzDecision | undefined {
    const e = this.lru.get(hash, GET_OPTS);
    if (e === undefined || e.route !== route) return undefined;
    const p = e.parts;
    for (let i = 0; i < p.length; i++) if (p[i] !== parts[i]) return undefined;
    touchClock(); // deadline check: see EXACT_WITHIN_MS (src/ratelimit/clock.ts)
    if (clockTime[0]! + EXACT_WITHIN_MS < e.until || Date.now() < e.until) return e.decision;
    this.lru.delete(hash);
    return undefined;
  }

  set(hash: number, route: number, parts: readonly string[], decision: AuthzDecision, until: number): void {
    if (!(until > Date.now())) return;
    this.lru.set(hash, { route, parts: parts.slice(), decision, until });
  }

  clear(): void {
    this.lru.clear();
  }
}
