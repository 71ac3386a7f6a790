// An external authorization service (`authorizers.NAME`), compiled into an
// ExternalAuthorizer. A cached decision is answered synchronously; a miss
// asks the service through the worker pool, one call per cache key at a
// time, with the configured deadline. A service that cannot answer is
// failure_mode (deny by default: 503, never forwarded); a full pool queue is
// always 503.
//
// The request to the service: POST url, JSON body
//   { route, method, path, query, host, ip, headers: {NAME: value…}, identity: {authenticator, consumer, claims} | null }
// with the `send.headers` also copied as request headers and
// x-forwarded-method / -uri / -host / -for set.
import type { AuthzDecision, ExternalAuthorizer, RequestView } from '../../contracts.js';
import { AUTHZ_RESPOND } from '../../contracts.js';
import type { CompileContext } from '../../config/load.js';
import type { AuthorizerConfig } from '../../config/schema.js';
import { R, REASON_BODY } from '../../reasons.js';
import type { CalloutRequest } from '../../workers/callout.js';
import type { WorkerPool } from '../../workers/pool.js';
import { ServiceCall, serviceRequestHeaders } from '../../workers/service-call.js';
import { NOT_SENT } from '../../workers/service-headers.js';
import { compileKey } from './cache-key.js';
import { DecisionCache } from './decision-cache.js';
import { decide, FORWARD_PLAIN } from './answer.js';

const MAX_ANSWER = 64 * 1024;
const JSON_HEADERS = Object.freeze(['content-type', 'application/json', 'cache-control', 'no-store']);

function failure(reason: number, extra: readonly string[] = []): AuthzDecision {
  return Object.freeze({
    action: AUTHZ_RESPOND,
    headers: Object.freeze([]),
    upstream: -1,
    response: Object.freeze({ status: 503, headers: Object.freeze([...JSON_HEADERS, ...extra]), body: REASON_BODY[reason]! }),
    reason,
  });
}
const UNAVAILABLE = failure(R.authz_unavailable);
const OVERLOADED = failure(R.overloaded, ['retry-after', '1']);

export interface AuthorizerStats {
  hits: number;
  misses: number;
  calls: number;
  failures: number;
}

export function compileAuthorizer(
  name: string,
  cfg: AuthorizerConfig,
  at: string,
  ctx: CompileContext,
  pool: WorkerPool,
  upstreamIndex: ReadonlyMap<string, number>,
  routeNames: readonly string[] = ctx.plan.config.routes.map((r) => r.name),
): ExternalAuthorizer & { readonly stats: AuthorizerStats } {
  // A slow authenticator/authorizer exists: start the pool now, not inside the first request's deadline.
  void pool.start();
  const key = compileKey(cfg.cache.key, (i, msg) => ctx.issue(`${at}.cache.key[${i}]`, msg));
  const cache = cfg.cache.ttl > 0 && key !== null && cfg.cache.max_entries > 0 ? new DecisionCache(cfg.cache.max_entries) : null;
  /** This request's key parts, reused (the hot path builds no key string). */
  const parts: string[] = new Array<string>(key?.size ?? 0).fill('');
  const ttl = cfg.cache.ttl;
  const sendHeaders = cfg.send.headers.map((h) => h.toLowerCase()).filter((h) => !NOT_SENT.has(h));
  const stats: AuthorizerStats = { hits: 0, misses: 0, calls: 0, failures: 0 };
  const service = new ServiceCall<AuthzDecision>({
    pool,
    timeoutMs: cfg.timeout,
    service: 'external authorizer',
    step: 'external authorizer',
    logFields: { authorizer: name, url: cfg.url },
    failureMode: cfg.failure_mode,
    onFailure: cfg.failure_mode === 'allow' ? FORWARD_PLAIN : UNAVAILABLE,
    onOverloaded: OVERLOADED,
    stats,
  });

  function request(view: RequestView): CalloutRequest {
    const sent: Record<string, string> = {};
    const headers = serviceRequestHeaders(view, sendHeaders, sendHeaders.map((h) => view.header(h)), sent);
    const id = view.identity;
    const body = JSON.stringify({
      route: routeNames[view.routeIndex] ?? String(view.routeIndex),
      method: view.method,
      path: view.path,
      query: view.query,
      host: view.host,
      ip: view.clientIp,
      headers: sent,
      identity: cfg.send.identity && id !== null ? { authenticator: id.authenticator, consumer: id.consumer, claims: id.claims } : null,
    });
    return { url: cfg.url, method: 'POST', headers, body, maxBody: MAX_ANSWER };
  }

  interface Slot {
    readonly hash: number;
    readonly route: number;
    readonly parts: readonly string[];
  }

  async function ask(req: CalloutRequest, slot: Slot | null, identityUntil: number): Promise<AuthzDecision> {
    const a = await service.call(req);
    if (!a.ok) return service.noAnswer(a);
    const d = decide(a, upstreamIndex);
    if (d === null) return service.unreadable(a.status);
    // A service's 5xx is passed on but not remembered: it says nothing about the request.
    if (slot !== null && cache !== null && a.status < 500) cache.set(slot.hash, slot.route, slot.parts, d, Math.min(Date.now() + ttl, identityUntil));
    return d;
  }

  return {
    name,
    stats,
    authorize(view: RequestView): AuthzDecision | Promise<AuthzDecision> {
      let slot: Slot | null = null;
      let flightKey = '';
      if (cache !== null) {
        const hash = key!.fill(view, parts);
        const hit = cache.get(hash, view.routeIndex, parts);
        if (hit !== undefined) {
          stats.hits++;
          return hit;
        }
        // Miss: from here on allocation is fine. JSON keeps the single-flight key unambiguous.
        flightKey = JSON.stringify([view.routeIndex, parts]);
        const pending = service.pending(flightKey);
        if (pending !== undefined) return pending;
        slot = { hash, route: view.routeIndex, parts: parts.slice() };
      }
      stats.misses++;
      const id = view.identity;
      const until = key !== null && key.usesIdentity && id !== null ? id.expiresAt : Infinity;
      return service.start(ask(request(view), slot, until), slot !== null ? flightKey : null);
    },
    close() {
      cache?.clear();
    },
  };
}
