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
import { formatIp16, ip16FromBytes, parseIpInto, parseV4At } from './ip.js';
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

/** The connection's addresses, as uWS gives them (structural: policy/ does not import the server). */
export interface PeerSource {
  getRemoteAddress(): ArrayBuffer;
  getProxiedRemoteAddress(): ArrayBuffer;
}

/** The request view's client fields, written by ClientAddress.resolve. */
export interface ClientFields {
  clientIp: string;
  readonly clientIp16: Uint8Array;
  clientIsV4: boolean;
  peerIp: string;
  peerTrusted: boolean;
}

/**
 * Per thread: the socket peer (binary, one getpeername, formatted
 * canonically: uWS's own text of IPv6 is uncompressed), or the source a
 * PROXY v2 header names, then X-Forwarded-For when the peer is trusted.
 */
export class ClientAddress {
  private readonly peer16 = new Uint8Array(16);
  private readonly last16 = new Uint8Array(16);
  private lastText = '';

  /** `xff` is asked only for a trusted peer: it joins every X-Forwarded-For line (it allocates). */
  resolve(v: ClientFields, cip: ClientIpResolver, src: PeerSource, proxyProtocol: boolean, xff: () => string): void {
    const p16 = this.peer16;
    if (!ip16FromBytes(new Uint8Array(src.getRemoteAddress()), p16)) p16.fill(0);
    // PROXY v2: only a trusted peer's header is believed when trusted_proxies is set (anyone could send one).
    if (proxyProtocol && !(cip.trustsAny && !cip.trusted.has(p16))) {
      const px = src.getProxiedRemoteAddress();
      if (px.byteLength > 0) ip16FromBytes(new Uint8Array(px), p16);
    }
    const peerText = this.textOf(p16);
    v.peerTrusted = false;
    if (cip.trustsAny && cip.trusted.has(p16)) {
      v.peerTrusted = true;
      v.clientIp = cip.resolve(p16, peerText, xff(), v.clientIp16);
    } else {
      v.clientIp16.set(p16);
      v.clientIp = peerText;
    }
    v.peerIp = peerText;
    const b = v.clientIp16;
    v.clientIsV4 = b[10] === 0xff && b[11] === 0xff && b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0 && b[4] === 0 && b[5] === 0 && b[6] === 0 && b[7] === 0 && b[8] === 0 && b[9] === 0;
  }

  /** Text of an address; the previous request's string when the address repeats (keep-alive clients). */
  private textOf(p16: Uint8Array): string {
    const last = this.last16;
    let same = this.lastText !== '';
    for (let i = 15; same && i >= 0; i--) if (last[i] !== p16[i]) same = false;
    if (!same) {
      last.set(p16);
      this.lastText = formatIp16(p16);
    }
    return this.lastText;
  }
}
