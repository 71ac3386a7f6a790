// HTTP Basic (RFC 7617) against a users file. The first check of a credential
// runs bcrypt/scrypt asynchronously (a Promise); a success is cached under a
// keyed hash of the credential, so the next request is a synchronous lookup.
// Unknown users are checked against a dummy hash of the same cost.
import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, type AuthResult, type Authenticator, type Identity, type RequestView } from '../../contracts.js';
import { R } from '../../reasons.js';
import { quoted } from '../challenge.js';
import { schemeExtractor } from '../extract.js';
import { makeIdentity } from '../identity.js';
import { verifyPassword, type PasswordHash } from './hash.js';

/**
 * Cache keys are HMACs under a random per-process key: a heap dump shows
 * neither passwords nor hashes that could be attacked offline.
 */
const PROCESS_KEY = randomBytes(32);
/** Longest credential looked at (base64 of user:password). */
const MAX_CREDENTIAL = 4096;
/** Password checks running at once; beyond this a request is refused (503) rather than queued. */
const MAX_PENDING = 256;
const NEGATIVE_TTL_MS = 30_000;

const B64 = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=') B64[c.charCodeAt(0)] = 1;

const GET_OPTS = {} as LRUCache.GetOptions<string, never, unknown>;
const GET_ID = GET_OPTS as unknown as LRUCache.GetOptions<string, Identity, unknown>;
const GET_BAD = GET_OPTS as unknown as LRUCache.GetOptions<string, number, unknown>;
const REJECTED: AuthResult = Object.freeze({ outcome: AUTH_REJECT, identity: null, reason: R.bad_credentials });

export interface BasicParts {
  readonly name: string;
  readonly realm: string;
  readonly users: ReadonlyMap<string, PasswordHash>;
  readonly dummy: PasswordHash;
  readonly maxEntries: number;
  readonly ttlMs: number;
  readonly now: () => number;
}

export class BasicStats {
  hits = 0;
  checks = 0;
  failures = 0;
  overloaded = 0;
}

export class BasicAuthenticator implements Authenticator {
  readonly name: string;
  readonly challenge: string;
  readonly stats = new BasicStats();
  private readonly extractor = schemeExtractor('authorization', 'Basic');
  private readonly ok: LRUCache<string, Identity> | null;
  private readonly bad: LRUCache<string, number> | null;
  /** Checks in flight by cache key: identical requests share one bcrypt/scrypt run. */
  private readonly pending = new Map<string, Promise<AuthResult>>();

  constructor(private readonly p: BasicParts) {
    this.name = p.name;
    this.challenge = `Basic realm=${quoted(p.realm)}, charset="UTF-8"`;
    const perf = { now: p.now };
    this.ok = p.maxEntries > 0 && p.ttlMs > 0 ? new LRUCache({ max: p.maxEntries, ttl: p.ttlMs, ttlResolution: 0, perf }) : null;
    this.bad = p.maxEntries > 0 ? new LRUCache({ max: Math.min(p.maxEntries, 10_000), ttl: NEGATIVE_TTL_MS, ttlResolution: 0, perf }) : null;
  }

  /** True when the request carries `Authorization: Basic …` (for the chain). */
  hasCredential(view: RequestView): boolean {
    return this.extractor.extract(view) !== undefined;
  }

  authenticate(view: RequestView): number | Promise<AuthResult> {
    const cred = this.extractor.extract(view);
    if (cred === undefined) return AUTH_ABSENT;
    if (cred.length === 0 || cred.length > MAX_CREDENTIAL || !isBase64(cred)) return reject(view, R.bad_credentials);
    const key = createHmac('sha256', PROCESS_KEY).update(cred).digest('base64');
    const id = this.ok?.get(key, GET_ID);
    if (id !== undefined) {
      this.stats.hits++;
      view.identity = id;
      return AUTH_OK;
    }
    if (this.bad?.get(key, GET_BAD) !== undefined) return reject(view, R.bad_credentials);
    const running = this.pending.get(key);
    if (running !== undefined) return running;
    const text = Buffer.from(cred, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon <= 0) return reject(view, R.bad_credentials);
    if (this.pending.size >= MAX_PENDING) {
      this.stats.overloaded++;
      return reject(view, R.authn_unavailable);
    }
    const check = this.check(key, text.slice(0, colon), text.slice(colon + 1));
    this.pending.set(key, check);
    return check;
  }

  challengeFor(_reason: number): string {
    return this.challenge;
  }

  close(): void {
    this.ok?.clear();
    this.bad?.clear();
  }

  private async check(key: string, user: string, password: string): Promise<AuthResult> {
    this.stats.checks++;
    const h = this.p.users.get(user);
    let good = false;
    try {
      good = await verifyPassword(password, h ?? this.p.dummy);
    } catch {
      good = false;
    } finally {
      this.pending.delete(key);
    }
    if (!good || h === undefined) {
      this.stats.failures++;
      this.bad?.set(key, R.bad_credentials);
      return REJECTED;
    }
    const identity = makeIdentity(this.name, user, { sub: user }, {}, Infinity);
    this.ok?.set(key, identity);
    return { outcome: AUTH_OK, identity, reason: R.ok };
  }
}

function isBase64(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f || B64[c] === 0) return false;
  }
  return true;
}

function reject(view: RequestView, reason: number): number {
  view.reason = reason;
  return AUTH_REJECT;
}
