// OAuth2 token introspection (RFC 7662) as an Authenticator. Opaque bearer
// tokens are POSTed to the endpoint (client_secret_basic) on the worker pool;
// active answers are cached until min(cache_ttl, exp), refusals for
// negative_cache_ttl, keyed by the token's SHA-256 (one cache per
// authenticator, i.e. per endpoint), and concurrent requests for one token
// make one call. An endpoint that cannot answer: failure_mode deny → 503
// (authn_unavailable), allow → treated as no credential (the next
// authenticator may accept, else 401); the request is never forwarded on it.
import { sha256url } from '../../workers/digest.js';
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, type AuthResult, type Authenticator, type Identity, type RequestTrace, type RequestView } from '../../contracts.js';
import type { CompileContext } from '../../config/load.js';
import type { IntrospectionConfig } from '../../config/schema.js';
import { R } from '../../reasons.js';
import { compileTokenSource } from '../extract.js';
import { makeIdentity } from '../identity.js';
import { ABSENT, applyCached, challenges, REJECTED, Refused } from '../slow-results.js';
import { ExpiringCache } from '../../workers/expiring-cache.js';
import type { CalloutRequest } from '../../workers/callout.js';
import type { WorkerPool } from '../../workers/pool.js';
import { ServiceCall } from '../../workers/service-call.js';
import { readIntrospection } from './answer.js';

const CACHE_ENTRIES = 100_000;

export interface IntrospectionStats {
  hits: number;
  calls: number;
  failures: number;
}

export function compileIntrospection(
  name: string,
  cfg: IntrospectionConfig,
  at: string,
  ctx: CompileContext,
  pool: WorkerPool,
): Authenticator & { readonly stats: IntrospectionStats; readonly queryCredential: string; hasCredential(view: RequestView): boolean } {
  // A slow authenticator/authorizer exists: start the pool now, not inside the first request's deadline.
  void pool.start();
  const secret = ctx.secret(cfg, 'client_secret', at, false);
  const extractor = compileTokenSource(cfg.from);
  const maxTokenBytes = ctx.plan.config.server.limits.max_token_bytes;
  const cache = new ExpiringCache<Identity | Refused>(CACHE_ENTRIES);
  const { challenge, byReason } = challenges('Bearer', name);
  const stats: IntrospectionStats = { hits: 0, calls: 0, failures: 0 };
  const service = new ServiceCall<AuthResult>({
    pool,
    timeoutMs: cfg.timeout,
    service: 'introspection endpoint',
    step: 'introspection',
    logFields: { authenticator: name, endpoint: cfg.endpoint },
    failureMode: cfg.failure_mode,
    onFailure: cfg.failure_mode === 'allow' ? ABSENT : REJECTED[R.authn_unavailable]!,
    onOverloaded: REJECTED[R.overloaded]!,
    stats,
  });
  // RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding.
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (secret !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(cfg.client_id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  }
  const bodyPrefix = secret === undefined ? `client_id=${encodeURIComponent(cfg.client_id)}&token_type_hint=access_token&token=` : 'token_type_hint=access_token&token=';

  async function introspect(token: string, key: string, trace: RequestTrace | null): Promise<AuthResult> {
    const req: CalloutRequest = { url: cfg.endpoint, method: 'POST', headers, body: bodyPrefix + encodeURIComponent(token), maxBody: 64 * 1024 };
    const a = await service.call(req, trace);
    if (!a.ok) return service.noAnswer(a);
    const now = Date.now();
    const r = a.status === 200 ? readIntrospection(a.body, now) : null;
    if (r === null) return service.unreadable(a.status, a.status === 401 ? 'check client_id / client_secret of this authenticator' : undefined);
    if (!r.active) {
      if (r.remember) cache.set(key, new Refused(r.reason), now + cfg.negative_cache_ttl);
      return REJECTED[r.reason]!;
    }
    const id = makeIdentity(name, r.consumer, r.claims, cfg.forward_claims, r.expMs);
    cache.set(key, id, Math.min(now + cfg.cache_ttl, r.expMs));
    return { outcome: AUTH_OK, identity: id, reason: R.ok };
  }

  return {
    name,
    challenge,
    stats,
    queryCredential: extractor.queryName,
    authenticate(view: RequestView): number | Promise<AuthResult> {
      const token = extractor.extract(view);
      if (token === undefined) return AUTH_ABSENT;
      if (token === '') {
        view.reason = R.token_malformed;
        return AUTH_REJECT;
      }
      if (token.length > maxTokenBytes) {
        view.reason = R.token_too_large;
        return AUTH_REJECT;
      }
      const key = sha256url(token);
      const hit = cache.get(key, Date.now());
      if (hit !== undefined) {
        stats.hits++;
        return applyCached(view, hit);
      }
      const pending = service.pending(key);
      if (pending !== undefined) return pending;
      return service.start(introspect(token, key, view.trace ?? null), key);
    },
    challengeFor(reason: number): string {
      return byReason[reason] ?? challenge;
    },
    hasCredential(view: RequestView): boolean {
      return extractor.extract(view) !== undefined;
    },
    close() {
      cache.clear();
    },
  };
}
