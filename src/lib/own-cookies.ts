// The gateway's own cookies (the OIDC session, its chunks, login state) are
// credentials for the gateway alone: an upstream that saw them could replay
// them against the gateway. They are removed from the Cookie header sent
// upstream; every other cookie stays byte for byte.

/** Cookie names the gateway owns: exact names, and prefixes followed by exactly `rest` base64url characters. */
export interface OwnCookieNames {
  readonly exact: readonly string[];
  readonly prefixed: readonly { readonly prefix: string; readonly rest: number }[];
}

export const NO_OWN_COOKIES: OwnCookieNames = Object.freeze({ exact: Object.freeze([]), prefixed: Object.freeze([]) });

export function ownCookieNames(exact: readonly string[], prefixed: readonly { prefix: string; rest: number }[] = []): OwnCookieNames {
  return Object.freeze({ exact: Object.freeze([...exact]), prefixed: Object.freeze(prefixed.map((p) => Object.freeze({ ...p }))) });
}

/** One set for several authenticators (duplicates removed). */
export function mergeOwnCookieNames(all: readonly OwnCookieNames[]): OwnCookieNames {
  const exact = new Set<string>();
  const prefixed = new Map<string, { prefix: string; rest: number }>();
  for (const n of all) {
    for (const e of n.exact) exact.add(e);
    for (const p of n.prefixed) prefixed.set(`${p.prefix}\n${p.rest}`, p);
  }
  return ownCookieNames([...exact], [...prefixed.values()]);
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}

function isB64url(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95;
}

/** Whether header[a, b) — a cookie name, whitespace already trimmed — is one of `names`. No substring is made. */
function owned(header: string, a: number, b: number, names: OwnCookieNames): boolean {
  const len = b - a;
  const ex = names.exact;
  for (let i = 0; i < ex.length; i++) {
    const n = ex[i]!;
    if (n.length === len && header.startsWith(n, a)) return true;
  }
  const px = names.prefixed;
  for (let i = 0; i < px.length; i++) {
    const p = px[i]!;
    if (p.prefix.length + p.rest !== len || !header.startsWith(p.prefix, a)) continue;
    let ok = true;
    for (let j = a + p.prefix.length; j < b && ok; j++) ok = isB64url(header.charCodeAt(j));
    if (ok) return true;
  }
  return false;
}

/**
 * The Cookie header without the cookies in `names` (every occurrence). The
 * same string when none is there (no allocation: the common case); '' when
 * nothing is left (drop the header then). A cookie's name is what precedes
 * its first '=', spaces and tabs around it ignored (as browsers and most
 * servers read it), so ` name =x` is removed too; a piece without '=' has no
 * name and stays. Kept pieces are copied as they were, joined by the ';' that
 * followed them; empty pieces left by a removal are dropped.
 */
export function cookieWithout(header: string, names: OwnCookieNames): string {
  const n = header.length;
  let first = -1;
  for (let i = 0; i <= n;) {
    let end = header.indexOf(';', i);
    if (end < 0) end = n;
    if (pieceOwned(header, i, end, names)) { first = i; break; }
    i = end + 1;
  }
  if (first < 0) return header;
  let out = '';
  for (let i = 0; i <= n;) {
    let end = header.indexOf(';', i);
    if (end < 0) end = n;
    if (i >= first && pieceOwned(header, i, end, names)) { i = end + 1; continue; }
    let a = i;
    while (a < end && isSpace(header.charCodeAt(a))) a++;
    if (a < end) out = out === '' ? header.slice(a, end) : `${out};${header.slice(i, end)}`;
    i = end + 1;
  }
  return out;
}

function pieceOwned(header: string, start: number, end: number, names: OwnCookieNames): boolean {
  const eq = header.indexOf('=', start);
  if (eq < 0 || eq > end) return false;
  let a = start;
  let b = eq;
  while (a < b && isSpace(header.charCodeAt(a))) a++;
  while (b > a && isSpace(header.charCodeAt(b - 1))) b--;
  return b > a && owned(header, a, b, names);
}

/**
 * Applies cookieWithout to every `cookie` entry of a flat [name, value, …]
 * header list (HTTP/2 clients may send several), removing entries left empty.
 * Nothing changes — and nothing is allocated — when no gateway cookie is there.
 */
export function stripOwnCookies(headers: string[], names: OwnCookieNames | null | undefined): void {
  if (!names) return; // also a hand-built route (benches, tests) without the field
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (headers[i] !== 'cookie') continue;
    const v = headers[i + 1]!;
    const kept = cookieWithout(v, names);
    if (kept === v) continue;
    if (kept === '') headers.splice(i, 2);
    else headers[i + 1] = kept;
  }
}
