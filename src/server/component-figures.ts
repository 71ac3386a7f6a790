// The typed face of each component's internal stats: authenticators, external
// authorizers and the worker pool report named figures here, and
// componentFamilies() exports each figure as its own counter or gauge family
// (one name per meaning, counters ending in _total), never one gauge mixing both.
import type { ApiKeyAuthenticator } from '../auth/api-key/authenticator.js';
import type { BasicAuthenticator } from '../auth/basic/authenticator.js';
import type { JwtAuthenticator } from '../auth/jwt/authenticator.js';
import type { MtlsAuthenticator } from '../auth/mtls/authenticator.js';
import type { OidcStats } from '../auth/oidc/index.js';
import type { IntrospectionStats } from '../auth/introspection/index.js';
import type { AuthorizerStats } from '../policy/external-authorizer/index.js';
import type { PoolStats } from '../workers/pool.js';
import { family, type Sample } from '../observe/prom.js';

/** What one authenticator reports; each part only where the type has it. */
export interface AuthnFigures {
  /** Answers from the authenticator's cache (hits), work done (misses), remembered refusals; entries held. */
  readonly cache?: { readonly hits: number; readonly misses: number; readonly negativeHits?: number; readonly entries?: number };
  /** Calls to the IdP or service behind it (introspection, external, OIDC token endpoint). */
  readonly calls?: { readonly total: number; readonly failures: number };
  readonly decisions?: { readonly accepted: number; readonly refused: number };
  /** Requests refused because the slow path was saturated. */
  readonly overloaded?: number;
  readonly verifications?: number;
  readonly jwks?: {
    readonly fetches: number; readonly failures: number;
    /** Epoch ms of the last successful fetch, 0 = never. */
    readonly lastSuccessAt: number;
    readonly keys: number; readonly unknownKidRefetches: number; readonly refetchesThrottled: number;
  };
  readonly oidc?: { readonly logins: number; readonly callbacks: number; readonly refreshes: number; readonly sessionsOpened: number; readonly revoked: number; readonly revocations: number };
}

export const jwtFigures = (a: JwtAuthenticator, hasJwksUri: boolean): (() => AuthnFigures) => () => {
  const s = a.stats;
  return {
    cache: { hits: s.cache.hits, misses: s.cache.misses, negativeHits: s.cache.negativeHits, entries: s.cached },
    verifications: s.verifications,
    ...(hasJwksUri ? {
      jwks: {
        fetches: s.keys.fetches, failures: s.keys.fetchFailures, lastSuccessAt: s.keys.lastSuccessAt, keys: s.keyCount,
        unknownKidRefetches: s.keys.unknownKidRefetches, refetchesThrottled: s.keys.refetchesThrottled,
      },
    } : {}),
  };
};

export const basicFigures = (a: BasicAuthenticator): (() => AuthnFigures) => () => {
  const s = a.stats;
  return { cache: { hits: s.hits, misses: s.checks }, decisions: { accepted: Math.max(0, s.hits + s.checks - s.failures), refused: s.failures }, overloaded: s.overloaded };
};

export const apiKeyFigures = (a: ApiKeyAuthenticator): (() => AuthnFigures) => () => ({ decisions: { accepted: a.stats.accepted, refused: a.stats.refused } });

export const mtlsFigures = (a: MtlsAuthenticator): (() => AuthnFigures) => () => {
  const s = a.stats;
  return {
    cache: { hits: Math.max(0, s.accepted + s.refused - s.parsed), misses: s.parsed, entries: s.cached },
    decisions: { accepted: s.accepted, refused: s.refused },
  };
};

export const calloutFigures = (stats: IntrospectionStats | { readonly calls: number; readonly hits: number; readonly failures: number }): (() => AuthnFigures) => () => ({
  cache: { hits: stats.hits, misses: stats.calls },
  calls: { total: stats.calls, failures: stats.failures },
});

export const oidcFigures = (s: OidcStats): (() => AuthnFigures) => () => ({
  calls: { total: s.callbacks + s.refreshes, failures: s.failures },
  oidc: { logins: s.logins, callbacks: s.callbacks, refreshes: s.refreshes, sessionsOpened: s.opened, revoked: s.revoked, revocations: s.revocations },
  cache: { hits: s.hits, misses: 0 },
});

export interface AuthnSource { readonly name: string; readonly type: string; readonly figures: () => AuthnFigures }
export interface AuthzSource { readonly name: string; readonly stats: AuthorizerStats }

type Row = [labels: Record<string, string>, value: number];

/** The families for every authenticator, authorizer and the pool (scrape side: allocation is fine). */
export function componentFamilies(authns: readonly AuthnSource[], authzs: readonly AuthzSource[], pool: PoolStats | null, nowMs = Date.now()): string {
  const rows: Record<string, Row[]> = {};
  const add = (name: string, labels: Record<string, string>, v: number) => { (rows[name] ??= []).push([labels, v]); };
  for (const a of authns) {
    const f = a.figures();
    const who = { authenticator: a.name, type: a.type };
    if (f.cache) {
      add('authn_cache_lookups_total', { ...who, result: 'hit' }, f.cache.hits);
      add('authn_cache_lookups_total', { ...who, result: 'miss' }, f.cache.misses);
      if (f.cache.negativeHits !== undefined) add('authn_cache_lookups_total', { ...who, result: 'negative_hit' }, f.cache.negativeHits);
      if (f.cache.entries !== undefined) add('authn_cache_entries', who, f.cache.entries);
    }
    if (f.calls) {
      add('authn_calls_total', { ...who, result: 'success' }, Math.max(0, f.calls.total - f.calls.failures));
      add('authn_calls_total', { ...who, result: 'failure' }, f.calls.failures);
    }
    if (f.decisions) {
      add('authn_decisions_total', { ...who, result: 'accepted' }, f.decisions.accepted);
      add('authn_decisions_total', { ...who, result: 'refused' }, f.decisions.refused);
    }
    if (f.overloaded !== undefined) add('authn_overloaded_total', who, f.overloaded);
    if (f.verifications !== undefined) add('jwt_verifications_total', { authenticator: a.name }, f.verifications);
    if (f.jwks) {
      const j = f.jwks, at = { authenticator: a.name };
      add('jwks_fetches_total', { ...at, result: 'success' }, Math.max(0, j.fetches - j.failures));
      add('jwks_fetches_total', { ...at, result: 'failure' }, j.failures);
      add('jwks_keys', at, j.keys);
      if (j.lastSuccessAt > 0) add('jwks_age_seconds', at, Math.max(0, (nowMs - j.lastSuccessAt) / 1000));
      add('jwks_refetches_total', { ...at, result: 'fetched' }, j.unknownKidRefetches);
      add('jwks_refetches_total', { ...at, result: 'throttled' }, j.refetchesThrottled);
    }
    if (f.oidc) {
      for (const [event, v] of Object.entries(f.oidc)) add('oidc_events_total', { authenticator: a.name, event: SNAKE[event] ?? event }, v);
    }
  }
  for (const z of authzs) {
    const s = z.stats, who = { authorizer: z.name };
    add('authz_cache_lookups_total', { ...who, result: 'hit' }, s.hits);
    add('authz_cache_lookups_total', { ...who, result: 'miss' }, s.misses);
    add('authz_calls_total', { ...who, result: 'success' }, Math.max(0, s.calls - s.failures));
    add('authz_calls_total', { ...who, result: 'failure' }, s.failures);
  }
  if (pool) {
    add('worker_pool_queued', {}, pool.queued);
    add('worker_pool_running', {}, pool.running);
    add('worker_pool_completed_total', {}, pool.completed);
    add('worker_pool_timeouts_total', {}, pool.timeouts);
    add('worker_pool_rejected_total', {}, pool.rejected);
    add('worker_pool_task_p50_seconds', {}, pool.taskMsP50 / 1000);
  }
  let out = '';
  for (const [name, r] of Object.entries(rows)) {
    const h = HELP[name]!;
    out += family('portcullis_' + name, name.endsWith('_total') ? 'counter' : 'gauge', h, r.map(([l, v]) => [Object.keys(l).length ? l : null, v] as Sample));
  }
  return out;
}

const SNAKE: Readonly<Record<string, string>> = { sessionsOpened: 'session_opened', logins: 'login', callbacks: 'callback', refreshes: 'refresh', revoked: 'revoked_session_refused', revocations: 'revocation' };

/** Every family this module can write, with its help text (docs/observability.md lists the same). */
export const HELP: Readonly<Record<string, string>> = {
  authn_cache_lookups_total: 'Authenticator cache lookups by result (hit, miss = checked afresh, negative_hit = a remembered refusal).',
  authn_cache_entries: 'Entries held in the authenticator cache (this thread).',
  authn_calls_total: 'Calls from an authenticator to its IdP or service (introspection, external, OIDC token endpoint), by result.',
  authn_decisions_total: 'Credentials an authenticator accepted or refused.',
  authn_overloaded_total: 'Requests an authenticator refused because its slow path was saturated.',
  jwt_verifications_total: 'JWT signature verifications run (cache misses that reached a key).',
  jwks_fetches_total: 'JWK Set fetches by result.',
  jwks_keys: 'Keys the authenticator can verify with (static and fetched).',
  jwks_age_seconds: 'Seconds since the JWK Set was last fetched successfully.',
  jwks_refetches_total: 'Refetches asked for by an unknown kid: fetched, or throttled (one happened too recently).',
  oidc_events_total: 'OIDC login flow events by kind.',
  authz_cache_lookups_total: 'External authorizer decision-cache lookups by result.',
  authz_calls_total: 'Calls to an external authorizer by result.',
  worker_pool_queued: 'Slow-path tasks waiting for a worker.',
  worker_pool_running: 'Slow-path tasks running on a worker.',
  worker_pool_completed_total: 'Slow-path tasks settled.',
  worker_pool_timeouts_total: 'Slow-path tasks whose caller gave up at its deadline.',
  worker_pool_rejected_total: 'Slow-path tasks refused because the queue was full (answered 503 overloaded).',
  worker_pool_task_p50_seconds: 'Median slow-path task time over the last 1024 tasks.',
};

/** An upstream as its health is reported: targets and how many are passing. */
export interface UpstreamHealthSource {
  readonly name: string;
  readonly targets: readonly unknown[];
  healthy(now: number): number;
}

/** Passive health of each upstream as this thread sees it (targets not marked failed). */
export function upstreamHealthFamilies(groups: readonly UpstreamHealthSource[], now = Date.now()): string {
  return family('portcullis_upstream_targets', 'gauge', 'Targets configured per upstream.', groups.map((g) => [{ upstream: g.name }, g.targets.length] as Sample)) +
    family('portcullis_upstream_targets_healthy', 'gauge', 'Targets per upstream not marked failed by passive health checks (0 = the upstream is down).',
      groups.map((g) => [{ upstream: g.name }, g.healthy(now)] as Sample));
}
