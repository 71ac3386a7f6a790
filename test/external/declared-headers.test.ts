// Headers a called service may set upstream are declared
// (allowed_upstream_headers) and belong to the service alone: through the
// real gateway, a client's copy of a declared name never reaches the upstream,
// whether or not the service sets it for this caller (issue 13, finding 5:
// bob sent `x-authz-role: admin`, which the authorizer sets for alice only,
// and the upstream believed him); an answer header not declared is not
// forwarded, and the log names it so the operator can declare it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startAuthzService, type AuthzService } from '../helpers/authz-service.js';
import { AUDIENCE, ISSUER, baseServer, bearer, request, rsaKey, sign } from '../e2e/util.js';

/** Every value the upstream received for `name`, in order. */
function values(raw: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

let gw: RunningGateway;
let up: TestUpstream;
let svc: AuthzService;
let alice: string;
let bob: string;

beforeAll(async () => {
  const key = await rsaKey('k1');
  alice = await sign(key, { sub: 'alice' });
  bob = await sign(key, { sub: 'bob' });
  svc = await startAuthzService((r) => {
    if (r.url.endsWith('/authn')) {
      // The authenticator gives alice's session an account header, bob's none.
      const session = String(r.headers['x-session']);
      if (session === 's-alice') return { status: 200, body: { consumer: 'alice', headers: { 'x-legacy-account': '42', 'x-sneaky': 'from-authn' } } };
      return { status: 200, body: { consumer: 'bob' } };
    }
    // The authorizer makes alice an admin and says nothing about anyone else.
    const id = r.json?.identity as { consumer?: string } | null;
    const headers: Record<string, string> = { 'x-undeclared': 'from-authz' };
    if (id?.consumer === 'alice') headers['x-authz-role'] = 'admin';
    return { status: 200, body: { headers } };
  });
  up = await startUpstream();
  gw = await startGateway({
    server: baseServer(),
    upstreams: { app: { targets: [up.url] } },
    authenticators: {
      jwt: { type: 'jwt', issuer: ISSUER, audience: [AUDIENCE], algorithms: ['RS256'], keys: [key.jwk] },
      legacy: { type: 'external', url: `${svc.url}/authn`, timeout: '2s', send: { headers: ['x-session'] }, allowed_upstream_headers: ['x-legacy-account'] },
    },
    authorizers: {
      roles: { url: svc.url, timeout: '2s', allowed_upstream_headers: ['X-Authz-Role'] },
      silent: { url: svc.url, timeout: '2s' },
    },
    routes: [
      { name: 'az', match: { path_prefix: '/az' }, authenticate: ['jwt'], upstream: 'app', authorize: { external: 'roles' } },
      { name: 'ext', match: { path_prefix: '/ext' }, authenticate: ['legacy'], upstream: 'app' },
      { name: 'silent', match: { path_prefix: '/silent' }, authenticate: ['jwt'], upstream: 'app', authorize: { external: 'silent' } },
    ],
  });
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await svc?.close();
});

/** GET through the gateway; the upstream's header lines for `name`. */
async function upstreamSaw(path: string, headers: Record<string, string>, name: string): Promise<string[]> {
  const n = up.requests.length;
  const r = await request(gw.url, path, { headers });
  expect(r.status).toBe(200);
  expect(up.requests.length).toBe(n + 1);
  return values(up.requests.at(-1)!.rawHeaders, name);
}

describe('a declared authorizer header cannot be forged by the client', () => {
  it('bob\'s own x-authz-role never reaches the upstream when the authorizer sets none for him', async () => {
    expect(await upstreamSaw('/az/1', { ...bearer(bob), 'x-authz-role': 'admin' }, 'x-authz-role')).toEqual([]);
  });

  it('alice gets only the authorizer\'s value, whatever she sends', async () => {
    expect(await upstreamSaw('/az/2', { ...bearer(alice), 'x-authz-role': 'superuser' }, 'x-authz-role')).toEqual(['admin']);
    // And bob, right after alice's decision, still cannot.
    expect(await upstreamSaw('/az/3', { ...bearer(bob), 'X-Authz-Role': 'admin' }, 'x-authz-role')).toEqual([]);
  });
});

describe('a declared external-authenticator header cannot be forged by the client', () => {
  it('bob\'s own x-legacy-account never reaches the upstream; alice gets only the service\'s value', async () => {
    expect(await upstreamSaw('/ext/1', { 'x-session': 's-bob', 'x-legacy-account': '1' }, 'x-legacy-account')).toEqual([]);
    expect(await upstreamSaw('/ext/2', { 'x-session': 's-alice', 'x-legacy-account': '1' }, 'x-legacy-account')).toEqual(['42']);
  });
});

describe('answer headers that are not declared are not forwarded', () => {
  it('drops them and logs each name once, never its value', async () => {
    expect(await upstreamSaw('/az/4', bearer(alice), 'x-undeclared')).toEqual([]);
    expect(await upstreamSaw('/ext/3', { 'x-session': 's-alice' }, 'x-sneaky')).toEqual([]);
    const az = JSON.parse(await gw.waitForLog(/"header":"x-undeclared"/)) as Record<string, unknown>;
    expect(az).toMatchObject({ level: 'warn', authorizer: 'roles' });
    expect(String(az.fix)).toContain('authorizers.roles.allowed_upstream_headers');
    const authn = JSON.parse(await gw.waitForLog(/"header":"x-sneaky"/)) as Record<string, unknown>;
    expect(String(authn.fix)).toContain('authenticators.legacy.allowed_upstream_headers');
    expect(gw.logs.some((l) => l.includes('from-authz') || l.includes('from-authn'))).toBe(false);
    await upstreamSaw('/az/5', bearer(alice), 'x-undeclared');
    expect(gw.logs.filter((l) => l.includes('"header":"x-undeclared"') && l.includes('"authorizer":"roles"'))).toHaveLength(1);
  });

  it('without allowed_upstream_headers no answer header is forwarded, and the start-up log says so', async () => {
    // The service answers x-authz-role: admin for alice; undeclared, it is not forwarded (her own header
    // is just a client header here: no service on this route may set that name).
    expect(await upstreamSaw('/silent/1', { ...bearer(alice), 'x-authz-role': 'mine' }, 'x-authz-role')).toEqual(['mine']);
    expect(await upstreamSaw('/silent/2', bearer(alice), 'x-undeclared')).toEqual([]);
    const warn = JSON.parse(await gw.waitForLog(/no allowed_upstream_headers/)) as Record<string, unknown>;
    expect(warn).toMatchObject({ authorizer: 'silent' });
  });
});
