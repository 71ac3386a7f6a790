// External authentication (`type: external`): a bespoke service decides who
// the caller is. The gateway POSTs the `send.headers` (copied as headers and
// in a JSON body with method, path, query, host and client IP) on the worker
// pool. Its answer: 200 JSON `{ consumer | sub, claims?, headers? }` → the
// identity (`headers` go upstream beside forward_claims, the names declared in
// allowed_upstream_headers only); 401/403 → refused;
// anything else, a timeout or no connection → failure_mode: deny → 503
// (authn_unavailable), allow → no credential here (the next authenticator may
// accept, else 401) — never forwarded unauthenticated.
// Answers are cached for `cache.ttl` (refusals at most 5 s) by the SHA-256 of
// the sent header values; concurrent requests with the same values make one call.
import { sha256url } from '../../workers/digest.js';
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, type AuthResult, type Authenticator, type Identity, type RequestView } from '../../contracts.js';
import type { CompileContext } from '../../config/load.js';
import type { ExternalAuthnConfig } from '../../config/schema.js';
import { R } from '../../reasons.js';
import { makeIdentity } from '../identity.js';
import { parseJsonObject } from '../json-object.js';
import { ABSENT, challenges, REJECTED, Refused } from '../slow-results.js';
import { ExpiringCache } from '../../workers/expiring-cache.js';
import type { CalloutRequest } from '../../workers/callout.js';
import type { WorkerPool } from '../../workers/pool.js';
import { ServiceCall, serviceRequestHeaders } from '../../workers/service-call.js';
import { DeclaredHeaders, NOT_SENT, serviceHeaders } from '../../workers/service-headers.js';

const CACHE_ENTRIES = 100_000;
const MAX_NEGATIVE_MS = 5_000;

interface Accepted {
  readonly consumer: string;
  readonly claims: Record<string, unknown>;
  readonly headers: string[];
}

function readAnswer(body: string, declared: DeclaredHeaders): Accepted | null {
  const o = parseJsonObject(body);
  if (o === null) return null;
  const consumer = typeof o.consumer === 'string' && o.consumer !== '' ? o.consumer : typeof o.sub === 'string' && o.sub !== '' ? o.sub : undefined;
  if (consumer === undefined) return null;
  if (o.claims !== undefined && (o.claims === null || typeof o.claims !== 'object' || Array.isArray(o.claims))) return null;
  const headers = serviceHeaders(o.headers, declared);
  if (headers === null) return null;
  const claims: Record<string, unknown> = { ...((o.claims as Record<string, unknown> | undefined) ?? {}) };
  if (claims.sub === undefined) claims.sub = consumer;
  return { consumer, claims, headers };
}

export function compileExternalAuthn(
  name: string,
  cfg: ExternalAuthnConfig,
  at: string,
  ctx: CompileContext,
  pool: WorkerPool,
): Authenticator & { readonly stats: { calls: number; hits: number; failures: number }; hasCredential(view: RequestView): boolean } {
  // A slow authenticator/authorizer exists: start the pool now, not inside the first request's deadline.
  void pool.start();
  const send = cfg.send.headers.map((h) => h.toLowerCase());
  send.forEach((h, i) => {
    if (NOT_SENT.has(h)) ctx.issue(`${at}.send.headers[${i}]`, `"${h}" is a connection header and is never sent; remove it`);
  });
  const sendable = send.filter((h) => !NOT_SENT.has(h));
  if (sendable.length === 0) ctx.issue(`${at}.send.headers`, 'name at least one request header that carries the credential, e.g. [authorization]');
  const values: string[] = new Array<string>(sendable.length).fill('');
  const declared = new DeclaredHeaders(cfg.allowed_upstream_headers, `${at}.allowed_upstream_headers`, { authenticator: name });
  const cache = new ExpiringCache<Identity | Refused>(cfg.cache.ttl > 0 ? CACHE_ENTRIES : 0);
  const { challenge, byReason } = challenges(sendable.includes('authorization') ? 'Bearer' : 'Portcullis', name);
  const stats = { calls: 0, hits: 0, failures: 0 };
  const service = new ServiceCall<AuthResult>({
    pool,
    timeoutMs: cfg.timeout,
    service: 'external authentication service',
    step: 'external authentication',
    logFields: { authenticator: name, url: cfg.url },
    failureMode: cfg.failure_mode,
    onFailure: cfg.failure_mode === 'allow' ? ABSENT : REJECTED[R.authn_unavailable]!,
    onOverloaded: REJECTED[R.overloaded]!,
    stats,
  });

  async function ask(req: CalloutRequest, key: string): Promise<AuthResult> {
    const a = await service.call(req);
    if (!a.ok) return service.noAnswer(a);
    const now = Date.now();
    if (a.status === 401 || a.status === 403) {
      cache.set(key, new Refused(R.authn_denied), now + Math.min(cfg.cache.ttl, MAX_NEGATIVE_MS));
      return REJECTED[R.authn_denied]!;
    }
    const ok = a.status === 200 ? readAnswer(a.body, declared) : null;
    if (ok === null) return service.unreadable(a.status);
    const exp = ok.claims.exp;
    const expiresAt = typeof exp === 'number' ? exp * 1000 : Infinity;
    if (expiresAt <= now) return REJECTED[R.token_expired]!;
    let id = makeIdentity(name, ok.consumer, ok.claims, cfg.forward_claims, expiresAt);
    if (ok.headers.length > 0) id = Object.freeze({ ...id, forwardHeaders: Object.freeze([...id.forwardHeaders, ...ok.headers]) });
    cache.set(key, id, Math.min(now + cfg.cache.ttl, expiresAt));
    return { outcome: AUTH_OK, identity: id, reason: R.ok };
  }

  return {
    name,
    challenge,
    stats,
    authenticate(view: RequestView): number | Promise<AuthResult> {
      let any = false;
      for (let i = 0; i < sendable.length; i++) {
        const v = view.header(sendable[i]!);
        values[i] = v;
        if (v !== '') any = true;
      }
      if (!any) return AUTH_ABSENT;
      const key = sha256url(JSON.stringify(values));
      const hit = cache.get(key, Date.now());
      if (hit !== undefined) {
        stats.hits++;
        if (hit instanceof Refused) {
          view.reason = hit.reason;
          return AUTH_REJECT;
        }
        view.identity = hit;
        return AUTH_OK;
      }
      const pending = service.pending(key);
      if (pending !== undefined) return pending;
      const sent: Record<string, string> = {};
      const headers = serviceRequestHeaders(view, sendable, values, sent);
      const body = JSON.stringify({ method: view.method, path: view.path, query: view.query, host: view.host, ip: view.clientIp, headers: sent });
      return service.start(ask({ url: cfg.url, method: 'POST', headers, body, maxBody: 64 * 1024 }, key), key);
    },
    challengeFor(reason: number): string {
      return byReason[reason] ?? challenge;
    },
    hasCredential(view: RequestView): boolean {
      for (let i = 0; i < sendable.length; i++) if (view.header(sendable[i]!) !== '') return true;
      return false;
    },
    close() {
      cache.clear();
    },
  };
}
