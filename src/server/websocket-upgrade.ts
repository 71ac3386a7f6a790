// uWS's side of WebSockets: the ws() behavior every listener gets. Its upgrade
// handler is the pipeline's (the same stages as any request); the socket
// events go to the socket's Relay (src/websocket/relay.ts). Limits uWS applies
// per behavior are set here; the per-route ones are the relay's.
import type { Relay } from '../websocket/relay.js';
import type { WebSocketHub } from '../websocket/hub.js';
import { dialFor } from '../websocket/upgrade.js';
import type { Exchange } from '../proxy/exchange.js';
import { prepareUpstreamHead } from '../proxy/upstream-head.js';
import type { UpstreamGroup } from '../proxy/upstreams.js';
import { R } from '../reasons.js';
import { log } from '../observe/log.js';
import { clockNow } from '../lib/clock.js';
import { rejectNextTurn, type ObserveSink } from './replies.js';
import type { CompiledRoute, Runtime } from './runtime.js';
import type { HttpRequest, HttpResponse, SocketContext, WebSocket, WebSocketBehavior } from './uws.js';

/** What each uWS WebSocket carries (res.upgrade's userData). */
export interface RelayData {
  readonly relay: Relay;
}

const DISABLED = 0; // uWS CompressOptions.DISABLED: permessage-deflate is never negotiated (memory and CPU per socket)

/**
 * `ceiling`: the largest routes[].websocket.max_message at start. Each route's
 * limit is the relay's to enforce (close 1009). uWS's own limit is twice the
 * ceiling: it bounds what uWS buffers of a fragmented message, and a message
 * past it is cut by uWS without a close frame (the client sees 1006), so
 * only a message far above max_message loses its 1009.
 */
export function websocketBehavior(
  upgrade: (res: HttpResponse, req: HttpRequest, context: SocketContext) => void,
  ceiling: number,
): WebSocketBehavior<RelayData> {
  return {
    compression: DISABLED,
    maxPayloadLength: 2 * ceiling,
    // The relay pauses the upstream at about one max_message waiting for the
    // client; this hard bound (a closed socket) covers what was in flight.
    maxBackpressure: 2 * ceiling + 1024 * 1024,
    closeOnBackpressureLimit: true,
    // Idle sockets are closed by the hub's sweep (routes[].websocket.idle_timeout).
    idleTimeout: 0,
    sendPingsAutomatically: false,
    upgrade,
    open: (ws: WebSocket<RelayData>) => ws.getUserData().relay.attach(ws),
    message: (ws: WebSocket<RelayData>, m: ArrayBuffer, isBinary: boolean) => ws.getUserData().relay.fromClient(m, isBinary),
    drain: (ws: WebSocket<RelayData>) => ws.getUserData().relay.clientDrained(),
    close: (ws: WebSocket<RelayData>, code: number, m: ArrayBuffer) => ws.getUserData().relay.clientClosed(code, m),
    ping: (ws: WebSocket<RelayData>) => ws.getUserData().relay.touch(),
    pong: (ws: WebSocket<RelayData>) => ws.getUserData().relay.touch(),
  };
}

/** The ceiling for websocketBehavior: the largest max_message of any route (64 KiB without WebSocket routes). */
export function maxMessageCeiling(routes: readonly { readonly websocket?: { readonly max_message: number } | undefined }[]): number {
  let m = 64 * 1024;
  for (const r of routes) if (r.websocket !== undefined && r.websocket.max_message > m) m = r.websocket.max_message;
  return m;
}

/** What openWebSocket needs of the pipeline. */
export interface WebSocketHost {
  readonly websockets: WebSocketHub;
  readonly sink: ObserveSink;
  readonly rt: Runtime;
}

/**
 * Stage 8 of an accepted WebSocket upgrade: the upstream socket first (with
 * the headers a proxied request gets), then the client is upgraded with the
 * subprotocol the upstream chose. An upstream that refuses or is down: 502.
 */
export function openWebSocket(host: WebSocketHost, ex: Exchange, route: CompiledRoute, group: UpstreamGroup, path: string, headers: string[]): void {
  const unsafe = prepareUpstreamHead('GET', path, headers);
  if (unsafe !== 0) return rejectNextTurn(ex, unsafe);
  const v = ex.view;
  const target = group.pick(clockNow());
  const relay = host.websockets.relay(route.websocket!, route.name, v.identity !== null ? v.identity.expiresAt : Infinity, host.rt);
  const key = v.header('sec-websocket-key');
  const context = ex.upgradeContext as SocketContext;
  ex.upstreamIndex = group.index;
  const t = performance.now();
  const dialing = relay.dial(dialFor(target, group, path, headers, v.header('sec-websocket-protocol')), (protocol) => {
    group.markOk(target);
    host.sink.upstream(group.index, (performance.now() - t) * 1000, false);
    const upgraded = ex.switchProtocols(() => ex.res.upgrade({ relay }, key, protocol, '', context));
    if (!upgraded) relay.cancel();
  }, (why, answered) => {
    if (!answered) group.markFailed(target, Date.now()); // passive health, as for a refused HTTP connection
    host.sink.upstream(group.index, (performance.now() - t) * 1000, true);
    log.warn('websocket upstream refused or unreachable; answered 502', { route: route.name, upstream: group.name, error: why });
    ex.reject(R.websocket_upstream_failed);
  });
  if (!dialing) rejectNextTurn(ex, R.bad_header);
}
