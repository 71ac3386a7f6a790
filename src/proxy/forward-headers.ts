// The header list sent upstream: the client's forwardable headers, then the
// gateway's own (X-Forwarded-*, X-Request-Id, identity, route additions).
import type { CompiledRoute } from '../server/runtime.js';
import type { DetachedView } from '../server/view.js';
import { newRequestId, safeRequestId } from '../server/request-id.js';
import { stripOwnCookies } from '../lib/own-cookies.js';
import { copyForwardable, validValue, type Framing } from './headers.js';

export function compileForwardHeaders(v: DetachedView, f: Framing, route: CompiledRoute, consumedHeader: string): string[] {
  const out: string[] = [];
  copyForwardable(v.headers, f, route.headers, out);
  stripOwnCookies(out, route.ownCookies); // the gateway's own OIDC cookies never go upstream
  if (consumedHeader !== '') removeHeader(out, consumedHeader);
  // Headers a called service chose per request (external authn `headers`,
  // external authorizer `headers`) are not known at compile time, so the
  // route's drop list misses them: the client's copies go here, or the
  // upstream would see the client's value first ("admin, viewer").
  const id0 = v.identity;
  if (id0 !== null) removeNames(out, id0.forwardHeaders);
  removeNames(out, v.authzHeaders);
  // Host is rewritten per target by the Exchange; the client's Host goes in X-Forwarded-Host.
  out.push('host', '');
  if (f.contentLength >= 0 && !f.chunked) out.push('content-length', String(f.contentLength));
  const trusted = v.peerTrusted;
  const xff = trusted && f.xff !== '' ? `${f.xff}, ${v.peerIp}` : v.clientIp;
  out.push('x-forwarded-for', xff);
  out.push('x-forwarded-proto', trusted && f.xfp !== '' && validValue(f.xfp) ? f.xfp : v.proto);
  if (v.host !== '') out.push('x-forwarded-host', v.header('host'));
  if (v.requestId === '') v.requestId = trusted && f.requestId !== '' && safeRequestId(f.requestId) ? f.requestId : newRequestId();
  out.push('x-request-id', v.requestId);
  const id = v.identity;
  if (id !== null) {
    // Identity values are text from tokens and services: prepareUpstreamHead
    // (src/proxy/upstream-head.ts) encodes them or refuses the request.
    out.push('x-portcullis-consumer', id.consumer, 'x-portcullis-authenticator', id.authenticator);
    const fh = id.forwardHeaders;
    for (let i = 0; i + 1 < fh.length; i += 2) out.push(fh[i]!, fh[i + 1]!);
  }
  const add = route.headers.add;
  for (let i = 0; i < add.length; i++) out.push(add[i]!);
  const az = v.authzHeaders;
  for (let i = 0; i + 1 < az.length; i += 2) out.push(az[i]!, az[i + 1]!);
  return out;
}

/** Removes every header named in the flat [name, value…] list `named`. */
function removeNames(out: string[], named: readonly string[]): void {
  for (let i = 0; i + 1 < named.length; i += 2) removeHeader(out, named[i]!);
}

function removeHeader(out: string[], name: string): void {
  for (let i = out.length - 2; i >= 0; i -= 2) if (out[i] === name) out.splice(i, 2);
}

/** The query string without parameter `name` (every occurrence, raw or percent-encoded name). */
export function withoutQueryParam(query: string, name: string): string {
  if (query === '') return query;
  const kept: string[] = [];
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    const raw = eq < 0 ? part : part.slice(0, eq);
    let key = raw;
    try { key = decodeURIComponent(raw.replace(/\+/g, ' ')); } catch { /* keep raw */ }
    if (key !== name) kept.push(part);
  }
  return kept.join('&');
}
