import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig, makeCompileContext } from '../../src/config/load.js';
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, type Authenticator } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileExternalAuthn } from '../../src/auth/external/index.js';
import { createWorkerPool, type WorkerPool } from '../../src/workers/pool.js';
import { startAuthzService, deadPort, type AuthzService } from '../helpers/authz-service.js';
import { makeView } from '../helpers/request-view-builder.js';

let svc: AuthzService;
let pool: WorkerPool;

function build(over: Record<string, unknown> = {}) {
  const plan = validateConfig({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    authenticators: { legacy: { type: 'external', url: svc.url, timeout: '2s', forward_claims: { tier: 'x-tier' }, ...over } },
    routes: [{ name: 'r', match: { path_prefix: '/' }, authenticate: ['legacy'], upstream: 'u' }],
  });
  const issues: { path: string; message: string }[] = [];
  const a = compileExternalAuthn('legacy', plan.config.authenticators.legacy as never, 'authenticators.legacy', makeCompileContext(plan, issues), pool);
  expect(issues).toEqual([]);
  return a;
}

async function settle(a: Authenticator, headers: Record<string, string>) {
  const v = makeView({ path: '/orders', clientIp: '198.51.100.4', headers });
  const r = a.authenticate(v);
  if (typeof r === 'number') return { outcome: r, identity: v.identity, reason: v.reason, sync: true };
  const res = await r;
  return { outcome: res.outcome, identity: res.identity, reason: res.reason, sync: false };
}

beforeAll(async () => {
  svc = await startAuthzService();
  pool = createWorkerPool({ threads: 1, maxQueue: 64 });
  await pool.start();
});
afterAll(async () => {
  await pool.close();
  await svc.close();
});
beforeEach(() => {
  svc.seen.length = 0;
});

describe('external authentication', () => {
  it('accepts on 200 with the consumer, claims and upstream headers the service names', async () => {
    svc.handler = (r) => (r.headers.authorization === 'Token good'
      ? { status: 200, body: { consumer: 'dave', claims: { tier: 'gold', scope: 'a b' }, headers: { 'x-legacy-account': '42' } } }
      : { status: 401 });
    const s = await settle(build({ allowed_upstream_headers: ['x-legacy-account'] }), { authorization: 'Token good' });
    expect(s.outcome).toBe(AUTH_OK);
    expect(s.identity).toMatchObject({ authenticator: 'legacy', consumer: 'dave', claims: { sub: 'dave', tier: 'gold' } });
    expect([...s.identity!.scopes]).toEqual(['a', 'b']);
    expect(s.identity!.forwardHeaders).toEqual(['x-tier', 'gold', 'x-legacy-account', '42']);
    expect(svc.seen[0]!.json).toMatchObject({ method: 'GET', path: '/orders', ip: '198.51.100.4', headers: { authorization: 'Token good' } });
  });

  it('refuses on 401 and 403 with authn_denied', async () => {
    for (const status of [401, 403]) {
      svc.handler = () => ({ status });
      expect(await settle(build(), { authorization: 'Token bad' })).toMatchObject({ outcome: AUTH_REJECT, reason: R.authn_denied });
    }
  });

  it('finds no credential (no call) when none of the sent headers is present', async () => {
    expect(build().authenticate(makeView())).toBe(AUTH_ABSENT);
    expect(svc.seen).toHaveLength(0);
  });

  it('caches answers for cache.ttl, keyed on what is sent (here: the same request but the header value)', async () => {
    svc.handler = () => ({ status: 200, body: { sub: 'erin' } });
    const a = build({ cache: { ttl: '30s' } });
    expect((await settle(a, { authorization: 'Token e' })).sync).toBe(false);
    const again = await settle(a, { authorization: 'Token e' });
    expect(again).toMatchObject({ sync: true, outcome: AUTH_OK });
    expect(again.identity!.consumer).toBe('erin');
    expect((await settle(a, { authorization: 'Token other' })).sync).toBe(false);
    expect(svc.seen).toHaveLength(2);
  });

  it('is unavailable (503) on timeout, refused connection or garbage; "no credential" with failure_mode: allow', async () => {
    svc.handler = () => 'hang';
    expect(await settle(build({ timeout: '100ms' }), { authorization: 'Token t' })).toMatchObject({ outcome: AUTH_REJECT, reason: R.authn_unavailable });
    const port = await deadPort();
    expect(await settle(build({ url: `http://127.0.0.1:${port}/authn` }), { authorization: 'Token t' })).toMatchObject({ outcome: AUTH_REJECT, reason: R.authn_unavailable });
    svc.handler = () => ({ status: 200, body: { claims: {} } });
    expect(await settle(build(), { authorization: 'Token t' })).toMatchObject({ outcome: AUTH_REJECT, reason: R.authn_unavailable });
    svc.handler = () => 'garbage';
    expect(await settle(build(), { authorization: 'Token t' })).toMatchObject({ outcome: AUTH_REJECT, reason: R.authn_unavailable });
    const allow = await settle(build({ url: `http://127.0.0.1:${port}/authn`, failure_mode: 'allow' }), { authorization: 'Token t' });
    expect(allow).toMatchObject({ outcome: AUTH_ABSENT, identity: null });
  });
});
