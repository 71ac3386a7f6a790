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
  const listed = cfg.allow_origins !== undefined ? compileOriginTest(cfg.allow_origins, `${at}.allow_origins`, ctx) : null;
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

/** The Origin's host[:port] equals the Host header (case-insensitive), whatever the scheme. */
function sameHost(origin: string, host: string): boolean {
  const i = origin.indexOf('://');
  if (i < 0 || host === '') return false;
  return origin.slice(i + 3).toLowerCase() === host.toLowerCase();
}
