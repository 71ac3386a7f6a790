// uWS's own connection timers, set from server.limits. uWS closes a
// connection by itself on two per-app timers (measured on the build we load,
// docs/operations.md "Connection timeouts"):
//   - "idle" (HTTP_IDLE_TIMEOUT_S in uWS's source): from accept until the
//     first request head is complete — the head deadline, slowloris
//     (server.limits.header_timeout). uWS also runs it while it delivers a
//     request body: a body slower than 16 KiB/s per period is cut;
//   - "response" (HTTP_TIMEOUT_S): armed when a response ends and cleared
//     by the next complete request head — the keep-alive idle limit
//     (server.limits.keepalive_timeout); a later request's head on a
//     kept-alive connection must arrive within it. (It did not cut a client
//     that stopped reading a large response: 40 s observed.)
// While a request is being handled neither runs: the gateway's sweep bounds
// that (request_timeout, idle_timeout). Official uWS.js compiles both at
// 10 s; the @btc-vision build defaults both to 30 s (every idle or half-sent
// connection was cut at 27–32 s) and lets an app set them, in whole seconds,
// on uSockets' 4 s tick: a cut comes within the 4 s before the value rounded
// up to a multiple of 4 s (10 s → 8–12 s, 60 s → 56–60 s).
import { log } from '../observe/log.js';
import type { TemplatedApp } from './uws.js';

/** The setters @btc-vision/uwebsockets.js adds to an app (not in its index.d.ts). */
interface AppTimers {
  setIdleTimeout(seconds: number): unknown;
  setResponseTimeout(seconds: number): unknown;
  getIdleTimeout(): number;
  getResponseTimeout(): number;
}

function hasTimers(app: TemplatedApp): app is TemplatedApp & AppTimers {
  const a = app as unknown as Partial<AppTimers>;
  return typeof a.setIdleTimeout === 'function' && typeof a.setResponseTimeout === 'function'
    && typeof a.getIdleTimeout === 'function' && typeof a.getResponseTimeout === 'function';
}

export interface SocketTimerLimits {
  /** ms */
  readonly header_timeout: number;
  /** ms */
  readonly keepalive_timeout: number;
}

let warned = false;

/**
 * Sets the app's head deadline and keep-alive idle limit. Applies to timers
 * armed from now on (a reload changes them for the next state change of each
 * connection). False when this uWS build has fixed timers: then both stay
 * what it was compiled with, and a warning says so once.
 */
export function applySocketTimers(app: TemplatedApp, limits: SocketTimerLimits): boolean {
  if (!hasTimers(app)) {
    if (!warned) {
      warned = true;
      log.warn('this uWebSockets.js build has fixed HTTP timeouts: server.limits.header_timeout and keepalive_timeout are not applied (uWS closes idle and half-sent connections after its compiled-in timeout)', {});
    }
    return false;
  }
  // Whole seconds, never below what was asked (uWS truncates).
  app.setIdleTimeout(Math.ceil(limits.header_timeout / 1000));
  app.setResponseTimeout(Math.ceil(limits.keepalive_timeout / 1000));
  return app.getIdleTimeout() === Math.ceil(limits.header_timeout / 1000);
}
