// External authentication (`type: external`): a bespoke service decides who
// the caller is. The gateway POSTs the `send.headers` (copied as headers and
// in a JSON body with method, path, query, host and client IP) on the worker
// pool. Its answer: 200 JSON `{ consumer | sub, claims?, headers? }` → the
// identity (`headers` go upstream beside forward_claims, the names declared in
// allowed_upstream_headers only); 401/403 → refused;
// anything else, a timeout or no connection → failure_mode: deny → 503
// (authn_unavailable), allow → no credential here (the next authenticator may
// accept, else 401) — never forwarded unauthenticated.
// Answers are cached for `cache.ttl` (refusals at most 5 s), keyed on every
// input the service is sent (sent-inputs.ts) minus `cache.unkeyed`, by the
// shared rule of src/workers/key-rule.ts: an identity the service gave
// because of the path, query, host or client address is never reused for
// another. Concurrent requests with the same key make one call.
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, type AuthResult, type Authenticator, type Identity, type RequestTrace, type RequestView } from '../../contracts.js';
import type { CompileContext } from '../../config/load.js';
import type { ExternalAuthnConfig } from '../../config/schema.js';
import { R } from '../../reasons.js';
import { makeIdentity } from '../identity.js';
import { parseJsonObject } from '../../lib/json-object.js';
import { ABSENT, applyCached, challenges, REJECTED, Refused } from '../slow-results.js';
import type { CalloutRequest } from '../../workers/callout.js';
import { keyParts } from '../../workers/key-rule.js';
import { PartsCache } from '../../workers/parts-cache.js';
import type { WorkerPool } from '../../workers/pool.js';
import { compileKey } from '../../workers/request-key.js';
import { ServiceCall, UnsafeServiceValue } from '../../workers/service-call.js';
import { DeclaredHeaders, NOT_SENT, serviceHeaders } from '../../workers/service-headers.js';
import { compileCall, sentHeaderNames, sentInputs } from './sent-inputs.js';

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
  cfg.send.headers.forEach((h, i) => {
    if (NOT_SENT.has(h.toLowerCase())) ctx.issue(`${at}.send.headers[${i}]`, `"${h}" is a connection header and is never sent; remove it`);
  });
  const sendable = sentHeaderNames(cfg);
  if (sendable.length === 0) ctx.issue(`${at}.send.headers`, 'name at least one request header that carries the credential, e.g. [authorization]');
  const values: string[] = new Array<string>(sendable.length).fill('');
  const declared = new DeclaredHeaders(cfg.allowed_upstream_headers, `${at}.allowed_upstream_headers`, { authenticator: name });
  const caching = cfg.cache.ttl > 0;
  // The key of the cache and of the single flight: everything sent, minus
  // cache.unkeyed (which only means something with a cache, as for authorizers).
  const sent = sentInputs(cfg);
  let names = keyParts({ sent, key: undefined, unkeyed: caching ? cfg.cache.unkeyed : [], who: 'authenticator' }, (p, msg) => ctx.issue(`${at}.${p}`, msg));
  if (names !== null && sendable.length > 0 && !names.some((p) => p.startsWith('header:'))) {
    // The answer is about the credential: keyed on none of it, one caller's identity would be handed to every other.
    ctx.issue(`${at}.cache.unkeyed`, `leaves every sent header (${sendable.map((h) => `header:${h}`).join(', ')}) out of the key: the identity the service gave for one credential would be reused for another; keep the header that carries the credential keyed (remove it from cache.unkeyed)`);
    names = null;
  }
  // On a config error the plan is refused; the object built here is never used.
  const key = compileKey(names ?? sent, (_i, msg) => ctx.issue(`${at}.cache.unkeyed`, msg), false)!;
  const cache = caching ? new PartsCache<Identity | Refused>(CACHE_ENTRIES) : null;
  /** This request's key parts, reused (a hit builds no key string, no JSON, no digest). */
  const parts: string[] = new Array<string>(key.size).fill('');
  const request = compileCall(cfg);
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

  interface Slot {
    readonly hash: number;
    readonly parts: readonly string[];
  }

  async function ask(req: CalloutRequest, slot: Slot | null, trace: RequestTrace | null): Promise<AuthResult> {
    const a = await service.call(req, trace);
    if (!a.ok) return service.noAnswer(a);
    const now = Date.now();
    if (a.status === 401 || a.status === 403) {
      if (cache !== null && slot !== null) cache.set(slot.hash, 0, slot.parts, new Refused(R.authn_denied), now + Math.min(cfg.cache.ttl, MAX_NEGATIVE_MS));
      return REJECTED[R.authn_denied]!;
    }
    const ok = a.status === 200 ? readAnswer(a.body, declared) : null;
    if (ok === null) return service.unreadable(a.status);
    const exp = ok.claims.exp;
    const expiresAt = typeof exp === 'number' ? exp * 1000 : Infinity;
    if (expiresAt <= now) return REJECTED[R.token_expired]!;
    let id = makeIdentity(name, ok.consumer, ok.claims, cfg.forward_claims, expiresAt);
    if (ok.headers.length > 0) id = Object.freeze({ ...id, forwardHeaders: Object.freeze([...id.forwardHeaders, ...ok.headers]) });
    if (cache !== null && slot !== null) cache.set(slot.hash, 0, slot.parts, id, Math.min(now + cfg.cache.ttl, expiresAt));
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
      const hash = key.fill(view, parts);
      if (cache !== null) {
        // Tag 0: the route is not sent, so it is not keyed (request-key.ts).
        const hit = cache.get(hash, 0, parts);
        if (hit !== undefined) {
          stats.hits++;
          return applyCached(view, hit);
        }
      }
      // Miss: from here on allocation is fine. JSON keeps the single-flight key unambiguous.
      const flightKey = JSON.stringify(parts);
      const pending = service.pending(flightKey);
      if (pending !== undefined) return pending;
      const slot = cache !== null ? { hash, parts: parts.slice() } : null;
      let req: CalloutRequest;
      try {
        req = request(view, values);
      } catch (e) {
        // A client value the call cannot carry: the client's error, never the service's failure (failure_mode).
        if (e instanceof UnsafeServiceValue) return Promise.resolve(REJECTED[R.unsafe_header_value]!);
        throw e;
      }
      return service.start(ask(req, slot, view.trace ?? null), flightKey);
    },
    challengeFor(reason: number): string {
      return byReason[reason] ?? challenge;
    },
    hasCredential(view: RequestView): boolean {
      for (let i = 0; i < sendable.length; i++) if (view.header(sendable[i]!) !== '') return true;
      return false;
    },
    close() {
      cache?.clear();
    },
  };
}
