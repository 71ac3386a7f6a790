// RFC 6750 §3 answers for a JWT authenticator, one string per reason, built
// at compile time: a 401 picks one by index.
import { R } from '../../reasons.js';
import { challengeTable } from '../challenge.js';

/** Short, safe descriptions: they name the check that failed, never key or token contents. */
const DESCRIPTION: Readonly<Record<number, string>> = {
  [R.token_malformed]: 'the token is not a well-formed signed JWT (JWS compact)',
  [R.token_too_large]: 'the token is too large',
  [R.alg_not_allowed]: 'the token algorithm is not accepted',
  [R.unknown_kid]: 'no known key matches the token',
  [R.bad_signature]: 'the token signature is invalid',
  [R.token_expired]: 'the token has expired',
  [R.token_not_yet_valid]: 'the token is not valid yet',
  [R.bad_issuer]: 'the token issuer is not accepted',
  [R.bad_audience]: 'the token audience is not accepted',
  [R.missing_claim]: 'the token lacks a required claim',
  [R.bad_iat]: 'the token was issued in the future',
};

/** `[challenge, challengeFor[0..REASONS.length)]` for a Bearer realm. */
export function bearerChallenges(realm: string): { challenge: string; byReason: readonly string[] } {
  return challengeTable('Bearer', realm, DESCRIPTION);
}
