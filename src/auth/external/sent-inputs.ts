// What an external authenticator is sent, in one place: the call itself and
// the list of inputs its answer cache must key on by default. Both come from
// here so that an input sent to the service can never be left out of the
// default key (an identity the service gave because of the path, reused for
// another path: the class of issue 13, finding 4).
//
// The request to the service: POST url, JSON body
//   { method?, path?, query?, host?, ip?, headers: {NAME: value…} }
// (method…host when send.request, ip when send.ip) with the `send.headers`
// also copied as request headers and x-forwarded-method / -uri / -host (when
// send.request) / -for (when send.ip) set.
import type { RequestView } from '../../contracts.js';
import type { ExternalAuthnConfig } from '../../config/schema.js';
import type { CalloutRequest } from '../../workers/callout.js';
import { sentInputs as sentList } from '../../workers/key-rule.js';
import { serviceRequestHeaders } from '../../workers/service-call.js';
import { NOT_SENT } from '../../workers/service-headers.js';

const MAX_ANSWER = 64 * 1024;

/** The `send.headers` actually sent: lower-case, connection headers left out, each once. */
export function sentHeaderNames(cfg: ExternalAuthnConfig): string[] {
  return [...new Set(cfg.send.headers.map((h) => h.toLowerCase()).filter((h) => !NOT_SENT.has(h)))];
}

/** Every input the service is sent, spelled as a cache key part. */
export function sentInputs(cfg: ExternalAuthnConfig): string[] {
  return sentList({ request: cfg.send.request, ip: cfg.send.ip, identity: false, headers: sentHeaderNames(cfg) });
}

/**
 * Builds the call for one request from the sent header values read already
 * (`values[i]` for `sentHeaderNames(cfg)[i]`; the miss path: allocation is fine here).
 */
export function compileCall(cfg: ExternalAuthnConfig): (view: RequestView, values: readonly string[]) => CalloutRequest {
  const names = sentHeaderNames(cfg);
  const what = Object.freeze({ request: cfg.send.request, ip: cfg.send.ip });
  const url = cfg.url;
  return (view, values) => {
    const sent: Record<string, string> = {};
    const headers = serviceRequestHeaders(view, names, values, sent, what);
    const body: Record<string, unknown> = {};
    if (what.request) {
      body.method = view.method;
      body.path = view.path;
      body.query = view.query;
      body.host = view.host;
    }
    if (what.ip) body.ip = view.clientIp;
    body.headers = sent;
    return { url, method: 'POST', headers, body: JSON.stringify(body), maxBody: MAX_ANSWER };
  };
}
