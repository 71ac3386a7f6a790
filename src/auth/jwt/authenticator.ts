// The per-request face of a JWT authenticator. Hit path: locate → length →
// verified-token cache → negative cache → shape. Miss path: header → key by
// kid and alg → signature (node:crypto) → payload → claims → cache. Only an
// unknown kid with a refetch allowed returns a Promise.
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, type AuthResult, type Authenticator, type Identity, type RequestTrace, type RequestView } from '../../contracts.js';
import { R, REASONS } from '../../reasons.js';
import type { TokenExtractor } from '../extract.js';
import { makeIdentity } from '../identity.js';
import { checkClaims, consumerOf, type ClaimRules } from './claims.js';
import type { KeyStore } from './key-store.js';
import { decodeJsonObject, JwsShape } from './shape.js';
import type { TokenCache } from './token-cache.js';

/** How long a refused token is remembered (unknown_kid: until the next refetch may run). */
const NEGATIVE_TTL_MS = 30_000;

/** Prebuilt slow-path answers: one frozen object per reason. */
const REJECTED: readonly AuthResult[] = REASONS.map((_, reason) => Object.freeze({ outcome: AUTH_REJECT, identity: null, reason }));

export interface JwtParts {
  readonly name: string;
  readonly extractor: TokenExtractor;
  readonly maxTokenBytes: number;
  readonly allowed: ReadonlySet<string>;
  readonly store: KeyStore;
  readonly cache: TokenCache;
  readonly rules: ClaimRules;
  readonly forwardClaims: Readonly<Record<string, string>>;
  readonly now: () => number;
  readonly minRefetchMs: number;
  readonly challenge: string;
  readonly challenges: readonly string[];
}

export class JwtAuthenticator implements Authenticator {
  readonly name: string;
  readonly challenge: string;
  /** Verifications on the miss path that reached signature checking. */
  verifications = 0;
  private readonly shape = new JwsShape();
  private readonly extractor: TokenExtractor;
  private readonly maxTokenBytes: number;
  private readonly cache: TokenCache;
  private readonly now: () => number;
  /** For the chain: a query parameter token is a singleton there. */
  readonly queryCredential: string;

  constructor(private readonly p: JwtParts) {
    this.queryCredential = p.extractor.queryName;
    this.name = p.name;
    this.challenge = p.challenge;
    this.extractor = p.extractor;
    this.maxTokenBytes = p.maxTokenBytes;
    this.cache = p.cache;
    this.now = p.now;
  }

  authenticate(view: RequestView): number | Promise<AuthResult> {
    // The token is src[at…]: looked up, and garbage refused, without a substring.
    const ex = this.extractor;
    const at = ex.locate(view);
    if (at < 0) return AUTH_ABSENT;
    const src = ex.src;
    if (src.length - at > this.maxTokenBytes) {
      view.reason = R.token_too_large;
      return AUTH_REJECT;
    }
    const id = this.cache.hit(src, at);
    if (id !== undefined) {
      view.identity = id;
      return AUTH_OK;
    }
    const refused = this.cache.rejected(src, at);
    if (refused !== 0) {
      view.reason = refused;
      return AUTH_REJECT;
    }
    if (!this.shape.scan(src, at)) return reject(view, R.token_malformed);
    return this.miss(at === 0 ? src : src.slice(at), view, src, at);
  }

  /** True when the request carries a token where this authenticator looks (for the chain). */
  hasCredential(view: RequestView): boolean {
    return this.extractor.extract(view) !== undefined;
  }

  challengeFor(reason: number): string {
    return this.p.challenges[reason] ?? this.challenge;
  }

  /** Resolves after the first JWKS fetch succeeded or failed (at once without jwks_uri). */
  ready(): Promise<void> {
    return this.p.store.ready();
  }

  close(): void {
    this.p.store.close();
  }

  get stats(): { cache: TokenCache['stats']; keys: KeyStore['stats']; verifications: number; cached: number; keyCount: number } {
    return { cache: this.cache.stats, keys: this.p.store.stats, verifications: this.verifications, cached: this.cache.size, keyCount: this.p.store.size };
  }

  /** `token` passed the shape scan (this.shape holds its dots). */
  private miss(token: string, view: RequestView, src: string, at: number): number | Promise<AuthResult> {
    const d1 = this.shape.d1;
    const d2 = this.shape.d2;
    const header = decodeJsonObject(token, 0, d1);
    if (header === null) return reject(view, R.token_malformed);
    const alg = header['alg'];
    // Exact, case-sensitive membership: "none", "None", "NONE"… are never listed.
    if (typeof alg !== 'string' || !this.p.allowed.has(alg)) return reject(view, R.alg_not_allowed);
    // We implement no JWS extensions, so a token that demands one is refused (RFC 7515 §4.1.11).
    if (header['crit'] !== undefined) return reject(view, R.token_malformed);
    const kid = header['kid'];
    if (kid !== undefined && typeof kid !== 'string') return reject(view, R.token_malformed);
    // jku, x5u, jwk and x5c are deliberately not read: keys come only from the store.
    const store = this.p.store;
    if (kid !== undefined && store.remote && !store.known(kid)) {
      const wait = store.refetch(view.trace ?? null);
      if (wait !== null) return wait.then(() => this.settle(this.verify(token, alg, kid, d1, d2, src, at)));
    }
    const r = this.verify(token, alg, kid, d1, d2, src, at);
    if (typeof r === 'number') return reject(view, r);
    view.identity = r;
    return AUTH_OK;
  }

  private settle(r: Identity | number): AuthResult {
    return typeof r === 'number' ? REJECTED[r]! : { outcome: AUTH_OK, identity: r, reason: R.ok };
  }

  /** The identity, or the reason (remembered in the negative cache when it cost a key lookup or crypto). */
  private verify(token: string, alg: string, kid: string | undefined, d1: number, d2: number, src: string, at: number): Identity | number {
    const store = this.p.store;
    const keys = store.candidates(kid);
    if (keys.length === 0) return this.fail(token, R.unknown_kid, this.p.minRefetchMs, src, at);
    const data = Buffer.from(token, 'latin1').subarray(0, d2);
    const sig = Buffer.from(token.slice(d2 + 1), 'base64url');
    let usable = false;
    let ok = false;
    this.verifications++;
    for (let i = 0; i < keys.length && !ok; i++) {
      const v = keys[i]!.verifiers.get(alg);
      if (v === undefined) continue;
      usable = true;
      ok = v.verify(data, sig);
    }
    if (!usable) {
      // A known kid whose key is of another family (RS key, ES256 token): the
      // key/algorithm binding refuses it. An unknown kid: no key at all.
      const known = kid !== undefined && store.known(kid);
      return this.fail(token, known ? R.alg_not_allowed : R.unknown_kid, known ? NEGATIVE_TTL_MS : this.p.minRefetchMs, src, at);
    }
    if (!ok) return this.fail(token, R.bad_signature, NEGATIVE_TTL_MS, src, at);
    const payload = decodeJsonObject(token, d1 + 1, d2);
    if (payload === null) return this.fail(token, R.token_malformed, NEGATIVE_TTL_MS, src, at);
    const nowMs = this.now();
    const rules = this.p.rules;
    const bad = checkClaims(payload, rules, nowMs / 1000);
    // not-yet-valid tokens become valid: never remembered as refused.
    if (bad !== 0) return this.fail(token, bad, bad === R.token_not_yet_valid ? 0 : NEGATIVE_TTL_MS, src, at);
    const consumer = consumerOf(payload, rules);
    if (consumer === undefined) return this.fail(token, R.missing_claim, NEGATIVE_TTL_MS, src, at);
    const exp = payload['exp'];
    const expiresAt = typeof exp === 'number' ? (exp + rules.leewaySec) * 1000 : Infinity;
    const id = makeIdentity(this.name, consumer, payload, this.p.forwardClaims, expiresAt);
    this.cache.remember(token, id, src, at);
    return id;
  }

  private fail(token: string, reason: number, ttlMs: number, src: string, at: number): number {
    this.cache.rememberFailure(token, reason, ttlMs, src, at);
    return reason;
  }
}

function reject(view: RequestView, reason: number): number {
  view.reason = reason;
  return AUTH_REJECT;
}
