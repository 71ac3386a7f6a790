// The signed identity assertion sent upstream (identity_assertion): a short
// JWT saying who the caller is, for this upstream (aud), signed by the
// gateway. Signing is an ECDSA/EdDSA operation, so a token is signed once per
// (identity, upstream) and reused until half its lifetime has passed:
// identities are immutable and cached by their authenticators, so a
// kept-alive client with a cached credential gets a cached assertion (a
// WeakMap hit and an array read).
import { randomUUID, sign } from 'node:crypto';
import type { Identity } from '../../contracts.js';
import { claimValue } from '../../lib/claims.js';
import { clockNow } from '../../lib/clock.js';
import type { SigningKeys } from './keys.js';

const RESERVED = new Set(['iss', 'sub', 'aud', 'iat', 'exp', 'nbf', 'jti', 'authenticator']);

interface Signed {
  token: string;
  /** Epoch ms after which a new one is signed. */
  refreshAt: number;
}

export class AssertionSigner {
  /** Tokens signed (cache misses). */
  signed = 0;
  private readonly cache = new WeakMap<Identity, (Signed | undefined)[]>();
  private readonly head: string;

  constructor(
    readonly header: string,
    private readonly issuer: string,
    private readonly algorithm: 'ES256' | 'EdDSA',
    private readonly keys: SigningKeys,
    private readonly ttlMs: number,
    /** Upstream names by index (aud). */
    private readonly audiences: readonly string[],
    /** Authenticator name → the claim names its forward_claims forwards (put in the assertion too). */
    private readonly forwarded: ReadonlyMap<string, readonly string[]>,
    readonly exposeJwks: boolean,
  ) {
    this.head = b64url(JSON.stringify({ alg: algorithm, kid: keys.kid, typ: 'JWT' }));
  }

  get jwksJson(): string {
    return this.keys.jwksJson;
  }

  /** The assertion for `id` toward upstream `upstream` (index), signed now or reused. */
  token(id: Identity, upstream: number): string {
    const now = clockNow();
    let per = this.cache.get(id);
    if (per === undefined) {
      per = [];
      this.cache.set(id, per);
    }
    const hit = per[upstream];
    if (hit !== undefined && now < hit.refreshAt) return hit.token;
    const s = this.signNew(id, upstream, now);
    per[upstream] = s;
    return s.token;
  }

  private signNew(id: Identity, upstream: number, now: number): Signed {
    this.signed++;
    const iat = Math.floor(now / 1000);
    const exp = Math.floor(Math.min(now + this.ttlMs, id.expiresAt) / 1000);
    const payload: Record<string, unknown> = {
      iss: this.issuer, sub: id.consumer, aud: this.audiences[upstream] ?? '', iat, exp, jti: randomUUID(), authenticator: id.authenticator,
    };
    for (const name of this.forwarded.get(id.authenticator) ?? []) {
      const v = claimValue(id.claims as Record<string, unknown>, name);
      if (v !== undefined && !RESERVED.has(name)) payload[name] = v;
    }
    const input = `${this.head}.${b64url(JSON.stringify(payload))}`;
    const sig = this.algorithm === 'ES256'
      ? sign('sha256', Buffer.from(input), { key: this.keys.key, dsaEncoding: 'ieee-p1363' })
      : sign(null, Buffer.from(input), this.keys.key);
    // Reused until half the lifetime has passed: the upstream always gets at least ttl/2 of validity.
    return { token: `${input}.${sig.toString('base64url')}`, refreshAt: now + Math.max(0, (exp * 1000 - now) / 2) };
  }
}

function b64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}
