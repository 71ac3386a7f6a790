// W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/#traceparent-header):
// version "-" trace-id "-" parent-id "-" flags, lower-case hex. Checked in place
// by char codes: an unsampled request with a traceparent allocates nothing here.

/** What a valid traceparent said; the ids are sliced out only when asked for. */
export class ParsedParent {
  /** The header value the offsets below refer to. */
  header = '';
  sampled = false;

  traceId(): string {
    return this.header.slice(3, 35);
  }

  spanId(): string {
    return this.header.slice(36, 52);
  }
}

/** -1 for a character that is not lower-case hex, else its value. */
function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** `count` hex digits from `at`, not all zero. */
function hexId(s: string, at: number, count: number): boolean {
  let nonZero = false;
  for (let i = at; i < at + count; i++) {
    const d = hex(s.charCodeAt(i));
    if (d < 0) return false;
    if (d !== 0) nonZero = true;
  }
  return nonZero;
}

/**
 * Fills `out` and returns true for a valid traceparent; false (ignore it)
 * for anything else: wrong length, bad hex, all-zero ids, version ff. A
 * version above 00 may be longer (W3C: read the 00 fields, ignore what follows a dash).
 */
export function parseTraceparent(s: string, out: ParsedParent): boolean {
  const n = s.length;
  if (n < 55) return false;
  const v0 = hex(s.charCodeAt(0));
  const v1 = hex(s.charCodeAt(1));
  if (v0 < 0 || v1 < 0 || (v0 === 15 && v1 === 15)) return false;
  const version0 = v0 === 0 && v1 === 0;
  if (version0 ? n !== 55 : n > 55 && s.charCodeAt(55) !== 45) return false;
  if (s.charCodeAt(2) !== 45 || s.charCodeAt(35) !== 45 || s.charCodeAt(52) !== 45) return false;
  if (!hexId(s, 3, 32) || !hexId(s, 36, 16)) return false;
  const f0 = hex(s.charCodeAt(53));
  const f1 = hex(s.charCodeAt(54));
  if (f0 < 0 || f1 < 0) return false;
  out.header = s;
  out.sampled = (f1 & 1) === 1;
  return true;
}

/** traceparent for a call made under span `spanId` of trace `traceId` (always sampled: only sampled requests make spans). */
export function formatTraceparent(traceId: string, spanId: string): string {
  return `00-${traceId}-${spanId}-01`;
}
