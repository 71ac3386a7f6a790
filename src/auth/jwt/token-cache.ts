// Verified-token cache (token → Identity) and negative cache (token → reason).
// One TokenCache per authenticator instance, so an entry can only ever be
// served by the authenticator (issuer, audience, keys) that verified it —
// never by another route's authenticator (Oathkeeper CVE-2021-32701).
// A hit is a Map lookup plus one time comparison: no crypto, no JSON, no
// allocation in our code. An entry is never served past the token's
// exp(+leeway): the LRU TTL drops it, and the hit path compares expiresAt.
import { LRUCache } from 'lru-cache';
import type { Identity } from '../../contracts.js';

/** Tokens without `exp` are re-verified at least this often. */
const NO_EXP_TTL_MS = 10 * 60_000;
const NEGATIVE_MAX = 10_000;

// lru-cache's get() defaults its options to a fresh `{}` per call; a shared
// object avoids that allocation on the hit path.
const GET_OPTS: LRUCache.GetOptions<string, never, unknown> = {};
const GET_ID = GET_OPTS as unknown as LRUCache.GetOptions<string, Identity, unknown>;
const GET_REASON = GET_OPTS as unknown as LRUCache.GetOptions<string, number, unknown>;

export class TokenCacheStats {
  hits = 0;
  misses = 0;
  negativeHits = 0;
}

export class TokenCache {
  readonly stats = new TokenCacheStats();
  private readonly pos: LRUCache<string, Identity> | null;
  private readonly neg: LRUCache<string, number> | null;

  constructor(maxEntries: number, private readonly now: () => number) {
    // lru-cache measures TTLs with our clock, so tests can move time.
    const perf = { now };
    this.pos = maxEntries > 0 ? new LRUCache<string, Identity>({ max: maxEntries, ttl: NO_EXP_TTL_MS, ttlResolution: 0, perf }) : null;
    this.neg = maxEntries > 0
      ? new LRUCache<string, number>({ max: Math.min(maxEntries, NEGATIVE_MAX), ttl: 30_000, ttlResolution: 0, perf })
      : null;
  }

  /** The cached identity, or undefined (miss or expired). */
  hit(token: string): Identity | undefined {
    const pos = this.pos;
    if (pos === null) return undefined;
    const id = pos.get(token, GET_ID);
    if (id === undefined) return undefined;
    if (this.now() < id.expiresAt) {
      this.stats.hits++;
      return id;
    }
    pos.delete(token);
    return undefined;
  }

  /** The reason a recent identical token was refused, or 0. */
  rejected(token: string): number {
    const neg = this.neg;
    if (neg === null) return 0;
    const r = neg.get(token, GET_REASON);
    if (r === undefined) {
      this.stats.misses++;
      return 0;
    }
    this.stats.negativeHits++;
    return r;
  }

  remember(token: string, id: Identity): void {
    if (this.pos === null) return;
    const left = id.expiresAt - this.now();
    if (left <= 0) return;
    this.pos.set(token, id, { ttl: Math.max(1, Math.min(Math.ceil(left), NO_EXP_TTL_MS)) });
  }

  rememberFailure(token: string, reason: number, ttlMs: number): void {
    if (this.neg === null || ttlMs <= 0) return;
    this.neg.set(token, reason, { ttl: ttlMs });
  }

  /** Keys changed: verdicts made with the old set may be wrong now. */
  clear(positive: boolean): void {
    this.neg?.clear();
    if (positive) this.pos?.clear();
  }

  get size(): number {
    return this.pos?.size ?? 0;
  }
}
