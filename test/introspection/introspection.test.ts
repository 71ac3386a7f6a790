import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig, makeCompileContext } from '../../src/config/load.js';
import { AUTH_ABSENT, AUTH_OK, AUTH_REJECT, type AuthResult, type Authenticator } from '../../src/contracts.js';
import { R } from '../../src/reasons.js';
import { compileIntrospection } from '../../src/auth/introspection/index.js';
import { createWorkerPool, type WorkerPool } from '../../src/workers/pool.js';
import { startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { startAuthzService, deadPort, type AuthzService } from '../helpers/authz-service.js';
import { makeView } from '../helpers/request-view-builder.js';

let op: OidcProvider;
let pool: WorkerPool;

function build(over: Record<string, unknown> = {}) {
  const plan = validateConfig({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    authenticators: {
      introspect: {
        type: 'introspection',
        endpoint: `${op.issuer}/token/introspection`,
        client_id: op.apiClient.id,
        client_secret: op.apiClient.secret,
        forward_claims: { sub: 'x-user-id', scope: 'x-user-scope' },
        ...over,
      },
    },
    routes: [{ name: 'r', match: { path_prefix: '/' }, authenticate: ['introspect'], upstream: 'u' }],
  });
  const issues: { path: string; message: string }[] = [];
  const a = compileIntrospection('introspect', plan.config.authenticators.introspect as never, 'authenticators.introspect', makeCompileContext(plan, issues), pool);
  expect(issues).toEqual([]);
  return a;
}

const bearer = (t: string) => makeView({ headers: { authorization: `Bearer ${t}` } });

async function settle(a: Authenticator, t: string): Promise<{ outcome: number; result: AuthResult | null; reason: number }> {
  const v = bearer(t);
  const r = a.authenticate(v);
  if (typeof r === 'number') return { outcome: r, result: null, reason: v.reason };
  const res = await r;
  return { outcome: res.outcome, result: res, reason: res.reason };
}

beforeAll(async () => {
  op = await startOidcProvider({ redirectUris: ['http://gateway.test/oauth2/callback'] });
  pool = createWorkerPool({ threads: 1, maxQueue: 256 });
  await pool.start();
});
afterAll(async () => {
  await pool.close();
  await op.close();
});

describe('introspection against oidc-provider', () => {
  it('accepts an active opaque token: scope, client_id and exp become the identity', async () => {
    const token = await op.clientCredentialsToken('api:read api:write');
    const a = build();
    const s = await settle(a, token);
    expect(s.outcome).toBe(AUTH_OK);
    const id = s.result!.identity!;
    expect(id.authenticator).toBe('introspect');
    expect(id.consumer).toBe(op.apiClient.id);
    expect([...id.scopes].sort()).toEqual(['api:read', 'api:write']);
    expect(id.claims.client_id).toBe(op.apiClient.id);
    expect(id.expiresAt).toBeGreaterThan(Date.now());
    expect(id.expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect(id.forwardHeaders).toEqual(['x-user-scope', 'api:read api:write']);
  });

  it('answers the next request for the same token synchronously from the cache', async () => {
    const token = await op.clientCredentialsToken();
    const a = build();
    expect((await settle(a, token)).outcome).toBe(AUTH_OK);
    const v = bearer(token);
    expect(a.authenticate(v)).toBe(AUTH_OK);
    expect(v.identity?.consumer).toBe(op.apiClient.id);
    expect((a as unknown as { stats: { calls: number; hits: number } }).stats).toMatchObject({ calls: 1, hits: 1 });
  });

  it('rejects an inactive token with 401 token_inactive and remembers it briefly', async () => {
    const a = build();
    const s = await settle(a, 'not-a-token-the-provider-issued-000000000000');
    expect(s).toMatchObject({ outcome: AUTH_REJECT, reason: R.token_inactive });
    expect(a.challengeFor(R.token_inactive)).toMatch(/^Bearer realm="introspect", error="invalid_token"/);
    const v = bearer('not-a-token-the-provider-issued-000000000000');
    expect(a.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.reason).toBe(R.token_inactive);
  });

  it('rejects a token revoked at the provider once the cache entry is gone', async () => {
    const token = await op.clientCredentialsToken();
    const a = build({ cache_ttl: '0ms' });
    expect((await settle(a, token)).outcome).toBe(AUTH_OK);
    const res = await fetch(`${op.issuer}/token/revocation`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${op.apiClient.id}:${op.apiClient.secret}`).toString('base64')}` },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(res.status).toBe(200);
    expect(await settle(a, token)).toMatchObject({ outcome: AUTH_REJECT, reason: R.token_inactive });
  });

  it('makes one call for many concurrent requests with the same token', async () => {
    const token = await op.clientCredentialsToken();
    const a = build();
    const all = await Promise.all(Array.from({ length: 25 }, () => settle(a, token)));
    expect(all.every((s) => s.outcome === AUTH_OK)).toBe(true);
    expect((a as unknown as { stats: { calls: number } }).stats.calls).toBe(1);
  });

  it('ignores requests without a bearer token and refuses oversized ones without a call', () => {
    const a = build();
    expect(a.authenticate(makeView())).toBe(AUTH_ABSENT);
    const v = bearer('x'.repeat(9000));
    expect(a.authenticate(v)).toBe(AUTH_REJECT);
    expect(v.reason).toBe(R.token_too_large);
  });

  it('is unavailable (503) when the gateway\'s own client credentials are wrong', async () => {
    const a = build({ client_secret: 'wrong' });
    expect(await settle(a, await op.clientCredentialsToken())).toMatchObject({ outcome: AUTH_REJECT, reason: R.authn_unavailable });
  });
});

describe('introspection endpoint down', () => {
  let svc: AuthzService;
  beforeAll(async () => { svc = await startAuthzService(() => 'hang'); });
  afterAll(async () => { await svc.close(); });

  it('denies with 503 by default, and is "no credential" (→ 401) with failure_mode: allow; nothing is cached', async () => {
    const port = await deadPort();
    const deny = build({ endpoint: `http://127.0.0.1:${port}/introspect` });
    expect(await settle(deny, 'tok-1')).toMatchObject({ outcome: AUTH_REJECT, reason: R.authn_unavailable });
    expect(deny.authenticate(bearer('tok-1'))).toBeInstanceOf(Promise);
    const allow = build({ endpoint: `http://127.0.0.1:${port}/introspect`, failure_mode: 'allow' });
    const s = await settle(allow, 'tok-1');
    expect(s.outcome).toBe(AUTH_ABSENT);
    expect(s.result?.identity).toBeNull();
  });

  it('denies with 503 when the endpoint does not answer before the timeout', async () => {
    const a = build({ endpoint: svc.url, timeout: '150ms' });
    expect(await settle(a, 'tok-2')).toMatchObject({ outcome: AUTH_REJECT, reason: R.authn_unavailable });
  });

  it('denies with 503 on an answer that is not an introspection response', async () => {
    svc.handler = () => ({ status: 200, body: { active: 'yes' } });
    const a = build({ endpoint: svc.url });
    expect(await settle(a, 'tok-3')).toMatchObject({ outcome: AUTH_REJECT, reason: R.authn_unavailable });
    svc.handler = () => 'hang';
  });

  it('never caches a token past its exp', async () => {
    const exp = Math.floor(Date.now() / 1000) + 30;
    svc.handler = () => ({ status: 200, body: { active: true, sub: 'carol', exp } });
    const a = build({ endpoint: svc.url, cache_ttl: '1h' });
    const s = await settle(a, 'tok-4');
    expect(s.outcome).toBe(AUTH_OK);
    expect(s.result!.identity!.expiresAt).toBe(exp * 1000);
    svc.handler = () => 'hang';
  });
});
