// The two decisions the pipeline asks of this folder at an upgrade request:
// is it refused (route without websocket, Origin, a body), and how to dial
// the upstream (URL, subprotocols, the proxied request's headers as `ws` takes them).
import { R } from '../reasons.js';
import type { Target, UpstreamGroup } from '../proxy/upstreams.js';
import type { UpstreamDial } from './relay.js';
import type { WebSocketRoute } from './route.js';

/** 0, or the reason an upgrade request is refused before authentication. */
export function upgradeRefusal(ws: WebSocketRoute | null, version: string, origin: string, host: string, bodyDeclared: boolean): number {
  if (ws === null) return R.websocket_not_allowed;
  // A handshake has no body and speaks version 13, the only one (RFC 6455 §4.1).
  if (bodyDeclared || version !== '13') return R.bad_request;
  if (!ws.originAllowed(origin, host)) return R.websocket_origin_denied;
  return 0;
}

/**
 * The client's handshake headers are `ws`'s to write (key, version,
 * extensions: permessage-deflate is never offered), Host comes from the
 * target URL; everything else is the proxied request's header list.
 */
function dropped(name: string): boolean {
  return name === 'host' || name === 'content-length' || name.startsWith('sec-websocket-');
}

export function dialFor(target: Target, group: UpstreamGroup, path: string, headers: readonly string[], protocolHeader: string): UpstreamDial {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!;
    if (dropped(name)) continue;
    const prev = h[name];
    h[name] = prev === undefined ? headers[i + 1]! : `${prev}${name === 'cookie' ? '; ' : ', '}${headers[i + 1]!}`;
  }
  const protocols = protocolHeader === '' ? [] : protocolHeader.split(',').map((p) => p.trim()).filter((p) => p !== '');
  // http://h:p → ws://h:p, https:// → wss://
  const url = `ws${target.origin.slice(4)}${path}`;
  return { url, protocols, headers: h, tls: target.tls, timeoutMs: group.timeout };
}
