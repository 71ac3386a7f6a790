// IP addresses as 16 bytes, parsed from text without allocating: IPv4 is
// stored IPv4-mapped (::ffff:a.b.c.d) so one representation serves both
// families. Parsing is strict (no zones, no leading zeros in IPv4 octets,
// no brackets or ports): an address we are unsure of is not an address.

const COLON = 58;
const DOT = 46;

/**
 * Parses IPv4 `a.b.c.d` in `text[start, end)` into `out[off..off+4)`.
 * Octets are decimal 0–255 without leading zeros ("010" is refused: some
 * parsers read it as octal).
 */
export function parseV4At(text: string, start: number, end: number, out: Uint8Array, off: number): boolean {
  let octets = 0;
  let i = start;
  while (octets < 4) {
    if (i >= end) return false;
    let v = 0;
    let digits = 0;
    const first = i;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      digits++;
      i++;
      if (digits > 3) return false;
    }
    if (digits === 0 || v > 255 || (digits > 1 && text.charCodeAt(first) === 48)) return false;
    out[off + octets] = v;
    octets++;
    if (octets < 4) {
      if (i >= end || text.charCodeAt(i) !== DOT) return false;
      i++;
    }
  }
  return i === end;
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Parses IPv6 in `text[start, end)` into out16 (RFC 4291 text forms, embedded IPv4 tail allowed). */
export function parseV6At(text: string, start: number, end: number, out: Uint8Array): boolean {
  let i = start;
  let pos = 0; // bytes written
  let gap = -1; // byte position of '::'
  if (end - start < 2) return false;
  if (text.charCodeAt(i) === COLON) {
    if (text.charCodeAt(i + 1) !== COLON) return false;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    if (pos >= 16) return false;
    const groupStart = i;
    let v = 0;
    let digits = 0;
    while (i < end && digits <= 4) {
      const h = hex(text.charCodeAt(i));
      if (h < 0) break;
      v = (v << 4) | h;
      digits++;
      i++;
    }
    if (i < end && text.charCodeAt(i) === DOT) {
      // IPv4 tail: the last 32 bits.
      if (pos > 12) return false;
      if (!parseV4At(text, groupStart, end, out, pos)) return false;
      pos += 4;
      i = end;
      break;
    }
    if (digits === 0 || digits > 4) return false;
    out[pos] = v >> 8;
    out[pos + 1] = v & 0xff;
    pos += 2;
    if (i === end) break;
    if (text.charCodeAt(i) !== COLON) return false;
    i++;
    if (i < end && text.charCodeAt(i) === COLON) {
      if (gap >= 0) return false; // only one '::'
      gap = pos;
      i++;
    } else if (i === end) {
      return false; // trailing single ':'
    }
  }
  if (gap < 0) return pos === 16;
  if (pos > 14) return false; // '::' stands for at least one group
  // Move the bytes after the gap to the end and zero the gap.
  const tail = pos - gap;
  for (let k = 1; k <= tail; k++) out[16 - k] = out[pos - k]!;
  for (let k = gap; k < 16 - tail; k++) out[k] = 0;
  return true;
}

/**
 * Parses an IPv4 or IPv6 address in `text[start, end)` into `out16`.
 * IPv4 becomes ::ffff:a.b.c.d. On false the contents of out16 are unspecified.
 */
export function parseIpInto(text: string, out16: Uint8Array, start = 0, end = text.length): boolean {
  for (let i = start; i < end; i++) {
    if (text.charCodeAt(i) === COLON) return parseV6At(text, start, end, out16);
  }
  if (!parseV4At(text, start, end, out16, 12)) return false;
  for (let k = 0; k < 10; k++) out16[k] = 0;
  out16[10] = 0xff;
  out16[11] = 0xff;
  return true;
}

/**
 * Copies a binary address (4 bytes IPv4 or 16 bytes IPv6, as uWS
 * `getRemoteAddress()` gives it) into out16. Returns false for any other length.
 * uWS's `getRemoteAddressAsText()` writes IPv6 uncompressed
 * ("0000:…:0001"); use formatIp16 for canonical text of IPv6 peers.
 */
export function ip16FromBytes(bytes: Uint8Array, out16: Uint8Array): boolean {
  if (bytes.length === 16) {
    out16.set(bytes);
    return true;
  }
  if (bytes.length !== 4) return false;
  for (let k = 0; k < 10; k++) out16[k] = 0;
  out16[10] = 0xff;
  out16[11] = 0xff;
  out16[12] = bytes[0]!;
  out16[13] = bytes[1]!;
  out16[14] = bytes[2]!;
  out16[15] = bytes[3]!;
  return true;
}

/** True for ::ffff:a.b.c.d (how IPv4 is stored). */
export function isV4Mapped(ip16: Uint8Array): boolean {
  for (let k = 0; k < 10; k++) if (ip16[k] !== 0) return false;
  return ip16[10] === 0xff && ip16[11] === 0xff;
}

/** Text of an address: dotted quad for IPv4(-mapped), RFC 5952 canonical IPv6 otherwise. Allocates. */
export function formatIp16(ip16: Uint8Array): string {
  if (isV4Mapped(ip16)) return `${ip16[12]}.${ip16[13]}.${ip16[14]}.${ip16[15]}`;
  // Longest run of two or more zero groups (the first on a tie) becomes '::'.
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let g = 0; g <= 8; g++) {
    const zero = g < 8 && ip16[2 * g] === 0 && ip16[2 * g + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = g;
    } else if (runStart >= 0) {
      if (g - runStart > bestLen) {
        bestStart = runStart;
        bestLen = g - runStart;
      }
      runStart = -1;
    }
  }
  let s = '';
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      s += '::';
      g += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += ((ip16[2 * g]! << 8) | ip16[2 * g + 1]!).toString(16);
  }
  return s;
}
