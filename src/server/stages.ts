// Builds the stages that need other modules' compilers (authenticators, rate
// limits, external authorizers) and owns their lifecycle across a reload.
// Thread-wide resources (the rate-limit store, the worker pool) outlive any one
// Runtime: buckets survive a reload, the pool is started once.
import type { CompileContext, Plan } from '../config/load.js';
import type { AuthenticatorConfig } from '../config/schema.js';
import type { Authenticator, ExternalAuthorizer, RouteRateLimit } from '../contracts.js';
import { compileChain } from '../auth/chain.js';
import { compileJwt } from '../auth/jwt/index.js';
import { compileBasic } from '../auth/basic/index.js';
import { compileApiKey } from '../auth/api-key/index.js';
import { compileOidc, type OidcAuthenticator } from '../auth/oidc/index.js';
import { adoptRevocationBuffer } from '../auth/oidc/revocation.js';
import { closeRevocationLinks } from '../auth/oidc/revocation-cluster.js';
import { mergeOwnCookieNames, type OwnCookieNames } from '../lib/own-cookies.js';
import { compileIntrospection } from '../auth/introspection/index.js';
import { compileExternalAuthn } from '../auth/external/index.js';
import { compileMtls } from '../auth/mtls/index.js';
import { compileAuthorizer } from '../policy/external-authorizer/index.js';
import { createRateLimitStore, type RateLimitStore } from '../ratelimit/store/index.js';
import { compileRateLimits, type RateLimitRegistry } from '../ratelimit/compile.js';
import { startClusterSync, type ClusterSyncHandle } from '../ratelimit/cluster-sync.js';
import { createWorkerPool, type WorkerPool } from '../workers/pool.js';
import { family, type Sample } from '../observe/prom.js';
import {
  apiKeyFigures, basicFigures, calloutFigures, componentFamilies, jwtFigures, mtlsFigures, oidcFigures, type AuthnFigures,
} from './component-figures.js';
import { log } from '../observe/log.js';
import { shutdownTraceExport } from '../trace/index.js';
import { defineLimitBodies } from './respond.js';
import type { AuthChainFace } from './runtime.js';

/** State shared by every thread (structured-cloneable: handed to worker_threads). */
export interface SharedState {
  /** Thread slot (0 = main) for per-thread metrics. */
  readonly threadSlot: number;
  /** Number of event-loop threads. */
  readonly threads: number;
  /** Ports bound by the main thread, so extra threads share them (port 0 in config). */
  readonly listenPorts?: readonly number[];
  /** The rate-limit table every thread updates with Atomics. */
  readonly rateLimitBuffer?: SharedArrayBuffer;
  /** Keys the rate-limit table holds (server.rate_limit_capacity at start). */
  readonly rateLimitCapacity?: number;
  /** Metrics slices (one per thread). */
  readonly metricsBuffer?: SharedArrayBuffer;
  /** Revoked OIDC sessions, read by every thread (src/auth/oidc/revocation.ts). */
  readonly revocationBuffer?: SharedArrayBuffer;
  /** `check` builds a runtime only to validate: start no network activity. */
  readonly checkOnly?: boolean;
}

/** This thread's long-lived resources. */
interface ThreadResources {
  store: RateLimitStore | null;
  pool: WorkerPool | null;
}
const thread: ThreadResources = { store: null, pool: null };

/** The rate-limit store of this thread: the main thread's (adopted), one over the shared buffer, or a small one for `check`. */
export function rateLimitStore(shared: SharedState): RateLimitStore {
  // A check (also run by start before it builds) must not leave its small table behind for the real runtime.
  if (shared.checkOnly && !shared.rateLimitBuffer) return createRateLimitStore({ capacity: 1 << 12, singleThread: true });
  thread.store ??= shared.rateLimitBuffer
    ? createRateLimitStore({ buffer: shared.rateLimitBuffer })
    // One thread: no Atomics needed (about 15-20% cheaper per check). Created when a plan first has limits.
    : createRateLimitStore({ capacity: shared.checkOnly ? 1 << 12 : shared.rateLimitCapacity ?? 1 << 18, singleThread: true });
  return thread.store;
}

/** The main thread creates the process's store (sized from config) and hands it in. */
export function adoptRateLimitStore(store: RateLimitStore): void {
  thread.store = store;
}

let inertPool: WorkerPool | null = null;
function workerPool(plan: Plan, shared: SharedState): WorkerPool {
  // `check` compiles slow authenticators too, but must start no threads and call no IdP.
  if (shared.checkOnly) return (inertPool ??= createWorkerPool({ threads: 1, maxQueue: 1, inert: true }));
  thread.pool ??= createWorkerPool({ threads: plan.config.workers.threads, maxQueue: plan.config.workers.max_queue });
  return thread.pool;
}

/** Closes thread resources at shutdown. */
export async function closeThreadResources(): Promise<void> {
  closeRevocationLinks();
  const p = thread.pool;
  thread.pool = null;
  if (p) await p.close();
  await shutdownTraceExport(); // bounded: the last spans are sent or given up
}

export interface Stages {
  chain(names: readonly string[], at: string): AuthChainFace | null;
  rateLimit(names: readonly string[], at: string): RouteRateLimit | null;
  authorizer(name: string, at: string): ExternalAuthorizer | null;
  ready(): Promise<void>;
  /** Named readiness checks for /readyz: every JWT key set loaded, the pool started. */
  readiness(): Record<string, boolean>;
  /** The gateway's own cookies (every OIDC authenticator's): removed from what upstreams receive; null when none. */
  readonly ownCookies: OwnCookieNames | null;
  readonly collectors: (() => string)[];
  close(): Promise<void>;
}

type Built = Authenticator & { ready?(): Promise<void>; close?(): void; readonly stats?: unknown };

/** An authenticator and its typed figures for /metrics. */
function compileAuthenticator(name: string, cfg: AuthenticatorConfig, ctx: CompileContext, plan: Plan, shared: SharedState): [Built, () => AuthnFigures] {
  const at = `authenticators.${name}`;
  switch (cfg.type) {
    case 'jwt': { const a = compileJwt(name, cfg, at, ctx); return [a, jwtFigures(a, cfg.jwks_uri !== undefined)]; }
    case 'basic': { const a = compileBasic(name, cfg, at, ctx); return [a, basicFigures(a)]; }
    case 'api_key': { const a = compileApiKey(name, cfg, at, ctx); return [a, apiKeyFigures(a)]; }
    case 'oidc': { const a = compileOidc(name, cfg, at, ctx, workerPool(plan, shared)); return [a, oidcFigures(a.stats)]; }
    case 'introspection': { const a = compileIntrospection(name, cfg, at, ctx, workerPool(plan, shared)); return [a, calloutFigures(a.stats)]; }
    case 'external': { const a = compileExternalAuthn(name, cfg, at, ctx, workerPool(plan, shared)); return [a, calloutFigures(a.stats)]; }
    case 'mtls': { const a = compileMtls(name, cfg, at, ctx); return [a, mtlsFigures(a)]; }
  }
}

/**
 * A called service without `allowed_upstream_headers` adds no upstream header
 * (a client could otherwise send any name the service might set): said once at
 * start, so an operator whose service sets headers finds the field to declare.
 */
function warnUndeclared(at: string, fields: Record<string, unknown>, shared: SharedState): void {
  if (shared.checkOnly || shared.threadSlot !== 0) return;
  log.warn('no allowed_upstream_headers: headers this service puts in its answers are not forwarded upstream', {
    ...fields,
    fix: `list the names it may set in ${at}.allowed_upstream_headers (they are then removed from client requests on its routes), or write allowed_upstream_headers: [] to say it sets none`,
  });
}

export function buildStages(plan: Plan, ctx: CompileContext, shared: SharedState, upstreamIndex: ReadonlyMap<string, number>): Stages {
  const c = plan.config;
  // Only what routes use is compiled: an unused authenticator fetches no keys.
  const used = new Set(c.routes.flatMap((r) => r.authenticate ?? []));
  // Every thread's OIDC sessions are revoked in one table: adopt the main thread's before compiling.
  if (shared.revocationBuffer) adoptRevocationBuffer(shared.revocationBuffer);
  const authns = new Map<string, Built>();
  const figures: { name: string; type: string; figures: () => AuthnFigures }[] = [];
  for (const [name, cfg] of Object.entries(c.authenticators)) {
    if (!used.has(name)) continue;
    if (cfg.type === 'external' && cfg.allowed_upstream_headers === undefined) warnUndeclared(`authenticators.${name}`, { authenticator: name }, shared);
    const [a, f] = compileAuthenticator(name, cfg, ctx, plan, shared);
    authns.set(name, a);
    figures.push({ name, type: cfg.type, figures: f });
  }
  const authzs = new Map<string, ReturnType<typeof compileAuthorizer>>();
  const routeNames = c.routes.map((r) => r.name);
  const usedAuthz = new Set(c.routes.map((r) => r.authorize?.external).filter((x): x is string => !!x));
  for (const name of usedAuthz) {
    const cfg = c.authorizers[name];
    if (cfg && cfg.allowed_upstream_headers === undefined) warnUndeclared(`authorizers.${name}`, { authorizer: name }, shared);
    if (cfg) authzs.set(name, compileAuthorizer(name, cfg, `authorizers.${name}`, ctx, workerPool(plan, shared), upstreamIndex, routeNames));
  }

  let registry: RateLimitRegistry | null = null;
  let sync: ClusterSyncHandle | null = null;
  if (Object.keys(c.rate_limits).length > 0) {
    try {
      registry = compileRateLimits(plan, rateLimitStore(shared));
      // The 429 body names the limit: precomputed here, never stringified per request.
      defineLimitBodies(registry.limits.map((l) => l.name));
    } catch (e) {
      ctx.issue('rate_limits', (e as Error).message);
    }
    if (registry && !shared.checkOnly && shared.threadSlot === 0) sync = startClusterSync(plan, registry);
  }

  const collectors: (() => string)[] = [];
  collectors.push(() => {
    const p = thread.pool;
    return componentFamilies(figures, [...authzs].map(([name, z]) => ({ name, stats: z.stats })), p && p.started ? p.stats() : null);
  });
  if (registry) {
    const reg = registry;
    collectors.push(() => {
      const st = reg.stats();
      return family('portcullis_ratelimit_admitted_total', 'counter', 'Requests admitted by each rate limit (all threads)', st.map((s) => [{ limit: s.name }, s.admitted] as Sample))
        + family('portcullis_ratelimit_rejected_total', 'counter', 'Requests rejected by each rate limit (all threads)', st.map((s) => [{ limit: s.name }, s.rejected] as Sample));
    });
  }

  const own = [...authns.values()].flatMap((a) => ('cookieNames' in a ? [(a as OidcAuthenticator).cookieNames] : []));

  return {
    ownCookies: own.length > 0 ? mergeOwnCookieNames(own) : null,
    chain(names, at) {
      const list: Authenticator[] = [];
      names.forEach((n, i) => {
        const a = authns.get(n);
        if (a) list.push(a);
        else ctx.issue(`${at}[${i}]`, `unknown authenticator "${n}"`);
      });
      return list.length === names.length ? compileChain(list) : null;
    },
    rateLimit(names) {
      return registry ? registry.forRoute(names) : null;
    },
    authorizer(name) {
      return authzs.get(name) ?? null;
    },
    async ready() {
      if (shared.checkOnly) return;
      await Promise.all([...authns.values()].map((a) => a.ready?.()));
    },
    readiness() {
      const checks: Record<string, boolean> = {};
      for (const [name, a] of authns) {
        const keys = (a.stats as { keyCount?: unknown } | undefined)?.keyCount;
        if (typeof keys === 'number') checks[`jwt_keys_loaded:${name}`] = keys > 0;
      }
      if (thread.pool) checks.worker_pool_started = thread.pool.started;
      return checks;
    },
    collectors,
    async close() {
      for (const a of authns.values()) {
        try { a.close?.(); } catch (e) { log.warn('closing an authenticator failed', { error: String(e) }); }
      }
      for (const z of authzs.values()) z.close?.();
      if (sync) await sync.stop();
    },
  };
}
