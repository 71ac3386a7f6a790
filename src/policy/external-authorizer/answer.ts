// What an external authorization service's answer means for the request.
// Anything the gateway cannot read with certainty is `null` (garbage): the
// caller then applies failure_mode, never a guess.
import { AUTHZ_DROP, AUTHZ_FORWARD, AUTHZ_RESPOND, type AuthzDecision } from '../../contracts.js';
import { R } from '../../reasons.js';
import { safeHeaderValue } from '../../auth/identity.js';
import { parseJsonObject } from '../../lib/json-object.js';
import type { CalloutAnswer } from '../../workers/callout.js';
import { serviceHeaders, type DeclaredHeaders } from '../../workers/service-headers.js';

/** Answer headers passed on to the client with a service's own answer. */
const PASS = ['content-type', 'www-authenticate', 'retry-after', 'cache-control'];

export const DROP: AuthzDecision = Object.freeze({ action: AUTHZ_DROP, headers: [], upstream: -1, response: null, reason: R.authz_dropped });
export const FORWARD_PLAIN: AuthzDecision = Object.freeze({ action: AUTHZ_FORWARD, headers: Object.freeze([]), upstream: -1, response: null, reason: R.ok });

/** Service answer → decision (upstream headers: the declared ones only); null when the answer is garbage. */
export function decide(a: CalloutAnswer & { ok: true }, upstreamIndex: ReadonlyMap<string, number>, declared: DeclaredHeaders): AuthzDecision | null {
  const ctype = a.headers['content-type'] ?? '';
  const isJson = /\bjson\b/i.test(ctype);
  let obj: Record<string, unknown> | null = null;
  if (isJson || (a.body.length > 0 && a.body.charCodeAt(0) === 0x7b /* { */)) {
    obj = parseJsonObject(a.body);
    if (obj === null && isJson) return null;
  }
  if (obj !== null && obj.action !== undefined) {
    if (obj.action === 'drop') return DROP;
    if (obj.action !== 'allow' && obj.action !== 'deny') return null;
  }
  const s = a.status;
  if (s >= 200 && s < 300) {
    if (obj === null) return FORWARD_PLAIN;
    const headers = serviceHeaders(obj.headers, declared);
    if (headers === null) return null;
    let upstream = -1;
    if (obj.upstream !== undefined) {
      if (typeof obj.upstream !== 'string') return null;
      const u = upstreamIndex.get(obj.upstream);
      if (u === undefined) return null;
      upstream = u;
    }
    if (headers.length === 0 && upstream === -1) return FORWARD_PLAIN;
    return Object.freeze({ action: AUTHZ_FORWARD, headers: Object.freeze(headers), upstream, response: null, reason: R.ok });
  }
  if (s >= 300 && s < 400) {
    const loc = a.headers['location'];
    if (loc === undefined || loc === '' || !safeHeaderValue(loc)) return null;
    return Object.freeze({
      action: AUTHZ_RESPOND,
      headers: Object.freeze([]),
      upstream: -1,
      response: Object.freeze({ status: s, headers: Object.freeze(['location', loc, 'cache-control', 'no-store']), body: '' }),
      reason: R.authz_redirect,
    });
  }
  if (s >= 400 && s < 600) {
    const out: string[] = [];
    for (const h of PASS) {
      const v = a.headers[h];
      if (v !== undefined && safeHeaderValue(v)) out.push(h, v);
    }
    return Object.freeze({
      action: AUTHZ_RESPOND,
      headers: Object.freeze([]),
      upstream: -1,
      response: Object.freeze({ status: s, headers: Object.freeze(out), body: a.body }),
      reason: R.authz_denied,
    });
  }
  return null;
}
