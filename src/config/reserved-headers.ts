// Upstream request headers the gateway owns: framing and hop-by-hop headers
// (RFC 9110 §7.6.1) and the ones it writes itself (X-Forwarded-*, X-Request-Id,
// X-Portcullis-*). A called service may never set them, so a config may not
// declare them in `allowed_upstream_headers` either: one list for both rules.

const RESERVED_EXACT: ReadonlySet<string> = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer',
  'expect', 'http2-settings', 'forwarded', 'x-real-ip', 'x-request-id',
]);
const RESERVED_PREFIXES: readonly string[] = ['proxy-', 'x-portcullis-', 'x-forwarded-'];

/** True for a lower-case name only the gateway may write upstream. */
export function isReservedUpstreamHeader(lowerName: string): boolean {
  if (RESERVED_EXACT.has(lowerName)) return true;
  for (const p of RESERVED_PREFIXES) if (lowerName.startsWith(p)) return true;
  return false;
}

export const RESERVED_HELP = 'host, content-length, transfer-encoding, connection, keep-alive, upgrade, te, trailer, expect, forwarded, x-real-ip, x-request-id, proxy-*, x-forwarded-*, x-portcullis-*';
