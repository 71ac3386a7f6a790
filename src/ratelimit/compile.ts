// Compiles `rate_limits` into a registry, and each route's `rate_limit: [...]`
// into a RouteRateLimit the pipeline calls on the hot path. Everything a
// request needs is decided here: limit → directory index in the store, how
// to read its key from the view, the RateLimit-Policy strings.
//
// Keys (docs/configuration.md):
//   global        the limit's shared bucket
//   ip            view.clientIp16: 4 bytes for IPv4, the /64 (first 8 bytes) for IPv6
//   consumer      view.identity.consumer
//   claim:NAME    view.identity.claims[NAME]: string, number or boolean
//   header:NAME   view.header(NAME)
// A request without the key (no identity, missing/empty header, claim that
// is absent or not a string/number/boolean) is charged to the limit's shared
// bucket — the same bucket that takes keys finding no room in the table — so
// dropping the header never escapes the limit; it only joins everyone else
// who did.
//
// Answers (draft-ietf-httpapi-ratelimit-headers): RateLimit-Policy
// `"name";q=RATE;w=PER_SECONDS` (sub-second periods scaled to w=1), and
// RateLimit `"name";r=TOKENS_LEFT;t=SECONDS_UNTIL_FULL` for the limit that
// rejected or, when admitted, the one with the fewest tokens left; 429s add
// Retry-After (whole seconds until a token, ≥ 1).
//
// Multiple limits: take() is all-or-nothing by lock order (bucket-table.ts
// takeAll): every bucket is locked in ascending slot order, checked, and
// one token taken from each only if every one has a token. No rollback is
// needed, so no other thread ever sees a token that is later given back.
import type { Plan } from '../config/load.js';
import type { RateLimitConfig } from '../config/schema.js';
import type { RequestView, RouteRateLimit } from '../contracts.js';
import { clockNow, clockState, clockTime, wakeClock } from './clock.js';
import { KIND_IP4, KIND_IP6, MAX_ROUTE_LIMITS, NOT_FOUND, STALE, type RateLimitStore } from './bucket-table.js';

const KEY_GLOBAL = 0;
const KEY_IP = 1;
const KEY_CONSUMER = 2;
const KEY_CLAIM = 3;
const KEY_HEADER = 4;
const MISSING = -3;

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

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

/** A structured-field string: quotes and backslashes escaped, non-printables replaced. */
function sfString(s: string): string {
  return '"' + s.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '\\$&') + '"';
}

/** draft-ietf-httpapi-ratelimit-headers: q units per w seconds (w an integer). */
function policyFor(name: string, rate: number, per: number): string {
  let q: number;
  let w: number;
  if (per % 1000 === 0) {
    w = per / 1000;
    q = rate;
  } else {
    w = 1;
    q = (rate * 1000) / per;
  }
  q = Math.max(1, Math.floor(q));
  return `${sfString(name)};q=${q};w=${w}`;
}

const NO_HEADERS: readonly string[] = Object.freeze([]);
/** Distinct answers kept per limit (each a small frozen array). */
const CACHE_MAX = 4096;
/** Keys r × KEY_SPAN + t stay small integers (no boxed number on lookup). */
const KEY_SPAN = 46_340;

/**
 * One limit's answer headers as immutable arrays, built once per distinct
 * (remaining, reset) or (reset, retry) and reused, so the hot path allocates
 * nothing in steady state and a caller may keep the array as long as it
 * likes. Past CACHE_MAX distinct answers, new ones are built each time.
 */
class LimitAnswers {
  private readonly quoted: string;
  private readonly ok = new Map<number, readonly string[]>();
  private readonly rejected = new Map<number, readonly string[]>();

  constructor(name: string, readonly policy: string) {
    this.quoted = sfString(name);
  }

  admitted(r: number, t: number): readonly string[] {
    if (r >= KEY_SPAN || t >= KEY_SPAN) return this.build(r, t, 0);
    const k = r * KEY_SPAN + t;
    const hit = this.ok.get(k);
    if (hit !== undefined) return hit;
    const h = this.build(r, t, 0);
    if (this.ok.size < CACHE_MAX) this.ok.set(k, h);
    return h;
  }

  rejectedWith(t: number, retry: number): readonly string[] {
    if (retry >= KEY_SPAN || t >= KEY_SPAN) return this.build(0, t, retry);
    const k = retry * KEY_SPAN + t;
    const hit = this.rejected.get(k);
    if (hit !== undefined) return hit;
    const h = this.build(0, t, retry);
    if (this.rejected.size < CACHE_MAX) this.rejected.set(k, h);
    return h;
  }

  private build(r: number, t: number, retry: number): readonly string[] {
    const h = ['RateLimit-Policy', this.policy, 'RateLimit', `${this.quoted};r=${r};t=${t}`];
    if (retry > 0) h.push('Retry-After', String(retry));
    return Object.freeze(h);
  }
}

export class RouteLimiter implements RouteRateLimit {
  readonly names: readonly string[];
  private readonly n: number;
  private readonly store: RateLimitStore;
  /** Injected clock, or null to read clock.ts's clockTime (no call, no boxed double). */
  private readonly nowFn: (() => number) | null;
  private readonly clockTime = clockTime;
  private readonly clockState = clockState;
  private readonly dirs: Int32Array;
  private readonly keyType: Int8Array;
  private readonly keyArg: string[];
  private readonly pre: Int32Array;
  private readonly answers: readonly LimitAnswers[];
  // the limits' units (bucket-table.ts): per token, per ms, capacity
  private readonly cost: Float64Array;
  private readonly rate: Float64Array;
  private readonly cap: Float64Array;
  // per-thread scratch, valid until the next call on this route
  private readonly slots: Int32Array;
  private readonly gens: Int32Array;
  private readonly levels: Float64Array;
  private readonly valid: Uint8Array;
  /** The route's limits that need no identity (global, ip, header): charged when authentication refuses. */
  preAuth: RouteLimiter | null = null;

  /** See RouteRateLimit.chargeRefused: a 401 still spends its per-IP token. */
  chargeRefused(view: RequestView): void {
    const p = this.preAuth;
    if (p !== null) p.take(view);
  }

  constructor(limits: readonly LimitInfo[], answers: readonly LimitAnswers[], store: RateLimitStore, nowFn: (() => number) | null) {
    const n = limits.length;
    this.n = n;
    this.store = store;
    this.nowFn = nowFn;
    this.names = limits.map((l) => l.name);
    this.dirs = Int32Array.from(limits, (l) => l.dir);
    this.keyType = new Int8Array(n);
    this.keyArg = new Array<string>(n).fill('');
    const pre: number[] = [];
    limits.forEach((l, i) => {
      const k = l.key;
      if (k === 'global') this.keyType[i] = KEY_GLOBAL;
      else if (k === 'ip') this.keyType[i] = KEY_IP;
      else if (k === 'consumer') this.keyType[i] = KEY_CONSUMER;
      else if (k.startsWith('claim:')) {
        this.keyType[i] = KEY_CLAIM;
        this.keyArg[i] = k.slice(6);
      } else {
        this.keyType[i] = KEY_HEADER;
        this.keyArg[i] = k.slice(7).toLowerCase();
      }
      if (this.keyType[i] === KEY_GLOBAL || this.keyType[i] === KEY_IP || this.keyType[i] === KEY_HEADER) pre.push(i);
    });
    this.pre = Int32Array.from(pre);
    this.answers = answers;
    this.cost = Float64Array.from(limits, (l) => store.costU(l.dir));
    this.rate = Float64Array.from(limits, (l) => store.rateU(l.dir));
    this.cap = Float64Array.from(limits, (l) => store.capU(l.dir));
    this.slots = new Int32Array(n);
    this.gens = new Int32Array(n);
    this.levels = new Float64Array(n);
    this.valid = new Uint8Array(n);
  }

  /** Finds (or creates, with insert) limit i's bucket for this request; sets slots[i]/gens[i]. */
  private resolve(i: number, view: RequestView, insert: boolean): number {
    const st = this.store;
    const d = this.dirs[i]!;
    let slot = MISSING;
    switch (this.keyType[i]) {
      case KEY_IP: {
        const ip = view.clientIp16;
        slot = view.clientIsV4 ? st.findBytes(d, KIND_IP4, ip, 12, 4, insert) : st.findBytes(d, KIND_IP6, ip, 0, 8, insert);
        break;
      }
      case KEY_CONSUMER: {
        const id = view.identity;
        if (id !== null && id.consumer !== '') slot = st.findString(d, id.consumer, insert);
        break;
      }
      case KEY_CLAIM: {
        const id = view.identity;
        if (id !== null) {
          const v = id.claims[this.keyArg[i]!];
          if (typeof v === 'string') {
            if (v !== '') slot = st.findString(d, v, insert);
          } else if (typeof v === 'number') {
            slot = st.findNumber(d, v, insert);
          } else if (typeof v === 'boolean') {
            slot = st.findBool(d, v, insert);
          }
        }
        break;
      }
      case KEY_HEADER: {
        const h = view.header(this.keyArg[i]!);
        if (h !== '') slot = st.findString(d, h, insert);
        break;
      }
      default:
        break;
    }
    if (slot === MISSING) {
      // global, or the key is missing: the limit's shared bucket
      slot = st.fixedSlot(d);
      st.foundGen = -1;
    }
    this.slots[i] = slot;
    this.gens[i] = st.foundGen;
    return slot;
  }

  precheck(view: RequestView): number {
    const pre = this.pre;
    const np = pre.length;
    if (np === 0) return -1;
    const st = this.store;
    this.setTime(st);
    const levels = this.levels;
    for (let i = 0; i < this.n; i++) this.valid[i] = 0;
    let worst = -1;
    let worstWait = -1;
    for (let k = 0; k < np; k++) {
      const i = pre[k]!;
      const slot = this.resolve(i, view, false);
      if (slot === NOT_FOUND) levels[i] = this.cap[i]!;
      else st.peek(slot, this.gens[i]!, this.dirs[i]!, levels, i);
      this.valid[i] = 1;
      const cost = this.cost[i]!;
      if (levels[i]! < cost) {
        const wait = (cost - levels[i]!) / this.rate[i]!;
        if (wait > worstWait) {
          worstWait = wait;
          worst = i;
        }
      }
    }
    if (worst >= 0) this.reject(view, worst, Math.ceil(worstWait / 1000) | 0);
    return worst;
  }

  take(view: RequestView): number {
    const n = this.n;
    const st = this.store;
    this.setTime(st);
    let r = STALE;
    for (let attempt = 0; attempt < 4 && r === STALE; attempt++) {
      if (attempt === 3) {
        // keys keep changing hands under us (pathological churn): charge the shared buckets
        for (let i = 0; i < n; i++) {
          this.slots[i] = st.fixedSlot(this.dirs[i]!);
          this.gens[i] = -1;
        }
      } else {
        for (let i = 0; i < n; i++) this.resolve(i, view, true);
      }
      r = st.takeAll(n, this.slots, this.gens, this.dirs, this.levels);
    }
    for (let i = 0; i < n; i++) this.valid[i] = 1;
    if (r === -1) {
      for (let i = 0; i < n; i++) st.countAdmitted(this.dirs[i]!);
      return -1;
    }
    this.reject(view, r, Math.ceil((this.cost[r]! - this.levels[r]!) / this.rate[r]! / 1000) | 0);
    return r;
  }

  /** Writes the current time into the store (no boxed double on the default clock). */
  private setTime(st: RateLimitStore): void {
    if (this.nowFn !== null) {
      st.time[0] = this.nowFn();
      return;
    }
    const cs = this.clockState;
    if (cs[0] === 0) wakeClock();
    cs[1] = 1;
    st.time[0] = this.clockTime[0]!;
  }

  private reject(view: RequestView, i: number, seconds: number): void {
    this.store.countRejected(this.dirs[i]!);
    view.retryAfter = seconds < 1 ? 1 : seconds;
    view.limitName = this.names[i]!;
  }

  /**
   * RateLimit-Policy and RateLimit for the limit that rejected (rejectedIndex
   * ≥ 0, plus Retry-After from view.retryAfter) or, when admitted (-1), for
   * the most restrictive limit (fewest tokens left). Reflects the buckets as
   * the last precheck()/take() on this route saw them on this thread: call it
   * right after that call. The array is immutable and may be kept.
   */
  headers(view: RequestView, rejectedIndex: number): readonly string[] {
    if (rejectedIndex >= 0 && rejectedIndex < this.n) {
      return this.answers[rejectedIndex]!.rejectedWith(this.secondsToFull(rejectedIndex), view.retryAfter);
    }
    let best = -1;
    let bestR = Infinity;
    for (let i = 0; i < this.n; i++) {
      if (this.valid[i] === 0) continue;
      const level = this.levels[i]!;
      const r = level > 0 ? Math.floor(level / this.cost[i]!) | 0 : 0;
      if (r < bestR) {
        bestR = r;
        best = i;
      }
    }
    if (best < 0) return NO_HEADERS;
    return this.answers[best]!.admitted(bestR, this.secondsToFull(best));
  }

  /** RateLimit `t`: whole seconds until the bucket is full again. */
  private secondsToFull(i: number): number {
    const missing = this.cap[i]! - this.levels[i]!;
    return missing > 0 ? Math.ceil(missing / this.rate[i]! / 1000) | 0 : 0;
  }
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
      return new RouteLimiter(ls, ls.map((l) => answers.get(l.name)!), store, nowFn);
    },
    stats(): RateLimitStats[] {
      return limits.map((l) => ({ name: l.name, ...store.counters(l.dir) }));
    },
  };
}
