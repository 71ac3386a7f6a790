// WWW-Authenticate values are fixed per authenticator and reason: built once
// at compile time so a 401 concatenates nothing.
import { R, REASONS } from '../reasons.js';

/** A quoted-string (RFC 9110 §5.6.4): backslash-escapes `"` and `\`. */
export function quoted(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

/** Reasons that are a malformed request rather than a bad token (RFC 6750 §3.1 `invalid_request`, answered 400). */
const INVALID_REQUEST: Readonly<Record<number, string>> = {
  [R.duplicate_credential]: 'the credential parameter was sent more than once; send it once',
};

/**
 * `challenge` (`SCHEME realm="…"`) and one WWW-Authenticate value per reason
 * id: for Bearer, a reason with a description adds RFC 6750 §3
 * `error="invalid_token"` (or `invalid_request` for a malformed request) and
 * that description; anything else gets `challenge`.
 */
export function challengeTable(scheme: string, realm: string, descriptions: Readonly<Record<number, string>>): { challenge: string; byReason: readonly string[] } {
  const challenge = `${scheme} realm=${quoted(realm)}`;
  const byReason = REASONS.map((_, id) => {
    const bad = INVALID_REQUEST[id];
    if (bad !== undefined && scheme === 'Bearer') return `${challenge}, error="invalid_request", error_description=${quoted(bad)}`;
    const d = descriptions[id];
    return d === undefined || scheme !== 'Bearer' ? challenge : `${challenge}, error="invalid_token", error_description=${quoted(d)}`;
  });
  return { challenge, byReason: Object.freeze(byReason) };
}

const headerPairs = new WeakMap<readonly string[], readonly string[]>();
/** WWW-Authenticate values → flat header pairs; cached per (frozen, reused) list so a 401 allocates nothing. */
export function challengeHeaders(values: readonly string[]): readonly string[] {
  let h = headerPairs.get(values);
  if (h === undefined) {
    const out: string[] = [];
    for (const v of values) out.push('www-authenticate', v);
    h = Object.freeze(out);
    headerPairs.set(values, h);
  }
  return h;
}
