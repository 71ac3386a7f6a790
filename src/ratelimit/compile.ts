// Compiles `rate_limits` into a registry, and each route's `rate_limit: [...]`
// into a RouteRateLimit the pipeline calls on the hot path. Everything a
// request needs is decided here: limit → directory index in the store, how
// to read its key from the view, the RateLimit-Policy strings.
//
// Keys (docs/configuration.md; how a request's key is read: limiter.ts):
//   global        the limit's shared bucket
//   ip            view.clientIp16: 4 bytes for IPv4, the /64 (first 8 bytes) for IPv6
//   consumer      view.identity.consumer
//   claim:NAME    view.identity.claims[NAME]: string, number or boolean
//   header:NAME   view.header(NAME)
// Each route's limiter carries the sub-limiter of its limits that need no
// identity (global, ip, header), charged when authentication refuses.
import type { Plan } from '../config/load.js';
import type { RateLimitConfig } from '../config/schema.js';
import { clockNow } from '../lib/clock.js';
import { fnv1a } from '../lib/hash.js';
import { LimitAnswers, policyFor } from './answers.js';
import { needsNoIdentity, RouteLimiter } from './limiter.js';
import { MAX_ROUTE_LIMITS, type RateLimitStore } from './store/index.js';

export interface LimitInfo {
  readonly name: string;
  /** As configured: global | ip | consumer | claim:NAME | header:NAME. */
  readonly key: string;
  readonly rate: number;
  /** Period in ms. */
  readonly per: number;
  readonly burst: number;
  readonly cluster: boolean;
  /** Directory index in the store. */
  readonly dir: number;
  /** RateLimit-Policy value, e.g. `"per-ip";q=50;w=1`. */
  readonly policy: string;
}

export interface RateLimitStats {
  readonly name: string;
  readonly admitted: number;
  readonly rejected: number;
}

export interface RateLimitRegistry {
  readonly store: RateLimitStore;
  readonly limits: readonly LimitInfo[];
  /** The clock (epoch ms) the buckets run on. */
  readonly now: () => number;
  /** The route's limiter, or null when the route names no limits. Throws on an unknown name (config validation prevents it). */
  forRoute(names: readonly string[]): RouteLimiter | null;
  /** Admitted/rejected per limit, summed over every thread sharing the store. */
  stats(): RateLimitStats[];
}

export interface CompileRateLimitOptions {
  /**
   * Clock in epoch ms (tests inject one; `Date.now` for exact milliseconds at
   * 16 bytes allocated per call). Default: the thread's ticking clock
   * (clock.ts): ~1 ms resolution, nothing allocated per request, asleep when idle.
   */
  now?: () => number;
}

/** rate/per as integers rate'/per' (exact refill arithmetic), reduced. */
function integerRate(rate: number, per: number): { rateU: number; costU: number } {
  let scale = 1;
  while (scale < 1e6 && Math.abs(rate * scale - Math.round(rate * scale)) > 1e-9 * scale) scale *= 10;
  let r = Math.round(rate * scale);
  let p = per * scale;
  if (Number.isInteger(r) && Number.isInteger(p)) {
    let a = r;
    let b = p;
    while (b) [a, b] = [b, a % b];
    r /= a;
    p /= a;
  }
  return { rateU: r, costU: p };
}

/**
 * Compiles the plan's rate limits against a store (one per process, shared by
 * every thread through `store.buffer`). Each thread compiles its own registry
 * over its own `createRateLimitStore({ buffer })`; limits with the same name
 * and parameters map to the same buckets in every thread and across reloads.
 */
export function compileRateLimits(plan: Plan, store: RateLimitStore, opts: CompileRateLimitOptions = {}): RateLimitRegistry {
  const nowFn = opts.now ?? null;
  const now = nowFn ?? clockNow;
  const t0 = now();
  const byName = new Map<string, LimitInfo>();
  const usedDirs = new Set<number>();
  for (const [name, cfg] of Object.entries(plan.config.rate_limits) as [string, RateLimitConfig][]) {
    const per = cfg.per;
    const burst = cfg.burst ?? cfg.rate;
    const cluster = cfg.scope === 'cluster';
    const { rateU, costU } = integerRate(cfg.rate, per);
    // a bucket must hold at least one token, or nothing would ever pass
    const capU = Math.max(burst, 1) * costU;
    let ns = fnv1a(`${name}\0${cfg.key}\0${cfg.rate}\0${per}\0${burst}\0${cfg.scope}`);
    let dir = store.defineLimit(ns, rateU, costU, capU, cluster, t0);
    while (usedDirs.has(dir)) {
      ns = (ns + 1) | 0; // two definitions collided on the 32-bit id: perturb deterministically
      dir = store.defineLimit(ns, rateU, costU, capU, cluster, t0);
    }
    usedDirs.add(dir);
    byName.set(name, Object.freeze({ name, key: cfg.key, rate: cfg.rate, per, burst, cluster, dir, policy: policyFor(name, cfg.rate, per) }));
  }
  const limits = [...byName.values()];
  const answers = new Map<string, LimitAnswers>(limits.map((l) => [l.name, new LimitAnswers(l.name, l.policy)]));
  return {
    store,
    limits,
    now,
    forRoute(names: readonly string[]): RouteLimiter | null {
      const uniq = [...new Set(names)];
      if (uniq.length === 0) return null;
      if (uniq.length > MAX_ROUTE_LIMITS) throw new Error(`a route names ${uniq.length} rate limits; at most ${MAX_ROUTE_LIMITS}`);
      const ls = uniq.map((nm) => {
        const l = byName.get(nm);
        if (!l) throw new Error(`unknown rate limit "${nm}"; defined: ${[...byName.keys()].join(', ') || '(none)'}`);
        return l;
      });
      const limiter = (of: readonly LimitInfo[], preAuth: RouteLimiter | null) =>
        new RouteLimiter(of, of.map((l) => answers.get(l.name)!), store, nowFn, preAuth);
      const pre = ls.filter((l) => needsNoIdentity(l.key));
      return limiter(ls, pre.length ? limiter(pre, null) : null);
    },
    stats(): RateLimitStats[] {
      return limits.map((l) => ({ name: l.name, ...store.limits.counters(l.dir) }));
    },
  };
}
