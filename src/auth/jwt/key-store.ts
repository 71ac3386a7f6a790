// The key set of one JWT authenticator: static keys (inline, file, secret)
// plus, with jwks_uri, a JWK Set fetched at start, refreshed periodically and
// refetched on an unknown kid — at most once per `minRefetchMs`, so a flood
// of random kids costs the IdP one request per interval. A failed fetch keeps
// the last good set. The token's own jku/x5u/jwk headers are never consulted:
// this store is the only source of keys.
import { log } from '../../observe/log.js';
import { fetchJwks } from './jwks-fetch.js';
import { importJwks, type KeyEntry } from './keys.js';
import type { RequestTrace } from '../../contracts.js';

export interface KeyStoreOptions {
  readonly name: string;
  readonly allowed: readonly string[];
  readonly staticKeys: readonly KeyEntry[];
  readonly jwksUri?: string;
  readonly refreshMs: number;
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly minRefetchMs: number;
  readonly now: () => number;
  /** Called after the key set changed; `removed` when a key that was there is gone. */
  readonly onChange?: (removed: boolean) => void;
}

export class KeyStoreStats {
  fetches = 0;
  fetchFailures = 0;
  unknownKidRefetches = 0;
  /** Unknown-kid refetches refused because one happened less than minRefetchMs ago. */
  refetchesThrottled = 0;
  /** Epoch ms of the last successful fetch (0 = none yet): the key set's age. */
  lastSuccessAt = 0;
}

const FAILURE_RETRY_MS = 15_000;
/** Requests that may wait on one refetch; beyond this they are refused at once (a slow IdP under a kid flood must not pile up memory). */
const MAX_WAITERS = 1024;
const EMPTY: readonly KeyEntry[] = Object.freeze([]);

export class KeyStore {
  readonly stats = new KeyStoreStats();
  /** kid → keys with that kid followed by the kid-less keys. */
  private byKid = new Map<string, readonly KeyEntry[]>();
  /** Keys without a kid: tried for any token. */
  private anonymous: readonly KeyEntry[] = EMPTY;
  /** Every key: tried for a token without a kid. */
  private all: readonly KeyEntry[] = EMPTY;
  private fetched: readonly KeyEntry[] = EMPTY;
  private fetchedAt = 0;
  private inflight: Promise<void> | null = null;
  private waiters = 0;
  private lastAttempt = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  private readonly stop = new AbortController();
  private readonly initial: Promise<void>;

  constructor(private readonly o: KeyStoreOptions) {
    this.rebuild();
    this.initial = o.jwksUri ? this.refresh('start') : Promise.resolve();
  }

  /** True when a key with this kid is configured. */
  known(kid: string): boolean {
    return this.byKid.has(kid);
  }

  /** Keys to try for a token: those with its kid plus the kid-less ones; every key when it has no kid. */
  candidates(kid: string | undefined): readonly KeyEntry[] {
    if (kid === undefined) return this.all;
    return this.byKid.get(kid) ?? this.anonymous;
  }

  get size(): number {
    return this.all.length;
  }

  /** Whether an unknown kid may trigger a fetch at all (jwks_uri configured). */
  get remote(): boolean {
    return this.o.jwksUri !== undefined;
  }

  /**
   * Refetch for an unknown kid: the running fetch when there is one, a new
   * one when the last started at least minRefetchMs ago, else null (throttled).
   */
  refetch(trace: RequestTrace | null = null): Promise<void> | null {
    if (!this.o.jwksUri) return null;
    if (this.inflight) {
      if (this.waiters >= MAX_WAITERS) {
        this.stats.refetchesThrottled++;
        return null;
      }
      this.waiters++;
      return this.inflight;
    }
    if (this.o.now() - this.lastAttempt < this.o.minRefetchMs) {
      this.stats.refetchesThrottled++;
      return null;
    }
    this.stats.unknownKidRefetches++;
    // tracing: a fetch a sampled request started (and waits for) is its child span; the IdP is sent its traceparent.
    const span = trace !== null ? trace.call('jwks fetch', this.o.jwksUri) : null;
    const failuresBefore = this.stats.fetchFailures;
    const p = this.refresh('unknown kid', span !== null ? span.traceparent : '');
    this.waiters = 1;
    if (span !== null) void p.then(() => span.end(0, this.stats.fetchFailures !== failuresBefore));
    return p;
  }

  /** Resolves once the first fetch has succeeded or failed (never rejects). */
  ready(): Promise<void> {
    return this.initial;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.stop.abort();
  }

  private refresh(why: 'start' | 'interval' | 'unknown kid', traceparent = ''): Promise<void> {
    if (this.inflight) return this.inflight;
    this.lastAttempt = this.o.now();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.inflight = this.fetchOnce(why, traceparent).finally(() => {
      this.inflight = null;
      this.waiters = 0;
    });
    return this.inflight;
  }

  private async fetchOnce(why: string, traceparent: string): Promise<void> {
    const { name, jwksUri } = this.o;
    this.stats.fetches++;
    let next = this.o.refreshMs;
    try {
      const doc = await fetchJwks(jwksUri!, this.o.timeoutMs, this.o.maxBytes, this.stop.signal, traceparent);
      const r = importJwks(doc, this.o.allowed);
      if (typeof r === 'string') throw new Error(r);
      for (const s of r.skipped) log.warn('jwks key skipped', { authenticator: name, jwks_uri: jwksUri, problem: s });
      if (r.entries.length === 0) throw new Error(`the JWK Set has no key usable with [${this.o.allowed.join(', ')}]`);
      this.install(r.entries, why);
    } catch (e) {
      if (this.stop.signal.aborted) return;
      this.stats.fetchFailures++;
      next = Math.min(this.o.refreshMs, FAILURE_RETRY_MS);
      const fields = { authenticator: name, jwks_uri: jwksUri, trigger: why, error: (e as Error).message, retry_in_ms: next };
      if (this.fetched.length === 0) {
        log.error(`jwks fetch failed; no keys from the IdP yet, so tokens${this.o.staticKeys.length ? ' not signed by a static key' : ''} are rejected (unknown_kid) until it answers`, fields);
      } else {
        log.warn('jwks fetch failed; keeping the last good key set', {
          ...fields, keys: this.fetched.length, fetched_at: new Date(this.fetchedAt).toISOString(),
        });
      }
    }
    if (!this.stop.signal.aborted) {
      this.timer = setTimeout(() => void this.refresh('interval'), next);
      this.timer.unref();
    }
  }

  private install(entries: readonly KeyEntry[], why: string): void {
    const before = new Set(this.fetched.map((e) => e.fingerprint));
    const after = new Set(entries.map((e) => e.fingerprint));
    const removed = [...before].some((f) => !after.has(f));
    const changed = removed || before.size !== after.size;
    this.fetched = entries;
    this.fetchedAt = Date.now();
    this.stats.lastSuccessAt = this.fetchedAt;
    this.rebuild();
    const fields = {
      authenticator: this.o.name, jwks_uri: this.o.jwksUri, trigger: why, keys: entries.length,
      kids: entries.map((e) => e.kid ?? '(none)'),
    };
    if (changed) log.info('jwks loaded', fields);
    else log.debug('jwks unchanged', fields);
    if (changed) this.o.onChange?.(removed);
  }

  private rebuild(): void {
    const all = [...this.o.staticKeys, ...this.fetched];
    const anonymous = all.filter((e) => e.kid === undefined);
    const byKid = new Map<string, KeyEntry[]>();
    for (const e of all) {
      if (e.kid === undefined) continue;
      let list = byKid.get(e.kid);
      if (!list) byKid.set(e.kid, (list = []));
      list.push(e);
    }
    for (const list of byKid.values()) list.push(...anonymous);
    this.all = Object.freeze(all);
    this.anonymous = Object.freeze(anonymous);
    this.byKid = byKid;
  }
}
