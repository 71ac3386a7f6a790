// Who is the client? The socket peer, unless the peer is one of
// `server.trusted_proxies`: then X-Forwarded-For is walked from the right,
// skipping hops that are themselves trusted, and the right-most untrusted hop
// is the client. Everything left of that hop was written by whoever the
// client is and is ignored. A hop that does not parse stops the walk at the
// last good address: garbage is never trusted and never becomes the client.
//
// The pipeline must pass every X-Forwarded-For line joined with ", " (a
// proxy that adds its own line after a client's line would otherwise leave
// the client-written line as the "first occurrence").
import type { CompileContext } from '../config/load.js';
import { formatIp16, parseIpInto, parseV4At } from './ip.js';
import { compileIpSet, type IpSet } from './ip-set.js';

export interface ClientIpResolver {
  /** True when some proxy is trusted (otherwise X-Forwarded-For is never read). */
  readonly trustsAny: boolean;
  readonly trusted: IpSet;
  /**
   * The client address as text; its 16 bytes are left in `out16` (may be the
   * same buffer as peerIp16). Untrusted peer → `peerText` itself, no
   * allocation; trusted peer → the chosen hop in canonical text.
   */
  resolve(peerIp16: Uint8Array, peerText: string, xff: string, out16: Uint8Array): string;
}

const SPACE = 32;
const TAB = 9;

/**
 * One X-Forwarded-For hop in `s[start, end)`: an address, tolerating the
 * `1.2.3.4:port`, `[v6]` and `[v6]:port` forms some proxies write.
 */
function parseHop(s: string, start: number, end: number, out: Uint8Array): boolean {
  if (start >= end) return false;
  if (s.charCodeAt(start) === 91 /* [ */) {
    let close = -1;
    for (let i = start + 1; i < end; i++) if (s.charCodeAt(i) === 93 /* ] */) { close = i; break; }
    if (close < 0 || !isPortTail(s, close + 1, end)) return false;
    let colon = false;
    for (let i = start + 1; i < close; i++) if (s.charCodeAt(i) === 58) { colon = true; break; }
    return colon && parseIpInto(s, out, start + 1, close);
  }
  // Exactly one ':' with dots before it: IPv4 with a port.
  let colons = 0;
  let colonAt = -1;
  for (let i = start; i < end; i++) {
    if (s.charCodeAt(i) === 58) {
      colons++;
      colonAt = i;
    }
  }
  if (colons === 1) {
    if (!isPortTail(s, colonAt, end)) return false;
    if (!parseV4At(s, start, colonAt, out, 12)) return false;
    for (let k = 0; k < 10; k++) out[k] = 0;
    out[10] = 0xff;
    out[11] = 0xff;
    return true;
  }
  return parseIpInto(s, out, start, end);
}

/** '' or ':' followed by 1–5 digits. */
function isPortTail(s: string, i: number, end: number): boolean {
  if (i === end) return true;
  if (s.charCodeAt(i) !== 58 || end - i < 2 || end - i > 6) return false;
  for (let k = i + 1; k < end; k++) {
    const c = s.charCodeAt(k);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

class Resolver implements ClientIpResolver {
  readonly trustsAny: boolean;
  /** Scratch for parsing a hop, so a bad hop never overwrites the last good address. */
  private readonly scratch = new Uint8Array(16);

  constructor(readonly trusted: IpSet) {
    this.trustsAny = !trusted.empty;
  }

  resolve(peerIp16: Uint8Array, peerText: string, xff: string, out16: Uint8Array): string {
    if (out16 !== peerIp16) out16.set(peerIp16);
    if (!this.trustsAny || xff.length === 0 || !this.trusted.has(peerIp16)) return peerText;
    const scratch = this.scratch;
    let fromXff = false; // out16 holds a hop rather than the peer
    let end = xff.length;
    for (;;) {
      const comma = end === 0 ? -1 : xff.lastIndexOf(',', end - 1);
      let a = comma + 1;
      let b = end;
      while (a < b && (xff.charCodeAt(a) === SPACE || xff.charCodeAt(a) === TAB)) a++;
      while (b > a && (xff.charCodeAt(b - 1) === SPACE || xff.charCodeAt(b - 1) === TAB)) b--;
      if (!parseHop(xff, a, b, scratch)) break; // garbage: keep the last good address
      out16.set(scratch);
      fromXff = true;
      if (!this.trusted.has(out16)) break; // right-most untrusted hop: the client
      if (comma < 0) break; // every hop trusted: the left-most is the best we know
      end = comma;
    }
    return fromXff ? formatIp16(out16) : peerText;
  }
}

/** Compiles `server.trusted_proxies` (CIDRs; empty = trust none). */
export function compileClientIp(
  trustedProxies: readonly string[],
  ctx: Pick<CompileContext, 'issue'>,
  at = 'server.trusted_proxies',
): ClientIpResolver {
  return new Resolver(compileIpSet(trustedProxies, at, ctx));
}
