// Request-path normalisation: the one string that is routed, authorized and
// forwarded. Modelled on Traefik's request-path sanitising: resolve `.`/`..`,
// collapse `//`, decode percent-encoded unreserved characters, and refuse
// (null → 400 bad_path) what another server could read differently from us:
// encoded `/ \ ; % ? #`, NUL and control characters, raw backslashes, `..`
// above root, `..;` path-parameter tricks (Tomcat reads `/a/..;/b` as `/b`).
//
// Most paths are already clean: one scan proves it and returns the input
// string itself (no allocation). Only paths with `%`, `//` or a dot segment
// take the slow path, which builds a new string.

const SLASH = 47; // '/'
const DOT = 46; // '.'
const PCT = 37; // '%'
const SEMI = 59; // ';'
const BACKSLASH = 92;
const HASH = 35;

/** Returns the normalised path, or null when it cannot be normalised safely. */
export function normalizePath(raw: string): string | null {
  const n = raw.length;
  if (n === 0 || raw.charCodeAt(0) !== SLASH) return null;
  let slow = false;
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c >= 0x30) {
      // digits, letters and most punctuation: only '\\' and DEL are refused up here
      if (c === BACKSLASH || c === 0x7f) return null;
      continue;
    }
    if (c < 0x20 || c === HASH) return null;
    if (c === PCT) {
      slow = true;
    } else if (c === SLASH && i + 1 < n) {
      const d = raw.charCodeAt(i + 1);
      if (d === SLASH) slow = true;
      else if (d === DOT && isDotSegmentAt(raw, i + 1)) slow = true;
    }
  }
  return slow ? normalizeSlow(raw) : raw;
}

/** True when a segment starting at `i` (a '.') is `.`, `..`, or starts `.;` / `..;`. */
function isDotSegmentAt(s: string, i: number): boolean {
  let j = i + 1;
  if (j < s.length && s.charCodeAt(j) === DOT) j++;
  if (j === s.length) return true;
  const c = s.charCodeAt(j);
  return c === SLASH || c === SEMI;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** RFC 3986 unreserved: ALPHA DIGIT - . _ ~ */
function isUnreserved(b: number): boolean {
  return (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b === 45 || b === 46 || b === 95 || b === 126;
}

const HEX_UPPER = '0123456789ABCDEF';

/** Percent-decoding and dot-segment resolution for paths the fast scan flagged. */
function normalizeSlow(raw: string): string | null {
  // Pass 1: percent-encodings. Decoding never produces '/', so segments are unchanged.
  let dec = raw;
  if (raw.indexOf('%') !== -1) {
    let out = '';
    let run = 0;
    const n = raw.length;
    for (let i = 0; i < n; i++) {
      if (raw.charCodeAt(i) !== PCT) continue;
      if (i + 2 >= n) return null;
      const hi = hexVal(raw.charCodeAt(i + 1));
      const lo = hexVal(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return null;
      const b = (hi << 4) | lo;
      // Control characters, and the delimiters another server would decode into
      // structure: / \ ; % ? #
      if (b < 0x20 || b === 0x7f || b === 0x2f || b === 0x5c || b === 0x3b || b === 0x25 || b === 0x3f || b === 0x23) {
        return null;
      }
      out += raw.slice(run, i);
      out += isUnreserved(b) ? String.fromCharCode(b) : '%' + HEX_UPPER[hi] + HEX_UPPER[lo];
      i += 2;
      run = i + 1;
    }
    dec = out + raw.slice(run);
  }

  // Pass 2: segments (RFC 3986 remove_dot_segments, plus `//` collapsed).
  const parts = dec.split('/'); // parts[0] is '' (leading slash)
  const stack: string[] = [];
  let trailing = false;
  for (let k = 1; k < parts.length; k++) {
    const seg = parts[k]!;
    const last = k === parts.length - 1;
    if (seg === '' || seg === '.') {
      if (last) trailing = true;
      continue;
    }
    if (seg === '..') {
      if (stack.length === 0) return null; // climbs above root
      stack.pop();
      if (last) trailing = true;
      continue;
    }
    if (seg.charCodeAt(0) === DOT && (seg.startsWith('.;') || seg.startsWith('..;'))) return null;
    stack.push(seg);
  }
  if (stack.length === 0) return '/';
  const joined = '/' + stack.join('/') + (trailing ? '/' : '');
  return joined === raw ? raw : joined;
}
