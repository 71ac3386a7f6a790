// API keys from one header or query parameter. The presented key is hashed
// (SHA-256, ~1 µs) and looked up by hash; the match is confirmed with a
// constant-time compare. Identities are built once per key, at compile time,
// so acceptance allocates nothing in our code beyond the digest.
import * as crypto from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, type Authenticator, type Identity, type RequestView } from '../../contracts.js';
import { R } from '../../reasons.js';
import { quoted } from '../challenge.js';
import { makeIdentity } from '../identity.js';
import type { ApiKeyEntry } from './keys-file.js';

/** One-shot crypto.hash (Node ≥ 20.12) avoids a Hash object per request; older Node gets createHash. */
const sha256: (s: string) => Buffer = typeof crypto.hash === 'function'
  ? (s) => crypto.hash('sha256', s, 'buffer')
  : (s) => createHash('sha256').update(s).digest();

/** Keys longer than this are refused unhashed. */
const MAX_KEY = 1024;

interface Known {
  readonly hash: Buffer;
  readonly identity: Identity;
}

export class ApiKeyStats {
  accepted = 0;
  refused = 0;
}

export class ApiKeyAuthenticator implements Authenticator {
  readonly challenge: string;
  readonly stats = new ApiKeyStats();
  private readonly byHash = new Map<string, Known>();
  /** For the chain: a query parameter key is a singleton there. */
  readonly queryCredential: string;

  constructor(
    readonly name: string,
    private readonly source: { readonly header: string } | { readonly query: string },
    entries: readonly ApiKeyEntry[],
  ) {
    const where = 'header' in source ? `header=${quoted(source.header)}` : `query=${quoted(source.query)}`;
    this.queryCredential = 'query' in source ? source.query : '';
    this.challenge = `ApiKey realm=${quoted(name)}, ${where}`;
    for (const e of entries) {
      this.byHash.set(e.hash.toString('hex'), { hash: e.hash, identity: makeIdentity(name, e.consumer, e.metadata, {}, Infinity) });
    }
  }

  private key(view: RequestView): string | undefined {
    const s = this.source;
    const k = 'header' in s ? view.header(s.header) : view.queryParam(s.query);
    return k === '' ? undefined : k;
  }

  /** True when the request carries a key where this authenticator looks (for the chain). */
  hasCredential(view: RequestView): boolean {
    return this.key(view) !== undefined;
  }

  authenticate(view: RequestView): number {
    const key = this.key(view);
    if (key === undefined) return AUTH_ABSENT;
    if (key.length <= MAX_KEY) {
      const digest = sha256(key);
      const known = this.byHash.get(digest.toString('hex'));
      if (known !== undefined && timingSafeEqual(known.hash, digest)) {
        this.stats.accepted++;
        view.identity = known.identity;
        return AUTH_OK;
      }
    }
    this.stats.refused++;
    view.reason = R.unknown_key;
    return AUTH_REJECT;
  }

  challengeFor(_reason: number): string {
    return this.challenge;
  }
}
