// HTTP syntax every stage agrees on (RFC 9110), written once.

/** RFC 9110 tchar, as a lookup table over ASCII. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;

/** 1*tchar: a method or a field name. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** The methods of RFC 9110 §9 and RFC 5789 (PATCH). */
const STANDARD_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/**
 * A request method the gateway accepts: a token, and not a case variant of a
 * standard method. Methods are case-sensitive (RFC 9110 §9.1), but many
 * servers upper-case them, so `delete` would pass a route scoped to `DELETE`
 * and act as one upstream. Extension methods (PROPFIND, …) pass as written.
 */
export function acceptableMethod(m: string): boolean {
  if (STANDARD_METHODS.has(m)) return true;
  if (!isToken(m)) return false;
  return !STANDARD_METHODS.has(m.toUpperCase());
}

/** Methods whose repetition is harmless (RFC 9110 §9.2.2): the only ones ever sent twice. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
