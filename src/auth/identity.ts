// An Identity is built once, when a credential is first accepted, and then
// served from caches as-is: everything the hot path needs (scopes, upstream
// headers) is computed here, never per request.
import type { Identity } from '../contracts.js';
import { claimValue } from '../lib/claims.js';

/** Re-exported for the authenticators (the reading rule lives in lib/claims.ts). */
export { claimValue };

const EMPTY_SCOPES: ReadonlySet<string> = Object.freeze(new Set<string>());
const EMPTY_HEADERS: readonly string[] = Object.freeze([]);

/**
 * Builds the immutable identity an authenticator hands to the pipeline.
 * `forwardClaims` maps claim name (dotted path allowed: `realm_access.roles`)
 * to upstream header name. Absent claims are left out; a value no header can
 * carry (CR, LF, NUL, controls) makes the proxied request refused, not the claim dropped.
 */
export function makeIdentity(
  authenticator: string,
  consumer: string,
  claims: Record<string, unknown>,
  forwardClaims: Readonly<Record<string, string>>,
  expiresAt: number,
): Identity {
  return Object.freeze({
    authenticator,
    consumer,
    claims: Object.freeze(claims),
    scopes: scopesOf(claims),
    forwardHeaders: forwardHeadersOf(claims, forwardClaims),
    expiresAt,
  });
}

/** `scope` (space-separated string) and `scp` (array, or space-separated string as some IdPs send it). */
export function scopesOf(claims: Record<string, unknown>): ReadonlySet<string> {
  const scope = claims['scope'];
  const scp = claims['scp'];
  if (scope === undefined && scp === undefined) return EMPTY_SCOPES;
  const out = new Set<string>();
  addScopes(out, scope);
  addScopes(out, scp);
  return out.size === 0 ? EMPTY_SCOPES : out;
}

function addScopes(out: Set<string>, v: unknown): void {
  if (typeof v === 'string') {
    for (const s of v.split(' ')) if (s) out.add(s);
  } else if (Array.isArray(v)) {
    for (const s of v) if (typeof s === 'string' && s) out.add(s);
  }
}

function forwardHeadersOf(claims: Record<string, unknown>, forwardClaims: Readonly<Record<string, string>>): readonly string[] {
  const out: string[] = [];
  for (const claim in forwardClaims) {
    const header = forwardClaims[claim]!;
    const value = headerValue(claimValue(claims, claim));
    if (value !== undefined) out.push(header.toLowerCase(), value);
  }
  return out.length === 0 ? EMPTY_HEADERS : Object.freeze(out);
}

/** The header text for a claim value: strings as-is, arrays joined with ',', objects as JSON. */
function headerValue(v: unknown): string | undefined {
  let s: string;
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number' || typeof v === 'boolean') s = String(v);
  else if (Array.isArray(v)) s = v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(',');
  else s = JSON.stringify(v);
  // Text as it is: the upstream head writer (src/proxy/upstream-head.ts)
  // sends it as UTF-8 bytes, or refuses the request when it holds CR, LF, NUL
  // or other controls — a claim is never silently left out.
  return s;
}

/** RFC 9110 field-value: visible characters, space, tab and obs-text; never CR, LF, NUL or other controls. */
export function safeHeaderValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}
