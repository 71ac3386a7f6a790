// Every authenticator type's figures, the authorizer's and the pool's become
// named families that a Prometheus lint accepts (the live-gateway test covers
// the types it runs; this one covers them all, from their typed faces).
import { describe, expect, it } from 'vitest';
import { componentFamilies, upstreamHealthFamilies, type AuthnSource } from '../../src/server/component-figures.js';
import { HAVE_PROMTOOL, MUST_HAVE_PROMTOOL, promtool, requirePromtool } from './promtool.js';
import { parseProm } from './prom-parse.js';

const withPromtool = HAVE_PROMTOOL || MUST_HAVE_PROMTOOL ? it : it.skip;
const NOW = Date.UTC(2030, 0, 1);

const authns: AuthnSource[] = [
  { name: 'corp-jwt', type: 'jwt', figures: () => ({
    cache: { hits: 90, misses: 10, negativeHits: 3, entries: 7 }, verifications: 10,
    jwks: { fetches: 5, failures: 2, lastSuccessAt: NOW - 42_000, keys: 2, unknownKidRefetches: 1, refetchesThrottled: 4 },
  }) },
  { name: 'static-jwt', type: 'jwt', figures: () => ({ cache: { hits: 1, misses: 1, negativeHits: 0, entries: 1 }, verifications: 1 }) },
  { name: 'users', type: 'basic', figures: () => ({ cache: { hits: 5, misses: 2 }, decisions: { accepted: 6, refused: 1 }, overloaded: 0 }) },
  { name: 'keys', type: 'api_key', figures: () => ({ decisions: { accepted: 3, refused: 2 } }) },
  { name: 'devices', type: 'mtls', figures: () => ({ cache: { hits: 8, misses: 1, entries: 1 }, decisions: { accepted: 9, refused: 0 } }) },
  { name: 'opaque', type: 'introspection', figures: () => ({ cache: { hits: 4, misses: 6 }, calls: { total: 6, failures: 1 } }) },
  { name: 'sso', type: 'oidc', figures: () => ({
    calls: { total: 3, failures: 1 }, cache: { hits: 11, misses: 0 },
    oidc: { logins: 2, callbacks: 2, refreshes: 1, sessionsOpened: 2, revoked: 0, revocations: 1 },
  }) },
];

const text = componentFamilies(authns, [{ name: 'opa', stats: { hits: 7, misses: 3, calls: 3, failures: 1 } }],
  { queued: 2, running: 1, completed: 40, timeouts: 1, rejected: 0, taskMsP50: 12 }, NOW)
  + upstreamHealthFamilies([{ name: 'app', targets: [1, 2, 3], healthy: () => 2 }]);

describe('component figures', () => {
  it('exports each figure under its own name, counters as counters', () => {
    const p = parseProm(text);
    expect(p.get('portcullis_jwks_fetches_total', { authenticator: 'corp-jwt', result: 'success' })).toBe(3);
    expect(p.get('portcullis_jwks_fetches_total', { authenticator: 'corp-jwt', result: 'failure' })).toBe(2);
    expect(p.get('portcullis_jwks_age_seconds', { authenticator: 'corp-jwt' })).toBe(42);
    expect(p.get('portcullis_jwks_age_seconds', { authenticator: 'static-jwt' })).toBeUndefined(); // no jwks_uri
    expect(p.get('portcullis_authn_cache_lookups_total', { authenticator: 'corp-jwt', type: 'jwt', result: 'negative_hit' })).toBe(3);
    expect(p.get('portcullis_authn_calls_total', { authenticator: 'opaque', type: 'introspection', result: 'success' })).toBe(5);
    expect(p.get('portcullis_authn_decisions_total', { authenticator: 'keys', type: 'api_key', result: 'refused' })).toBe(2);
    expect(p.get('portcullis_oidc_events_total', { authenticator: 'sso', event: 'session_opened' })).toBe(2);
    expect(p.get('portcullis_authz_calls_total', { authorizer: 'opa', result: 'failure' })).toBe(1);
    expect(p.get('portcullis_worker_pool_queued')).toBe(2);
    expect(p.get('portcullis_worker_pool_task_p50_seconds')).toBe(0.012);
    expect(p.get('portcullis_upstream_targets_healthy', { upstream: 'app' })).toBe(2);
    for (const [name, type] of p.types) expect(type, name).toBe(name.endsWith('_total') ? 'counter' : 'gauge');
    expect(p.samples.some((s) => 'stat' in s.labels)).toBe(false);
  });

  withPromtool('passes promtool check metrics', () => {
    requirePromtool();
    const r = promtool(['check', 'metrics'], text);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });
});
