// Reading one cookie out of a Cookie header without splitting it into an array.

/** End (exclusive) of the value the last cookieRange() call found. */
export const cookieEnd = new Int32Array(1);

/**
 * Where a cookie's value is in a Cookie header: its start (the end goes to
 * cookieEnd[0]), or -1. No substring is made, so a cache can be probed by
 * range. Surrounding whitespace and one pair of double quotes are not part of
 * the value.
 */
export function cookieRange(header: string, name: string): number {
  let i = 0;
  const n = header.length;
  while (i < n) {
    while (i < n && (header.charCodeAt(i) === 32 || header.charCodeAt(i) === 59)) i++; // ' ' ';'
    let end = header.indexOf(';', i);
    if (end < 0) end = n;
    const eq = header.indexOf('=', i);
    // A pair without '=' (`document.cookie = "foo"` sends one) is skipped: it
    // must not swallow the next cookie's name (a script could hide the session).
    if (eq < 0 || eq > end) {
      i = end + 1;
      continue;
    }
    if (eq - i === name.length && header.startsWith(name, i)) {
      let a = eq + 1;
      let b = end;
      while (a < b && isTrimmed(header.charCodeAt(a))) a++;
      while (b > a && isTrimmed(header.charCodeAt(b - 1))) b--;
      if (b - a >= 2 && header.charCodeAt(a) === 34 && header.charCodeAt(b - 1) === 34) { a++; b--; }
      cookieEnd[0] = b;
      return a;
    }
    i = end + 1;
  }
  return -1;
}

/** What String.prototype.trim removes (ECMAScript WhiteSpace and LineTerminator). */
function isTrimmed(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a)
    || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Finds a cookie's value in a Cookie header without splitting it into an array. */
export function findCookie(header: string, name: string): string | undefined {
  const a = cookieRange(header, name);
  return a < 0 ? undefined : header.slice(a, cookieEnd[0]);
}
