// Header hygiene between client and upstream. The request the upstream sees is
// rebuilt, never passed through: framing headers are validated and re-derived,
// hop-by-hop headers dropped (the fixed list and those the client names in
// Connection — but Connection can never strip the gateway's own headers,
// Traefik CVE-2024-45410), identity headers a client sent are removed before
// the gateway sets its own, so they cannot be forged.
import { R } from '../reasons.js';

/** Removed always: hop-by-hop (RFC 9110 §7.6.1) and what the gateway re-derives. */
const ALWAYS_DROP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-authenticate', 'proxy-authorization', 'host', 'content-length', 'expect', 'http2-settings',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded', 'x-real-ip', 'x-request-id',
]);

/**
 * Request headers upstream frameworks treat as overrides of the method, the
 * URL or the client's address (X-HTTP-Method-Override in many frameworks,
 * X-Original-URL / X-Rewrite-URL in IIS and Symfony, True-Client-IP…): a
 * client could use them to act past a rule the gateway checked. Dropped
 * unless the route sets request_headers.pass_overrides.
 */
export const OVERRIDE_HEADERS: ReadonlySet<string> = new Set([
  'x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-method',
  'x-original-url', 'x-original-uri', 'x-rewrite-url', 'x-override-url', 'x-original-host', 'x-host',
  'true-client-ip', 'x-client-ip', 'x-cluster-client-ip', 'client-ip', 'x-originating-ip', 'x-remote-ip', 'x-remote-addr',
  'front-end-https', 'x-url-scheme',
  'cf-connecting-ip', 'fastly-client-ip', 'x-original-forwarded-for', 'forwarded-for', 'x-forwarded', 'x-envoy-original-path',
]);

/** Names starting with this are the gateway's (X-Forwarded-For/-Proto/-Host…): a client's never pass. */
const FORWARDED_PREFIX = 'x-forwarded-';

/** Headers a client's Connection list may never remove (they are the gateway's). */
const PROTECTED = new Set([
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id',
  'x-portcullis-consumer', 'x-portcullis-authenticator', 'content-type', 'authorization',
]);

/**
 * No CR, LF, NUL or other controls except HTAB in a value (RFC 9110 §5.5).
 * Values are text (uWS decodes them from UTF-8); characters above U+007F are
 * written upstream as their UTF-8 bytes by prepareUpstreamHead.
 */
export function validValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return false;
  }
  return true;
}

function isDigits(s: string): boolean {
  if (s.length === 0 || s.length > 15) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Headers the gateway reads to decide (credentials, cookies) are refused when
 * repeated; the runtime adds every header the config makes a decision on
 * (match.headers, route_by, rate-limit and token sources). Name → slot.
 */
export const ALWAYS_SINGLE: ReadonlyMap<string, number> = singletonIndex([]);
export function singletonIndex(extra: Iterable<string>): ReadonlyMap<string, number> {
  const names = new Set(['authorization', 'cookie', 'host', 'x-api-key']);
  for (const n of extra) names.add(n.toLowerCase());
  const m = new Map<string, number>();
  for (const n of names) if (m.size < 256) m.set(n, m.size);
  return m;
}
const seen = new Uint8Array(256);

/** What framing a request declared; filled by inspectRequestHeaders. */
export interface Framing {
  /** Declared Content-Length, or -1 when none. */
  contentLength: number;
  chunked: boolean;
  /** Lower-case names the client listed in Connection (minus protected ones), or null. */
  connectionDrop: Set<string> | null;
  /** The X-Forwarded-For the client sent ('' when none). */
  xff: string;
  xfp: string;
  requestId: string;
}

/**
 * Validates the headers of a request the gateway is about to forward.
 * Returns 0, or the reason id of a 400 (never forward what could not be fully parsed).
 */
export function inspectRequestHeaders(h: readonly string[], out: Framing, singletons: ReadonlyMap<string, number> = ALWAYS_SINGLE): number {
  out.contentLength = -1;
  out.chunked = false;
  out.connectionDrop = null;
  out.xff = '';
  out.xfp = '';
  out.requestId = '';
  let sawCl = false;
  seen.fill(0, 0, singletons.size);
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!;
    const value = h[i + 1]!;
    // Names and values are checked once, by prepareUpstreamHead, for every source alike.
    switch (name) {
      case 'content-length':
        if (sawCl || !isDigits(value.trim())) return R.bad_header; // duplicate or garbage
        sawCl = true;
        out.contentLength = Number(value.trim());
        break;
      case 'transfer-encoding':
        if (out.chunked || value.trim().toLowerCase() !== 'chunked') return R.bad_header;
        out.chunked = true;
        break;
      case 'connection':
        for (const tok of value.split(',')) {
          const t = tok.trim().toLowerCase();
          if (t && t !== 'close' && t !== 'keep-alive' && !PROTECTED.has(t)) (out.connectionDrop ??= new Set()).add(t);
        }
        break;
      case 'x-forwarded-for':
        out.xff = out.xff ? `${out.xff}, ${value}` : value;
        break;
      case 'x-forwarded-proto':
        out.xfp = value;
        break;
      case 'x-request-id':
        out.requestId = value;
        break;
    }
    // A header some stage decided on (the first occurrence) must not come twice:
    // the upstream would see a second, unchecked value (RFC 9110 §5.3).
    const k = singletons.get(name);
    if (k !== undefined) {
      if (seen[k] !== 0) return R.bad_header;
      seen[k] = 1;
    }
  }
  if (out.chunked && sawCl) return R.bad_header; // CL + TE: classic smuggling vector
  return 0;
}

/** Per-route, precompiled: which client headers never go upstream and what to add. */
export interface HeaderPolicy {
  /** Lower-case names removed (identity headers, forward_claims names, route's remove list, overrides). */
  readonly drop: ReadonlySet<string>;
  /** Names starting with this prefix are dropped (x-portcullis-). */
  readonly dropPrefix: string;
  /** Flat [name, value…] added (route's request_headers.add). */
  readonly add: readonly string[];
}

export function compileHeaderPolicy(
  forwardClaimHeaders: Iterable<string>, remove: readonly string[] = [], add: Record<string, string> = {}, passOverrides = false,
): HeaderPolicy {
  const drop = new Set<string>();
  if (!passOverrides) for (const n of OVERRIDE_HEADERS) drop.add(n);
  for (const n of forwardClaimHeaders) drop.add(n.toLowerCase());
  for (const n of remove) drop.add(n.toLowerCase());
  const addFlat: string[] = [];
  for (const [k, v] of Object.entries(add)) {
    addFlat.push(k.toLowerCase(), v);
    drop.add(k.toLowerCase());
  }
  return { drop, dropPrefix: 'x-portcullis-', add: addFlat };
}

function dropped(name: string, p: HeaderPolicy): boolean {
  return ALWAYS_DROP.has(name) || p.drop.has(name) || name.startsWith(p.dropPrefix) || name.startsWith(FORWARDED_PREFIX);
}

/**
 * Copies the client headers that may go upstream into `out` (flat). A name
 * with `_` is dropped when its `-` spelling would be: CGI/WSGI servers and
 * nginx with underscores_in_headers fold `x_portcullis_consumer` into the
 * gateway's `x-portcullis-consumer`.
 */
export function copyForwardable(h: readonly string[], f: Framing, p: HeaderPolicy, out: string[]): void {
  const cd = f.connectionDrop;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!;
    if (dropped(name, p)) continue;
    if (cd !== null && cd.has(name)) continue;
    if (name.indexOf('_') >= 0 && dropped(name.replace(/_/g, '-'), p)) continue;
    out.push(name, h[i + 1]!);
  }
}

/** Response headers from upstream that are not passed to the client (uWS sets its own framing and Date). */
export const RESPONSE_DROP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-authenticate', 'content-length', 'date', 'x-request-id',
]);

export const RESP_PASS = 0;
export const RESP_DROP = 1;
export const RESP_CONTENT_LENGTH = 2;

// Candidates by name length, as lower-case bytes: most response headers have a
// length no dropped name has and are passed after one array lookup, with no
// string made of the raw header name.
const BY_LENGTH: Buffer[][] = [];
for (const n of RESPONSE_DROP) (BY_LENGTH[n.length] ??= []).push(Buffer.from(n, 'latin1'));
const CONTENT_LENGTH = Buffer.from('content-length', 'latin1');

function equalsLower(raw: Buffer, lower: Buffer): boolean {
  for (let i = 0; i < lower.length; i++) {
    let c = raw[i]!;
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lower[i]) return false;
  }
  return true;
}

/** What to do with one raw upstream response header name. */
export function classifyResponseHeader(name: Buffer): number {
  const cands = BY_LENGTH[name.length];
  if (cands === undefined) return RESP_PASS;
  for (let i = 0; i < cands.length; i++) {
    if (equalsLower(name, cands[i]!)) return cands[i] === CONTENT_LENGTH_REF ? RESP_CONTENT_LENGTH : RESP_DROP;
  }
  return RESP_PASS;
}
const CONTENT_LENGTH_REF = BY_LENGTH[CONTENT_LENGTH.length]!.find((b) => b.equals(CONTENT_LENGTH))!;

/** Decimal digits of a raw header value, or -1. */
export function parseLength(v: Buffer): number {
  let n = 0;
  let seen = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === 32 || c === 9) { if (seen) break; continue; }
    if (c < 48 || c > 57 || n > 1e15) return -1;
    n = n * 10 + (c - 48);
    seen = true;
  }
  return seen ? n : -1;
}
