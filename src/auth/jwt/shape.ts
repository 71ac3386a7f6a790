// Cheap structural checks run before any decoding, so garbage is refused
// with a character loop instead of an exception: three base64url segments
// (JWS compact), no padding, nothing else. JWE (five segments) is refused here.
//
// Only canonical base64url is accepted (RFC 4648 §3.5): the last character of
// a segment of length 4k+2 carries 4 unused bits, of 4k+3 two, and they must
// be zero. Node's decoder ignores them, so without this rule one signature has
// up to 16 spellings that all verify — each a different string to the
// verified-token cache, a deny list or a log search for a leaked token.
import { parseJsonObject } from '../../lib/json-object.js';

/** Sextet value + 1 for the base64url alphabet A–Z a–z 0–9 - _, 0 otherwise. */
const B64URL = new Uint8Array(128);
for (let c = 0x41; c <= 0x5a; c++) B64URL[c] = c - 0x41 + 1;
for (let c = 0x61; c <= 0x7a; c++) B64URL[c] = c - 0x61 + 27;
for (let c = 0x30; c <= 0x39; c++) B64URL[c] = c - 0x30 + 53;
B64URL[0x2d] = 63;
B64URL[0x5f] = 64;

/** By segment length mod 4: the bits of the last sextet that must be zero (-1: no valid length). */
const UNUSED_BITS = Int8Array.of(0, -1, 0x0f, 0x03);

/**
 * True when t[start, end) has a valid base64url length with the unused bits of
 * its last character zero; the characters themselves were checked by the scan.
 */
function canonicalEnd(t: string, start: number, end: number): boolean {
  const mask = UNUSED_BITS[(end - start) & 3]!;
  return mask === 0 || (mask > 0 && ((B64URL[t.charCodeAt(end - 1)]! - 1) & mask) === 0);
}

/** Positions of the two dots of the last token scanned (reused: read them before any await). */
export class JwsShape {
  d1 = -1;
  d2 = -1;

  /**
   * True when `t` (from `start` to its end) is `header.payload.signature` in
   * canonical base64url, header and payload non-empty. The signature may be empty (an `alg: none` token is
   * then refused for its algorithm, which is the more useful reason).
   */
  scan(t: string, start = 0): boolean {
    let d1 = -1;
    let d2 = -1;
    const n = t.length;
    for (let i = start; i < n; i++) {
      const c = t.charCodeAt(i);
      if (c === 0x2e) {
        if (d1 < 0) d1 = i;
        else if (d2 < 0) d2 = i;
        else return false; // a fourth segment: JWE or junk
      } else if (c > 0x7f || B64URL[c] === 0) {
        return false;
      }
    }
    if (d2 < 0 || d1 === start || d2 === d1 + 1) return false;
    // Length 4k+1 decodes to nothing valid; nonzero unused bits are another spelling of the same bytes.
    if (!canonicalEnd(t, start, d1) || !canonicalEnd(t, d1 + 1, d2) || !canonicalEnd(t, d2 + 1, n)) return false;
    // Positions relative to the token's start.
    this.d1 = d1 - start;
    this.d2 = d2 - start;
    return true;
  }
}

/**
 * Decodes a base64url segment (already checked by JwsShape) and parses it as a
 * JSON object, or returns null. The outer-brace check keeps random base64url
 * (which decodes to binary) away from JSON.parse, so the guarded parse below
 * only ever sees near-JSON: rare, and never on the cache-hit path.
 */
export function decodeJsonObject(token: string, start: number, end: number): Record<string, unknown> | null {
  const text = Buffer.from(token.slice(start, end), 'base64url').toString('utf8');
  let a = 0;
  let b = text.length - 1;
  while (a <= b && isWs(text.charCodeAt(a))) a++;
  while (b >= a && isWs(text.charCodeAt(b))) b--;
  if (a >= b || text.charCodeAt(a) !== 0x7b || text.charCodeAt(b) !== 0x7d) return null;
  return parseJsonObject(text);
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}
