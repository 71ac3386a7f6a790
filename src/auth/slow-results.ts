// Frozen AuthResult objects shared by the slow-path authenticators (one per
// reason), and their WWW-Authenticate answers, all built once.
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, type AuthResult, type Identity, type RequestView } from '../contracts.js';
import { R, REASONS } from '../reasons.js';
import { challengeTable } from './challenge.js';

export const REJECTED: readonly AuthResult[] = REASONS.map((_, reason) => Object.freeze({ outcome: AUTH_REJECT, identity: null, reason }));
export const ABSENT: AuthResult = Object.freeze({ outcome: AUTH_ABSENT, identity: null, reason: R.no_credentials });

const DESCRIPTION: Readonly<Record<number, string>> = {
  [R.token_malformed]: 'the token is malformed',
  [R.token_too_large]: 'the token is too large',
  [R.token_inactive]: 'the token is not active (expired, revoked or unknown)',
  [R.token_expired]: 'the token has expired',
  [R.missing_claim]: 'the token has no subject',
  [R.authn_denied]: 'the credentials were refused',
};

/** `challenge` and one WWW-Authenticate value per reason, for a scheme and realm. */
export function challenges(scheme: string, realm: string): { challenge: string; byReason: readonly string[] } {
  return challengeTable(scheme, realm, DESCRIPTION);
}

/** Marker stored in a cache for a refused credential. */
export class Refused {
  constructor(readonly reason: number) {}
}

/** A cached answer of a slow authenticator applied to the view: the identity, or the remembered refusal. */
export function applyCached(view: RequestView, hit: Identity | Refused): number {
  if (hit instanceof Refused) {
    view.reason = hit.reason;
    return AUTH_REJECT;
  }
  view.identity = hit;
  return AUTH_OK;
}
