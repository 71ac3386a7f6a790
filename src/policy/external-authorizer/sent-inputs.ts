// What an external authorizer is sent, in one place: the call itself and the
// list of inputs the decision cache must key on by default. Both come from
// here so that a new input sent to the service can never be left out of the
// default key (an allow for /public reused for /secret: issue 13, finding 4).
//
// The request to the service: POST url, JSON body
//   { route, method, path, query, host, ip?, headers: {NAME: value…}, identity: {authenticator, consumer, claims} | null }
// with the `send.headers` also copied as request headers and
// x-forwarded-method / -uri / -host (/ -for when send.ip) set.
import type { RequestView } from '../../contracts.js';
import type { AuthorizerConfig } from '../../config/schema.js';
import type { CalloutRequest } from '../../workers/callout.js';
import { sentInputs as sentList } from '../../workers/key-rule.js';
import { serviceRequestHeaders } from '../../workers/service-call.js';
import { NOT_SENT } from '../../workers/service-headers.js';

const MAX_ANSWER = 64 * 1024;

/** The `send.headers` actually sent: lower-case, connection headers left out, each once. */
export function sentHeaderNames(cfg: AuthorizerConfig): string[] {
  return [...new Set(cfg.send.headers.map((h) => h.toLowerCase()).filter((h) => !NOT_SENT.has(h)))];
}

/**
 * Every input the service is sent, spelled as a cache key part. The route is
 * sent too but is always part of the key, so it is not listed.
 */
export function sentInputs(cfg: AuthorizerConfig): string[] {
  return sentList({ request: true, ip: cfg.send.ip, identity: cfg.send.identity, headers: sentHeaderNames(cfg) });
}

/** Builds the call for one request (the miss path: allocation is fine here). */
export function compileCall(cfg: AuthorizerConfig, routeNames: readonly string[]): (view: RequestView) => CalloutRequest {
  const names = sentHeaderNames(cfg);
  const sendIp = cfg.send.ip;
  const sendIdentity = cfg.send.identity;
  /** The request line always goes; the client address per send.ip. */
  const what = Object.freeze({ request: true, ip: sendIp });
  return (view) => {
    const sent: Record<string, string> = {};
    const headers = serviceRequestHeaders(view, names, names.map((h) => view.header(h)), sent, what);
    const id = view.identity;
    const body = JSON.stringify({
      route: routeNames[view.routeIndex] ?? String(view.routeIndex),
      method: view.method,
      path: view.path,
      query: view.query,
      host: view.host,
      ...(sendIp ? { ip: view.clientIp } : {}),
      headers: sent,
      identity: sendIdentity && id !== null ? { authenticator: id.authenticator, consumer: id.consumer, claims: id.claims } : null,
    });
    return { url: cfg.url, method: 'POST', headers, body, maxBody: MAX_ANSWER };
  };
}
