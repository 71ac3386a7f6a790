import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import type { Identity, RequestView } from '../../src/contracts.js';
import { parseIpInto } from '../../src/policy/ip.js';
import { compileRoutePolicy } from '../../src/policy/rules.js';
import { R } from '../../src/reasons.js';

const UPSTREAMS = { 'orders-eu': { targets: ['http://127.0.0.1:9001'] }, 'orders-us': { targets: ['http://127.0.0.1:9002'] } };

/** Compiles one route through the real config validation, as the server will. */
function policyFor(route: Record<string, unknown>) {
  const plan = validateConfig({
    upstreams: UPSTREAMS,
    authenticators: { jwt: { type: 'jwt', algorithms: ['HS256'], secret: 'x'.repeat(32) } },
    routes: [{ name: 'r', match: { path_prefix: '/' }, ...route }],
  });
  const index = new Map(Object.keys(plan.config.upstreams).map((n, i) => [n, i]));
  const issues: string[] = [];
  const policy = compileRoutePolicy(plan.config.routes[0]!, 'routes[0]', index, { issue: (p, m) => void issues.push(`${p}: ${m}`) });
  return { policy, issues, index };
}

function identity(claims: Record<string, unknown>): Identity {
  const scopes = new Set<string>();
  if (typeof claims.scope === 'string') for (const s of claims.scope.split(' ')) if (s) scopes.add(s);
  if (Array.isArray(claims.scp)) for (const s of claims.scp) scopes.add(String(s));
  return { authenticator: 'jwt', consumer: String(claims.sub ?? ''), claims, scopes, forwardHeaders: [], expiresAt: Infinity };
}

/** Our own RequestView interface, filled in by the test. */
function view(opts: { ip?: string; identity?: Identity | null; headers?: Record<string, string> } = {}): RequestView {
  const ip16 = new Uint8Array(16);
  const ip = opts.ip ?? '203.0.113.9';
  if (!parseIpInto(ip, ip16)) throw new Error(ip);
  const headers = opts.headers ?? {};
  return {
    method: 'GET', path: '/', query: '', host: 'api.example.com', clientIp: ip, clientIp16: ip16,
    clientIsV4: !ip.includes(':'), routeIndex: 0,
    header: (n) => headers[n] ?? '', queryParam: () => undefined, cookie: () => undefined,
    identity: opts.identity ?? null, reason: 0, retryAfter: 0, limitName: '',
  };
}

const authed = { authenticate: ['jwt'], upstream: 'orders-us' };

describe('network rules', () => {
  it('ip_allow admits listed networks and refuses the rest (ip_not_allowed)', () => {
    const { policy } = policyFor({ ...authed, authorize: { ip_allow: ['203.0.113.0/24', '2001:db8::/32'] } });
    expect(policy.checkNetwork(view({ ip: '203.0.113.200' }))).toBe(0);
    expect(policy.checkNetwork(view({ ip: '::ffff:203.0.113.1' }))).toBe(0);
    expect(policy.checkNetwork(view({ ip: '2001:db8::5' }))).toBe(0);
    expect(policy.checkNetwork(view({ ip: '198.51.100.1' }))).toBe(R.ip_not_allowed);
    expect(policy.checkNetwork(view({ ip: '2001:db9::5' }))).toBe(R.ip_not_allowed);
  });

  it('ip_deny refuses listed networks (ip_denied)', () => {
    const { policy } = policyFor({ ...authed, authorize: { ip_deny: ['198.51.100.7/32', 'fe80::/10'] } });
    expect(policy.checkNetwork(view({ ip: '198.51.100.7' }))).toBe(R.ip_denied);
    expect(policy.checkNetwork(view({ ip: '198.51.100.8' }))).toBe(0);
    expect(policy.checkNetwork(view({ ip: 'fe80::1' }))).toBe(R.ip_denied);
  });

  it('ip_deny wins over ip_allow', () => {
    const { policy } = policyFor({ ...authed, authorize: { ip_allow: ['10.0.0.0/8'], ip_deny: ['10.6.6.0/24'] } });
    expect(policy.checkNetwork(view({ ip: '10.6.6.6' }))).toBe(R.ip_denied);
    expect(policy.checkNetwork(view({ ip: '10.1.1.1' }))).toBe(0);
    expect(policy.checkNetwork(view({ ip: '11.1.1.1' }))).toBe(R.ip_not_allowed);
  });

  it('no IP rules: every client passes', () => {
    const { policy } = policyFor(authed);
    expect(policy.hasNetworkRules).toBe(false);
    expect(policy.checkNetwork(view({ ip: '::1' }))).toBe(0);
  });

  it('reports a bad CIDR at its config path', () => {
    const { issues } = policyFor({ ...authed, authorize: { ip_allow: ['10.0.0.0/8', '10.0.0.0/33'] } });
    expect(issues).toEqual(['routes[0].authorize.ip_allow[1]: "10.0.0.0/33" is not a CIDR; write e.g. 10.0.0.0/8 or 2001:db8::/32']);
  });

  it('refuses an empty ip_allow as a config problem rather than silently denying everyone', () => {
    const { issues } = policyFor({ ...authed, authorize: { ip_allow: [] } });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^routes\[0\]\.authorize\.ip_allow: an empty ip_allow refuses every client/);
  });
});

describe('identity rules', () => {
  it('scopes: all required, from `scope` or `scp`', () => {
    const { policy } = policyFor({ ...authed, authorize: { scopes: ['orders:read', 'orders:write'] } });
    expect(policy.checkIdentity(view({ identity: identity({ scope: 'orders:read orders:write x' }) }))).toBe(0);
    expect(policy.checkIdentity(view({ identity: identity({ scp: ['orders:write', 'orders:read'] }) }))).toBe(0);
    expect(policy.checkIdentity(view({ identity: identity({ scope: 'orders:read' }) }))).toBe(R.missing_scope);
    expect(policy.checkIdentity(view({ identity: identity({}) }))).toBe(R.missing_scope);
    expect(policy.checkIdentity(view({ identity: null }))).toBe(R.missing_scope);
  });

  it('roles: any of, from the `roles` claim (array or space-separated)', () => {
    const { policy } = policyFor({ ...authed, authorize: { roles: ['buyer', 'admin'] } });
    expect(policy.checkIdentity(view({ identity: identity({ roles: ['viewer', 'admin'] }) }))).toBe(0);
    expect(policy.checkIdentity(view({ identity: identity({ roles: 'viewer buyer' }) }))).toBe(0);
    expect(policy.checkIdentity(view({ identity: identity({ roles: 'buyer' }) }))).toBe(0);
    expect(policy.checkIdentity(view({ identity: identity({ roles: ['viewer'] }) }))).toBe(R.missing_role);
    expect(policy.checkIdentity(view({ identity: identity({ roles: 'buyers' }) }))).toBe(R.missing_role);
    expect(policy.checkIdentity(view({ identity: identity({}) }))).toBe(R.missing_role);
    expect(policy.checkIdentity(view({ identity: null }))).toBe(R.missing_role);
  });

  it('roles: a nested claim path (Keycloak realm_access.roles)', () => {
    const { policy } = policyFor({ ...authed, authorize: { roles: ['admin'], roles_claim: 'realm_access.roles' } });
    expect(policy.checkIdentity(view({ identity: identity({ realm_access: { roles: ['offline', 'admin'] } }) }))).toBe(0);
    expect(policy.checkIdentity(view({ identity: identity({ realm_access: { roles: ['offline'] } }) }))).toBe(R.missing_role);
    expect(policy.checkIdentity(view({ identity: identity({ realm_access: ['admin'] }) }))).toBe(R.missing_role);
    expect(policy.checkIdentity(view({ identity: identity({ roles: ['admin'] }) }))).toBe(R.missing_role);
    // a claim literally named with dots (URL-style names) is found first
    expect(policy.checkIdentity(view({ identity: identity({ 'realm_access.roles': ['admin'] }) }))).toBe(0);
  });

  it('claims: the value must be one of the listed; arrays match when any element does', () => {
    const { policy } = policyFor({ ...authed, authorize: { claims: { tenant: ['acme', 'globex'], level: [2, 3], verified: [true], org: 'x' } } });
    const ok = { tenant: 'acme', level: 2, verified: true, org: 'x' };
    expect(policy.checkIdentity(view({ identity: identity(ok) }))).toBe(0);
    expect(policy.checkIdentity(view({ identity: identity({ ...ok, tenant: ['initech', 'globex'] }) }))).toBe(0);
    expect(policy.checkIdentity(view({ identity: identity({ ...ok, level: '3' }) }))).toBe(0);
    expect(policy.checkIdentity(view({ identity: identity({ ...ok, tenant: 'initech' }) }))).toBe(R.claim_mismatch);
    expect(policy.checkIdentity(view({ identity: identity({ ...ok, tenant: ['initech'] }) }))).toBe(R.claim_mismatch);
    expect(policy.checkIdentity(view({ identity: identity({ ...ok, tenant: 'acme globex' }) }))).toBe(R.claim_mismatch);
    expect(policy.checkIdentity(view({ identity: identity({ ...ok, level: 4 }) }))).toBe(R.claim_mismatch);
    expect(policy.checkIdentity(view({ identity: identity({ ...ok, verified: false }) }))).toBe(R.claim_mismatch);
    expect(policy.checkIdentity(view({ identity: identity({ ...ok, org: { x: 1 } }) }))).toBe(R.claim_mismatch);
    const { tenant: _, ...noTenant } = ok;
    expect(policy.checkIdentity(view({ identity: identity(noTenant) }))).toBe(R.claim_mismatch);
  });

  it('combined: scopes first, then roles, then claims; all must pass', () => {
    const { policy } = policyFor({
      ...authed,
      authorize: { scopes: ['orders:read'], roles: ['buyer'], claims: { tenant: ['acme'] }, ip_allow: ['10.0.0.0/8'] },
    });
    const good = { scope: 'orders:read', roles: ['buyer'], tenant: 'acme' };
    expect(policy.hasIdentityRules).toBe(true);
    expect(policy.checkIdentity(view({ identity: identity(good) }))).toBe(0);
    expect(policy.checkIdentity(view({ identity: identity({ roles: [], tenant: 'x' }) }))).toBe(R.missing_scope);
    expect(policy.checkIdentity(view({ identity: identity({ ...good, roles: [], tenant: 'x' }) }))).toBe(R.missing_role);
    expect(policy.checkIdentity(view({ identity: identity({ ...good, tenant: 'x' }) }))).toBe(R.claim_mismatch);
    // network and identity are separate stages: a good identity does not fix the network
    expect(policy.checkNetwork(view({ ip: '1.1.1.1', identity: identity(good) }))).toBe(R.ip_not_allowed);
    expect(policy.checkNetwork(view({ ip: '10.1.1.1' }))).toBe(0);
  });

  it('no identity rules: every identity passes', () => {
    const { policy } = policyFor(authed);
    expect(policy.hasIdentityRules).toBe(false);
    expect(policy.checkIdentity(view({ identity: identity({}) }))).toBe(0);
  });

  it('decides once per identity object: a reused (cached) identity is not re-examined', () => {
    const { policy } = policyFor({ ...authed, authorize: { roles: ['admin'], claims: { tenant: ['acme'] } } });
    let reads = 0;
    const claims = {
      get roles() { reads++; return ['admin']; },
      tenant: 'acme',
    };
    const id = identity(claims);
    for (let i = 0; i < 5; i++) expect(policy.checkIdentity(view({ identity: id }))).toBe(0);
    expect(reads).toBe(1);
    // a different identity object is judged on its own claims
    expect(policy.checkIdentity(view({ identity: identity({ roles: ['x'], tenant: 'acme' }) }))).toBe(R.missing_role);
  });
});

describe('route_by', () => {
  const byClaim = { ...authed, upstream: undefined, route_by: { claim: 'region', map: { eu: 'orders-eu', us: 'orders-us' }, otherwise: 'orders-us' } };

  it('maps a claim value to its upstream', () => {
    const { policy, index } = policyFor(byClaim);
    expect(policy.chooseUpstream(view({ identity: identity({ region: 'eu' }) }))).toBe(index.get('orders-eu'));
    expect(policy.chooseUpstream(view({ identity: identity({ region: 'us' }) }))).toBe(index.get('orders-us'));
  });

  it('sends an unmapped or missing claim to `otherwise` when it names an upstream', () => {
    const { policy, index } = policyFor(byClaim);
    expect(policy.chooseUpstream(view({ identity: identity({ region: 'apac' }) }))).toBe(index.get('orders-us'));
    expect(policy.chooseUpstream(view({ identity: identity({}) }))).toBe(index.get('orders-us'));
    expect(policy.chooseUpstream(view({ identity: identity({ region: ['eu'] }) }))).toBe(index.get('orders-us'));
  });

  it('denies an unmapped or missing claim when otherwise is deny (the default)', () => {
    const { policy, index } = policyFor({ ...byClaim, route_by: { claim: 'region', map: { eu: 'orders-eu' } } });
    expect(policy.chooseUpstream(view({ identity: identity({ region: 'eu' }) }))).toBe(index.get('orders-eu'));
    expect(policy.chooseUpstream(view({ identity: identity({ region: 'us' }) }))).toBe(-1);
    expect(policy.chooseUpstream(view({ identity: identity({}) }))).toBe(-1);
    expect(policy.chooseUpstream(view({ identity: null }))).toBe(-1);
    // prototype names are not map entries
    expect(policy.chooseUpstream(view({ identity: identity({ region: 'constructor' }) }))).toBe(-1);
  });

  it('routes by a nested claim path', () => {
    const { policy, index } = policyFor({ ...byClaim, route_by: { claim: 'geo.region', map: { eu: 'orders-eu' } } });
    expect(policy.chooseUpstream(view({ identity: identity({ geo: { region: 'eu' } }) }))).toBe(index.get('orders-eu'));
    expect(policy.chooseUpstream(view({ identity: identity({ geo: {} }) }))).toBe(-1);
  });

  it('routes by a header only where the config says so', () => {
    const { policy, index } = policyFor({
      anonymous: true,
      route_by: { header: 'X-Tenant', map: { acme: 'orders-eu' }, otherwise: 'deny' },
    });
    expect(policy.chooseUpstream(view({ headers: { 'x-tenant': 'acme' } }))).toBe(index.get('orders-eu'));
    expect(policy.chooseUpstream(view({ headers: { 'x-tenant': 'ACME' } }))).toBe(-1);
    expect(policy.chooseUpstream(view({}))).toBe(-1);
  });

  it('without route_by, chooses the route upstream and ignores headers and claims', () => {
    const { policy, index } = policyFor({ ...authed, upstream: 'orders-eu' });
    expect(policy.chooseUpstream(view({ headers: { 'x-tenant': 'acme' }, identity: identity({ region: 'us' }) }))).toBe(index.get('orders-eu'));
  });

  it('a map entry naming an unknown upstream is rejected by the config check', () => {
    expect(() => policyFor({ ...byClaim, route_by: { claim: 'region', map: { eu: 'orders-eux' } } })).toThrow(ConfigError);
    try {
      policyFor({ ...byClaim, route_by: { claim: 'region', map: { eu: 'orders-eux' } } });
    } catch (e) {
      expect((e as ConfigError).issues.map((i) => i.path)).toEqual(['routes[0].route_by.map.eu']);
    }
  });

  it('reports an unknown upstream itself when given an index that lacks it', () => {
    const plan = validateConfig({ upstreams: UPSTREAMS, routes: [{ name: 'r', match: {}, anonymous: true, route_by: { header: 'x', map: { a: 'orders-eu' }, otherwise: 'orders-us' } }] });
    const issues: string[] = [];
    compileRoutePolicy(plan.config.routes[0]!, 'routes[0]', new Map([['orders-us', 0]]), { issue: (p, m) => void issues.push(`${p}: ${m}`) });
    expect(issues).toEqual(['routes[0].route_by.map.a: unknown upstream "orders-eu"; defined: orders-us']);
  });
});
