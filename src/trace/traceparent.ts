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

/** Lower-case hex digit → its value, anything else → -1 (char codes ≥ 128 are checked before the lookup). */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = 10 + i;

function hex(c: number): number {
  return c < 128 ? HEX[c]! : -1;
}

/** `count` hex digits from `at`, not all zero. */
function hexId(s: string, at: number, count: number): boolean {
  let any = 0;
  const end = at + count;
  for (let i = at; i < end; i++) {
    const c = s.charCodeAt(i);
    const d = c < 128 ? HEX[c]! : -1;
    if (d < 0) return false;
    any |= d;
  }
  return any !== 0;
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
