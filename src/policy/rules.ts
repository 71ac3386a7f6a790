// A route's `authorize` and `route_by`, compiled into a RoutePolicy.
//
// When each part runs (the pipeline's order; docs/architecture.md steps):
//   2. route match
//   checkNetwork   — ip_deny, then ip_allow, on view.clientIp16. Before rate
//                    limits by identity and before authentication, so a
//                    denied network never costs a signature check: 403.
//   4. authenticate — a failure is 401 and ends the request there; identity
//                    rules never turn an authentication failure into a 403.
//   checkIdentity  — scopes (all of), then roles (any of), then claims (one
//                    of the listed values), on view.identity: 403.
//   external authorizer (authorize.external, its own stage) — then
//   chooseUpstream — route_by (claim or header → map → otherwise), or the
//                    route's upstream. -1 → 403 route_denied.
//
// Cost: scopes are Set lookups on identity.scopes (built once by the
// authenticator). Roles and claims need the token's claims walked, so their
// verdict is memoised per Identity object in a WeakMap: authenticators cache
// and reuse identities, so a cache-hit request costs one WeakMap lookup.
import type { AuthorizeConfig, RouteByConfig, RouteConfig } from '../config/schema.js';
import type { CompileContext } from '../config/load.js';
import type { Identity, RequestView, RoutePolicy } from '../contracts.js';
import { R } from '../reasons.js';
import { compileIpSet, type IpSet } from './ip-set.js';

export interface CompiledRoutePolicy extends RoutePolicy {
  /** False when the route has no ip_allow/ip_deny: the pipeline may skip checkNetwork. */
  readonly hasNetworkRules: boolean;
  /** False when the route has no scopes/roles/claims: checkIdentity always passes. */
  readonly hasIdentityRules: boolean;
}

/**
 * A claim by name, or by dotted path (`realm_access.roles`) when no claim has
 * that exact name (claim names that are URLs contain dots too).
 */
export function claimAt(claims: Readonly<Record<string, unknown>>, name: string, path: readonly string[]): unknown {
  const direct = claims[name];
  if (direct !== undefined || path.length < 2) return direct;
  let v: unknown = claims;
  for (let i = 0; i < path.length; i++) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[path[i]!];
  }
  return v;
}

/** Claim values compared by their text, as a YAML scalar would be written: 1 ≡ "1", true ≡ "true". */
function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Does the claim value (scalar, array, or space-separated string when `split`) hit the set? */
function valueHits(v: unknown, wanted: ReadonlySet<string>, split: boolean): boolean {
  if (Array.isArray(v)) {
    for (const e of v) {
      const t = scalarText(e);
      if (t !== undefined && wanted.has(t)) return true;
    }
    return false;
  }
  const t = scalarText(v);
  if (t === undefined) return false;
  if (wanted.has(t)) return true;
  if (split && typeof v === 'string' && v.indexOf(' ') >= 0) {
    for (const part of v.split(' ')) if (part !== '' && wanted.has(part)) return true;
  }
  return false;
}

interface ClaimRule {
  readonly name: string;
  readonly path: readonly string[];
  readonly values: ReadonlySet<string>;
}

/** Exactly-one-of for the route_by source. */
const BY_NONE = 0;
const BY_CLAIM = 1;
const BY_HEADER = 2;

class Policy implements CompiledRoutePolicy {
  readonly hasNetworkRules: boolean;
  readonly hasIdentityRules: boolean;
  /** Identity → reason (0 = pass) for roles and claims. */
  private readonly memo = new WeakMap<Identity, number>();

  constructor(
    private readonly deny: IpSet | null,
    private readonly allow: IpSet | null,
    private readonly scopes: readonly string[],
    private readonly roles: ReadonlySet<string> | null,
    private readonly rolesClaim: string,
    private readonly rolesPath: readonly string[],
    private readonly claims: readonly ClaimRule[],
    private readonly upstream: number,
    private readonly byKind: number,
    private readonly byName: string,
    private readonly byPath: readonly string[],
    private readonly byMap: ReadonlyMap<string, number>,
    private readonly otherwise: number,
  ) {
    this.hasNetworkRules = deny !== null || allow !== null;
    this.hasIdentityRules = scopes.length > 0 || roles !== null || claims.length > 0;
  }

  checkNetwork(view: RequestView): number {
    if (this.deny !== null && this.deny.has(view.clientIp16)) return R.ip_denied;
    if (this.allow !== null && !this.allow.has(view.clientIp16)) return R.ip_not_allowed;
    return 0;
  }

  checkIdentity(view: RequestView): number {
    if (!this.hasIdentityRules) return 0;
    const id = view.identity;
    const scopes = this.scopes;
    if (scopes.length > 0) {
      if (id === null) return R.missing_scope; // fail closed: no identity has no scopes
      const have = id.scopes;
      for (let i = 0; i < scopes.length; i++) if (!have.has(scopes[i]!)) return R.missing_scope;
    }
    if (this.roles === null && this.claims.length === 0) return 0;
    if (id === null) return this.roles !== null ? R.missing_role : R.claim_mismatch;
    let verdict = this.memo.get(id);
    if (verdict === undefined) {
      verdict = this.judge(id.claims);
      this.memo.set(id, verdict);
    }
    return verdict;
  }

  /** Roles then claims, walked once per identity. */
  private judge(claims: Readonly<Record<string, unknown>>): number {
    if (this.roles !== null && !valueHits(claimAt(claims, this.rolesClaim, this.rolesPath), this.roles, true)) {
      return R.missing_role;
    }
    for (const c of this.claims) {
      if (!valueHits(claimAt(claims, c.name, c.path), c.values, false)) return R.claim_mismatch;
    }
    return 0;
  }

  chooseUpstream(view: RequestView): number {
    const kind = this.byKind;
    if (kind === BY_NONE) return this.upstream;
    let key: unknown;
    if (kind === BY_HEADER) {
      key = view.header(this.byName);
    } else {
      const id = view.identity;
      key = id === null ? undefined : claimAt(id.claims, this.byName, this.byPath);
    }
    if (typeof key !== 'string' || key === '') return this.otherwise;
    const u = this.byMap.get(key);
    return u === undefined ? this.otherwise : u;
  }
}

function upstreamRef(name: string, where: string, upstreamIndex: ReadonlyMap<string, number>, ctx: Pick<CompileContext, 'issue'>): number {
  const i = upstreamIndex.get(name);
  if (i === undefined) {
    ctx.issue(where, `unknown upstream "${name}"; defined: ${[...upstreamIndex.keys()].join(', ') || '(none)'}`);
    return -1;
  }
  return i;
}

function compileRouteBy(rb: RouteByConfig, at: string, upstreamIndex: ReadonlyMap<string, number>, ctx: Pick<CompileContext, 'issue'>) {
  const map = new Map<string, number>();
  for (const [k, u] of Object.entries(rb.map)) map.set(k, upstreamRef(u, `${at}.route_by.map.${k}`, upstreamIndex, ctx));
  const otherwise = rb.otherwise === 'deny' ? -1 : upstreamRef(rb.otherwise, `${at}.route_by.otherwise`, upstreamIndex, ctx);
  return 'claim' in rb
    ? { kind: BY_CLAIM, name: rb.claim, path: rb.claim.split('.'), map, otherwise }
    : { kind: BY_HEADER, name: rb.header.toLowerCase(), path: [] as string[], map, otherwise };
}

function compileClaims(claims: AuthorizeConfig['claims']): ClaimRule[] {
  const out: ClaimRule[] = [];
  for (const [name, v] of Object.entries(claims ?? {})) {
    const list = Array.isArray(v) ? v : [v];
    out.push({ name, path: name.split('.'), values: new Set(list.map((x) => String(x))) });
  }
  return out;
}

/**
 * Compiles one route's authorization (`authorize` without `external`, which
 * is its own stage) and `route_by`. `at` is the route's config path
 * (`routes[2]`); problems are reported through ctx.issue.
 */
export function compileRoutePolicy(
  route: RouteConfig,
  at: string,
  upstreamIndex: ReadonlyMap<string, number>,
  ctx: Pick<CompileContext, 'issue'>,
): CompiledRoutePolicy {
  const a = route.authorize;
  const deny = a?.ip_deny && a.ip_deny.length > 0 ? compileIpSet(a.ip_deny, `${at}.authorize.ip_deny`, ctx) : null;
  const allow = a?.ip_allow ? compileIpSet(a.ip_allow, `${at}.authorize.ip_allow`, ctx) : null;
  if (a?.ip_allow && a.ip_allow.length === 0) {
    ctx.issue(`${at}.authorize.ip_allow`, 'an empty ip_allow refuses every client; list the networks to allow (e.g. [10.0.0.0/8]) or remove ip_allow');
  }
  const rolesClaim = a?.roles_claim ?? 'roles';
  const roles = a?.roles ? new Set(a.roles) : null;
  if (a?.roles && a.roles.length === 0) {
    ctx.issue(`${at}.authorize.roles`, 'an empty roles list refuses every identity; list the roles that may pass (any of) or remove roles');
  }
  const upstream = route.upstream !== undefined ? upstreamRef(route.upstream, `${at}.upstream`, upstreamIndex, ctx) : -1;
  const by = route.route_by ? compileRouteBy(route.route_by, at, upstreamIndex, ctx) : null;
  return new Policy(
    deny,
    allow,
    a?.scopes ?? [],
    roles,
    rolesClaim,
    rolesClaim.split('.'),
    compileClaims(a?.claims),
    upstream,
    by ? by.kind : BY_NONE,
    by ? by.name : '',
    by ? by.path : [],
    by ? by.map : new Map(),
    by ? by.otherwise : -1,
  );
}
