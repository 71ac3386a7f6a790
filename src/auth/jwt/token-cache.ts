// Verified-token cache (token → Identity) and negative cache (token → reason).
// One TokenCache per authenticator instance, so an entry can only ever be
// served by the authenticator (issuer, audience, keys) that verified it —
// never by another route's authenticator (Oathkeeper CVE-2021-32701).
//
// A hit is: a short hash of the token's tail, a Map lookup by that number, a
// full string comparison with the stored token, one time comparison. No
// crypto, no JSON, no allocation in our code. Keying the LRU by the token
// string itself was measured 4–5× slower: V8 hashes all ~250+ characters of a
// fresh header substring on every lookup. A hash collision only costs a miss
// (the stored token must be identical), never a wrong identity.
//
// An entry is never served past the token's exp(+leeway): the hit path
// compares its deadline with the clock (the EXACT_WITHIN_MS check: exact unless the event loop
// stalled for over a second); the LRU TTL, which lru-cache checks with a
// 1 ms-debounced clock, frees the memory.
import { LRUCache } from 'lru-cache';
import { clockTime, EXACT_WITHIN_MS, touchClock } from '../../lib/clock.js';
import { tailHash } from '../../workers/expiring-cache.js'; // over the token's tail: its signature, unique per token
import type { Identity } from '../../contracts.js';

/** Tokens without `exp` (and long-lived ones) are re-verified at least this often. */
const MAX_TTL_MS = 10 * 60_000;
const NEGATIVE_MAX = 10_000;

interface Verified {
  readonly token: string;
  /** The text the token was read from (e.g. the whole Authorization header) and where in it the token starts. */
  readonly src: string;
  readonly at: number;
  readonly identity: Identity;
  /** Served until (epoch ms): exp(+leeway), or at most MAX_TTL_MS after verification. */
  readonly until: number;
}
interface Refused {
  readonly token: string;
  readonly src: string;
  readonly at: number;
  readonly reason: number;
  readonly until: number;
}

// lru-cache's get() defaults its options to a fresh `{}` per call; a shared
// object avoids that allocation on the hit path.
const GET_OPTS = {};
const GET_VERIFIED = GET_OPTS as LRUCache.GetOptions<number, Verified, unknown>;
const GET_REFUSED = GET_OPTS as LRUCache.GetOptions<number, Refused, unknown>;

/**
 * `src` from `start` to its end is exactly the entry's token. The common case
 * (the same header text as when the token was verified) is one string
 * comparison; another spelling of the same token (other whitespace after the
 * scheme, another source) compares a substring.
 */
function sameToken(src: string, start: number, e: Verified | Refused): boolean {
  if (start === e.at && src === e.src) return true;
  return src.length - start === e.token.length && (start === 0 ? src : src.slice(start)) === e.token;
}

export class TokenCacheStats {
  hits = 0;
  misses = 0;
  negativeHits = 0;
}

export class TokenCache {
  readonly stats = new TokenCacheStats();
  private readonly pos: LRUCache<number, Verified> | null;
  private readonly neg: LRUCache<number, Refused> | null;

  /**
   * The clock is the real one (not a test's): deadlines are checked with
   * the EXACT_WITHIN_MS check (src/lib/clock.ts: the ticking clock far from the
   * deadline, Date.now() in its last second; Date.now() allocates a heap
   * number per call). Any other function, even a wrapper of Date.now, is called as is.
   */
  private readonly realClock: boolean;

  constructor(maxEntries: number, private readonly now: () => number) {
    this.realClock = now === Date.now;
    // lru-cache measures TTLs with our clock, so tests can move time.
    const perf = { now };
    this.pos = maxEntries > 0 ? new LRUCache<number, Verified>({ max: maxEntries, ttl: MAX_TTL_MS, perf }) : null;
    this.neg = maxEntries > 0 ? new LRUCache<number, Refused>({ max: Math.min(maxEntries, NEGATIVE_MAX), ttl: 30_000, perf }) : null;
  }

  /**
   * The cached identity, or undefined (miss or expired). The token is `src`
   * from `start` to its end (e.g. an Authorization header after "Bearer "), so
   * a hit needs no substring.
   */
  hit(src: string, start = 0): Identity | undefined {
    const pos = this.pos;
    if (pos === null) return undefined;
    const h = tailHash(src, start);
    const e = pos.get(h, GET_VERIFIED);
    if (e === undefined || !sameToken(src, start, e)) return undefined;
    if (this.realClock) touchClock();
    if (this.realClock ? clockTime[0]! + EXACT_WITHIN_MS < e.until || Date.now() < e.until : this.now() < e.until) {
      this.stats.hits++;
      return e.identity;
    }
    pos.delete(h);
    return undefined;
  }

  /** The reason a recent identical token was refused, or 0 (token as in hit()). */
  rejected(src: string, start = 0): number {
    const neg = this.neg;
    if (neg === null) return 0;
    const e = neg.get(tailHash(src, start), GET_REFUSED);
    if (e !== undefined && sameToken(src, start, e)) {
      // The ticking clock is never ahead: staleness only keeps a refusal a little longer.
      if (this.realClock) touchClock();
      if ((this.realClock ? clockTime[0]! : this.now()) < e.until) {
        this.stats.negativeHits++;
        return e.reason;
      }
    }
    this.stats.misses++;
    return 0;
  }

  /** `token` is `src` from `at` to its end (src = token, at = 0 when it was read on its own). */
  remember(token: string, identity: Identity, src = token, at = 0): void {
    if (this.pos === null) return;
    const now = this.now();
    const until = Math.min(identity.expiresAt, now + MAX_TTL_MS);
    if (until <= now) return;
    this.pos.set(tailHash(token), { token, src, at, identity, until }, { ttl: Math.max(1, Math.ceil(until - now)) });
  }

  rememberFailure(token: string, reason: number, ttlMs: number, src = token, at = 0): void {
    if (this.neg === null || ttlMs <= 0) return;
    this.neg.set(tailHash(token), { token, src, at, reason, until: this.now() + ttlMs }, { ttl: ttlMs });
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
