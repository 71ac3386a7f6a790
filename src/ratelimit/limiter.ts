// One route's rate limits on the hot path: read each limit's key from the
// request view, find its bucket, take from all or none.
//
// A request without the key (no identity, missing/empty header, claim that
// is absent or not a string/number/boolean) is charged to the limit's shared
// bucket — the same bucket that takes keys finding no room in the table — so
// dropping the header never escapes the limit; it only joins everyone else
// who did.
//
// Multiple limits: take() is all-or-nothing by lock order (store/buckets.ts
// takeAll): every bucket is locked in ascending slot order, checked, and
// one token taken from each only if every one has a token.
import type { RequestView, RouteRateLimit } from '../contracts.js';
import { clockTime, touchClock } from '../lib/clock.js';
import { NO_HEADERS, type LimitAnswers } from './answers.js';
import type { LimitInfo } from './compile.js';
import { KIND_IP4, KIND_IP6, NOT_FOUND, STALE, type RateLimitStore } from './store/index.js';
import type { Buckets } from './store/buckets.js';
import type { Directory } from './store/directory.js';
import type { KeyIndex } from './store/keys.js';

const KEY_GLOBAL = 0;
const KEY_IP = 1;
const KEY_CONSUMER = 2;
const KEY_CLAIM = 3;
const KEY_HEADER = 4;
const MISSING = -3;

/** A limit keyed by `key` can be charged before authentication (global, ip, header:NAME). */
export function needsNoIdentity(key: string): boolean {
  return key === 'global' || key === 'ip' || key.startsWith('header:');
}

export class RouteLimiter implements RouteRateLimit {
  readonly names: readonly string[];
  private readonly n: number;
  private readonly keys: KeyIndex;
  private readonly buckets: Buckets;
  private readonly limits: Directory;
  /** The store's time slot, written once per call. */
  private readonly time: Float64Array;
  /** Injected clock, or null to read lib/clock.ts's clockTime (no boxed double). */
  private readonly nowFn: (() => number) | null;
  private readonly dirs: Int32Array;
  private readonly keyType: Int8Array;
  private readonly keyArg: string[];
  private readonly pre: Int32Array;
  private readonly answers: readonly LimitAnswers[];
  // the limits' units (store/buckets.ts): per token, per ms, capacity
  private readonly cost: Float64Array;
  private readonly rate: Float64Array;
  private readonly cap: Float64Array;
  // per-thread scratch, valid until the next call on this route
  private readonly slots: Int32Array;
  private readonly gens: Int32Array;
  private readonly levels: Float64Array;
  private readonly valid: Uint8Array;
  /** The route's limits that need no identity (global, ip, header): charged when authentication refuses. */
  private readonly preAuth: RouteLimiter | null;

  /** See RouteRateLimit.chargeRefused: a 401 still spends its per-IP token. */
  chargeRefused(view: RequestView): void {
    const p = this.preAuth;
    if (p !== null) p.take(view);
  }

  constructor(limits: readonly LimitInfo[], answers: readonly LimitAnswers[], store: RateLimitStore, nowFn: (() => number) | null, preAuth: RouteLimiter | null) {
    const n = limits.length;
    this.n = n;
    this.keys = store.keys;
    this.buckets = store.buckets;
    this.limits = store.limits;
    this.time = store.time;
    this.nowFn = nowFn;
    this.preAuth = preAuth;
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
      if (needsNoIdentity(k)) pre.push(i);
    });
    this.pre = Int32Array.from(pre);
    this.answers = answers;
    this.cost = Float64Array.from(limits, (l) => store.limits.costU(l.dir));
    this.rate = Float64Array.from(limits, (l) => store.limits.rateU(l.dir));
    this.cap = Float64Array.from(limits, (l) => store.limits.capU(l.dir));
    this.slots = new Int32Array(n);
    this.gens = new Int32Array(n);
    this.levels = new Float64Array(n);
    this.valid = new Uint8Array(n);
  }

  /** Finds (or creates, with insert) limit i's bucket for this request; sets slots[i]/gens[i]. */
  private resolve(i: number, view: RequestView, insert: boolean): number {
    const st = this.keys;
    const gens = this.gens;
    const d = this.dirs[i]!;
    let slot = MISSING;
    switch (this.keyType[i]) {
      case KEY_IP: {
        const ip = view.clientIp16;
        slot = view.clientIsV4 ? st.findBytes(d, KIND_IP4, ip, 12, 4, insert, gens, i) : st.findBytes(d, KIND_IP6, ip, 0, 8, insert, gens, i);
        break;
      }
      case KEY_CONSUMER: {
        const id = view.identity;
        if (id !== null && id.consumer !== '') slot = st.findString(d, id.consumer, insert, gens, i);
        break;
      }
      case KEY_CLAIM: {
        const id = view.identity;
        if (id !== null) {
          const v = id.claims[this.keyArg[i]!];
          if (typeof v === 'string') {
            if (v !== '') slot = st.findString(d, v, insert, gens, i);
          } else if (typeof v === 'number') {
            slot = st.findNumber(d, v, insert, gens, i);
          } else if (typeof v === 'boolean') {
            slot = st.findBool(d, v, insert, gens, i);
          }
        }
        break;
      }
      case KEY_HEADER: {
        const h = view.header(this.keyArg[i]!);
        if (h !== '') slot = st.findString(d, h, insert, gens, i);
        break;
      }
      default:
        break;
    }
    if (slot === MISSING) {
      // global, or the key is missing: the limit's shared bucket
      slot = this.limits.fixedSlot(d);
      gens[i] = -1;
    }
    this.slots[i] = slot;
    return slot;
  }

  precheck(view: RequestView): number {
    const pre = this.pre;
    const np = pre.length;
    if (np === 0) return -1;
    this.setTime();
    const levels = this.levels;
    for (let i = 0; i < this.n; i++) this.valid[i] = 0;
    let worst = -1;
    let worstWait = -1;
    for (let k = 0; k < np; k++) {
      const i = pre[k]!;
      const slot = this.resolve(i, view, false);
      if (slot === NOT_FOUND) levels[i] = this.cap[i]!;
      else this.buckets.peek(slot, this.gens[i]!, this.dirs[i]!, levels, i);
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
    this.setTime();
    let r = STALE;
    for (let attempt = 0; attempt < 4 && r === STALE; attempt++) {
      if (attempt === 3) {
        // keys keep changing hands under us (pathological churn): charge the shared buckets
        for (let i = 0; i < n; i++) {
          this.slots[i] = this.limits.fixedSlot(this.dirs[i]!);
          this.gens[i] = -1;
        }
      } else {
        for (let i = 0; i < n; i++) this.resolve(i, view, true);
      }
      r = this.buckets.takeAll(n, this.slots, this.gens, this.dirs, this.levels);
    }
    for (let i = 0; i < n; i++) this.valid[i] = 1;
    if (r === -1) {
      for (let i = 0; i < n; i++) this.limits.countAdmitted(this.dirs[i]!);
      return -1;
    }
    this.reject(view, r, Math.ceil((this.cost[r]! - this.levels[r]!) / this.rate[r]! / 1000) | 0);
    return r;
  }

  /** Writes the current time into the store (no boxed double on the default clock). */
  private setTime(): void {
    if (this.nowFn !== null) {
      this.time[0] = this.nowFn();
      return;
    }
    touchClock();
    this.time[0] = clockTime[0]!;
  }

  private reject(view: RequestView, i: number, seconds: number): void {
    this.limits.countRejected(this.dirs[i]!);
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

