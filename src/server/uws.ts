// The one place that knows which uWebSockets.js package we load. The official
// package is published only on GitHub; @btc-vision/uwebsockets.js republishes
// the same v20.57.0 binaries on the npm registry (patched for glibc 2.36 by
// scripts/patch-uws.mjs). Swap the import here to move to another build.
import type * as UWSTypes from '@btc-vision/uwebsockets.js';

export type HttpResponse = UWSTypes.HttpResponse;
export type HttpRequest = UWSTypes.HttpRequest;
export type TemplatedApp = UWSTypes.TemplatedApp;
export type ListenSocket = UWSTypes.us_listen_socket;
export type UwsModule = typeof UWSTypes;
export type WebSocket<UserData> = UWSTypes.WebSocket<UserData>;
export type WebSocketBehavior<UserData> = UWSTypes.WebSocketBehavior<UserData>;
/** The socket context res.upgrade() needs, from a ws() upgrade handler. */
export type SocketContext = UWSTypes.us_socket_context_t;

let loaded: UwsModule | null = null;

/**
 * Loads uWS once per thread. uWS reads UWS_HTTP_MAX_HEADERS_SIZE when the
 * native module initialises, so `server.limits.max_header_bytes` must be set
 * before the first load (it is fixed for the life of the process; a reload
 * cannot change it).
 */
export async function loadUws(maxHeaderBytes: number): Promise<UwsModule> {
  if (loaded) return loaded;
  if (!process.env.UWS_HTTP_MAX_HEADERS_SIZE) process.env.UWS_HTTP_MAX_HEADERS_SIZE = String(maxHeaderBytes);
  const mod = (await import('@btc-vision/uwebsockets.js')) as unknown as { default: UwsModule };
  loaded = mod.default;
  return loaded;
}

export function uws(): UwsModule {
  if (!loaded) throw new Error('uWS used before loadUws()');
  return loaded;
}

/**
 * PEM of the client certificate the TLS handshake verified against
 * `tls.client_ca`, or '' when the client sent none. uWS verifies the chain
 * itself (a certificate from another CA fails the handshake) but completes a
 * handshake without any certificate, so "required" is the gateway's to
 * enforce. The method exists in the pinned binary but not in its typings.
 * It builds a new string per call (native PEM encoding): call it once per
 * request, and only on listeners with client_ca.
 */
export function clientCertificate(res: HttpResponse): string {
  const pem = (res as unknown as { getX509Certificate(): string | ArrayBuffer | undefined }).getX509Certificate();
  return typeof pem === 'string' ? pem : '';
}

/** The certificate files of one TLS context, as uWS's SSLApp / addServerName take them. */
export interface TlsFiles {
  readonly cert_file_name: string;
  readonly key_file_name: string;
  readonly passphrase: string;
  readonly ca_file_name?: string;
}

/**
 * Serves `files` to clients asking for `serverName` (SNI; `*.example.org`
 * matches one label). uWS gives each server name its own router, so the
 * handler is attached under it too, then the default router is selected
 * again (domain() of an unknown name). Replacing a name's certificate removes
 * the old context first: uWS keeps one per name; open connections keep theirs.
 */
export function setServerName(
  app: TemplatedApp, serverName: string, files: TlsFiles, replace: boolean, handler: (res: HttpResponse, req: HttpRequest) => void,
  gets: readonly (readonly [string, (res: HttpResponse, req: HttpRequest) => void])[] = [],
  websocket?: WebSocketBehavior<never>,
): void {
  if (replace) app.removeServerName(serverName);
  app.addServerName(serverName, files);
  const d = app.domain(serverName);
  d.any('/*', handler);
  if (websocket !== undefined) d.ws('/*', websocket);
  for (const [pattern, h] of gets) d.get(pattern, h);
  app.domain('');
}

export function removeServerName(app: TemplatedApp, serverName: string): void {
  app.removeServerName(serverName);
}

/**
 * Ends a response that has no body. `length` is the Content-Length to report
 * (HEAD), or -1 for none (204, 304, HEAD of unknown length). This uWS build
 * writes `Content-Length: 9223372036854775808` when the length argument is
 * present but undefined, so "none" is the call without arguments; with
 * `close` there is no such call, and "none" becomes `Content-Length: 0`.
 */
export function endWithoutBody(res: HttpResponse, length: number, close: boolean): void {
  if (length >= 0) res.endWithoutBody(length, close);
  else if (close) res.endWithoutBody(0, true);
  else res.endWithoutBody();
}
