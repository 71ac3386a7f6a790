// routes[].websocket compiled at load: the Origin test and the limits a relay applies.
import type { CompileContext } from '../config/load.js';
import type { WebSocketConfig } from '../config/schema.js';
import { compileOriginTest } from '../policy/cors.js';

export interface WebSocketRoute {
  /** Origin allowed for this request ('' = no Origin header: not a browser, allowed). */
  originAllowed(origin: string, host: string): boolean;
  readonly maxMessage: number;
  readonly idleMs: number;
  readonly closeOnExpiry: boolean;
}

export function compileWebSocketRoute(cfg: WebSocketConfig, at: string, ctx: CompileContext): WebSocketRoute {
  const listed = cfg.allow_origins !== undefined ? compileOriginTest(cfg.allow_origins, at, ctx) : null;
  if (cfg.max_message < 1) ctx.issue(`${at}.max_message`, 'must be at least 1B; write e.g. 64KiB');
  if (cfg.idle_timeout < 1000) ctx.issue(`${at}.idle_timeout`, 'must be at least 1s (sockets are checked once a second); write e.g. 60s');
  return {
    // Browsers always send Origin on a WebSocket handshake; a client without one
    // holds no victim's cookies, so cross-site hijacking needs no check there.
    // Without allow_origins only the gateway's own origin passes (Gorilla's default).
    originAllowed: listed !== null
      ? (origin) => origin === '' || listed(origin)
      : (origin, host) => origin === '' || sameHost(origin, host),
    maxMessage: cfg.max_message,
    idleMs: cfg.idle_timeout,
    closeOnExpiry: cfg.close_on_expiry,
  };
}

/** The Origin's host[:port] equals the Host header (ASCII case-insensitive), whatever the scheme; compared in place. */
function sameHost(origin: string, host: string): boolean {
  const i = origin.indexOf('://');
  if (i < 0 || host === '') return false;
  const from = i + 3;
  if (origin.length - from !== host.length) return false;
  for (let j = 0; j < host.length; j++) {
    let a = origin.charCodeAt(from + j);
    let b = host.charCodeAt(j);
    if (a >= 65 && a <= 90) a += 32;
    if (b >= 65 && b <= 90) b += 32;
    if (a !== b) return false;
  }
  return true;
}
