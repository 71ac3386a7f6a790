// Headers a called service (external authn/authz) may add to the upstream
// request: valid names and values only, never framing, hop-by-hop or the
// gateway's own identity headers.
import { safeHeaderValue } from '../auth/identity.js';

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const FORBIDDEN = /^(host|content-length|transfer-encoding|connection|keep-alive|upgrade|te|trailer|proxy-.*|x-portcullis-.*|x-forwarded-.*)$/;

/**
 * `{name: value}` from a service's JSON answer → flat [name, value…] (lower-case
 * names), forbidden names skipped. null when the object is malformed (a
 * non-string value, an invalid name, a value with CR/LF/NUL): garbage.
 */
export function serviceHeaders(v: unknown): string[] | null {
  if (v === undefined) return [];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const out: string[] = [];
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    const name = k.toLowerCase();
    if (typeof val !== 'string' || !TOKEN_RE.test(name) || !safeHeaderValue(val)) return null;
    if (FORBIDDEN.test(name)) continue;
    // Text as it is: the upstream head writer sends it as UTF-8 bytes.
    out.push(name, val);
  }
  return out;
}

/** Headers never copied from the client request to a called service. */
export const NOT_SENT: ReadonlySet<string> = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect']);
