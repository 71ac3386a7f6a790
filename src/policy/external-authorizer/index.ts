// An external authorization service (`authorizers.NAME`), compiled into an
// ExternalAuthorizer. A cached decision is answered synchronously; a miss
// asks the service through the worker pool, one call per cache key at a
// time, with the configured deadline. A service that cannot answer is
// failure_mode (deny by default: 503, never forwarded); a full pool queue is
// always 503.
// What the service is sent: sent-inputs.ts; the cache key: key-rule.ts (the
// rule) and src/workers/request-key.ts (the compiled key); the
// upstream headers it may set: allowed_upstream_headers (service-headers.ts).
import type { AuthzDecision, ExternalAuthorizer, RequestTrace, RequestView } from '../../contracts.js';
import { AUTHZ_RESPOND } from '../../contracts.js';
import type { CompileContext } from '../../config/load.js';
import type { AuthorizerConfig } from '../../config/schema.js';
import { R, REASON_BODY } from '../../reasons.js';
import type { CalloutRequest } from '../../workers/callout.js';
import type { WorkerPool } from '../../workers/pool.js';
import { ServiceCall, UnsafeServiceValue } from '../../workers/service-call.js';
import { DeclaredHeaders } from '../../workers/service-headers.js';
import { compileKey, type CompiledKey } from '../../workers/request-key.js';
import { DecisionCache } from './decision-cache.js';
import { decide, FORWARD_PLAIN } from './answer.js';
import { keyParts } from './key-rule.js';
import { compileCall } from './sent-inputs.js';

const JSON_HEADERS = Object.freeze(['content-type', 'application/json', 'cache-control', 'no-store']);

function failure(reason: number, extra: readonly string[] = [], status = 503): AuthzDecision {
  return Object.freeze({
    action: AUTHZ_RESPOND,
    headers: Object.freeze([]),
    upstream: -1,
    response: Object.freeze({ status, headers: Object.freeze([...JSON_HEADERS, ...extra]), body: REASON_BODY[reason]! }),
    reason,
  });
}
const UNAVAILABLE = failure(R.authz_unavailable);
/** A client value the call cannot carry: the client's error (400), never the service's failure. */
const UNSAFE = failure(R.unsafe_header_value, [], 400);
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
  const keyIssue = (i: number, msg: string) => ctx.issue(`${at}.cache.key[${i}]`, msg);
  // A configured key's part names are checked even without a cache; what it must cover only with one.
  const configured = cfg.cache.key !== undefined ? compileKey(cfg.cache.key, keyIssue) : null;
  const names = cfg.cache.ttl > 0 && cfg.cache.max_entries > 0 ? keyParts(cfg, (p, msg) => ctx.issue(`${at}.${p}`, msg)) : null;
  const key: CompiledKey | null = names === null ? null : cfg.cache.key !== undefined ? configured : compileKey(names, keyIssue);
  const cache = key !== null ? new DecisionCache(cfg.cache.max_entries) : null;
  /** This request's key parts, reused (the hot path builds no key string). */
  const parts: string[] = new Array<string>(key?.size ?? 0).fill('');
  const ttl = cfg.cache.ttl;
  const request = compileCall(cfg, routeNames);
  const declared = new DeclaredHeaders(cfg.allowed_upstream_headers, `${at}.allowed_upstream_headers`, { authorizer: name });
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

  interface Slot {
    readonly hash: number;
    readonly route: number;
    readonly parts: readonly string[];
  }

  async function ask(req: CalloutRequest, slot: Slot | null, identityUntil: number, trace: RequestTrace | null): Promise<AuthzDecision> {
    const a = await service.call(req, trace);
    if (!a.ok) return service.noAnswer(a);
    const d = decide(a, upstreamIndex, declared);
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
      let req: CalloutRequest;
      try {
        req = request(view);
      } catch (e) {
        if (e instanceof UnsafeServiceValue) return UNSAFE;
        throw e;
      }
      return service.start(ask(req, slot, until, view.trace ?? null), slot !== null ? flightKey : null);
    },
    close() {
      cache?.clear();
    },
  };
}
