// The metrics registry. Every counter is a slot in a Float64Array over one
// SharedArrayBuffer; each event-loop thread owns one slice and is its only
// writer, so recording is a plain `a[i]++` (no atomics, no allocation, no
// strings), and the admin thread sums the slices when it is scraped.
// Float64 counts stay exact up to 2^53, far beyond any process lifetime.
//
// Layout of one thread's slice (all f64 unless noted), rows indexed by
// route + 1 so that "no route" (-1) is row 0:
//   requests by route × status slot, duration buckets by route, duration sum
//   by route, hdr latency counts by route, requests by reason, authn failures
//   by authenticator × reason, upstream counters and buckets, rate-limit
//   rejections by limit, connections, per-thread gauges, a ring of recent
//   rejections and a small top-rejected-IP table (addresses as bytes).
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { REASONS } from '../reasons.js';
import { CountsHistogram, HDR_HIGHEST, HDR_SLOTS, latencyIndex } from './shared-histogram.js';
import { family, formatValue, histogramSamples, labelText, type Collector, type Sample } from './prom.js';
import { ip16ToText } from './ip-text.js';
import { clockTime, touchClock } from '../lib/clock.js';

export type { Collector } from './prom.js';

/** A Float64Array over either kind of buffer. */
export type F64 = Float64Array<ArrayBufferLike>;

// ---------------------------------------------------------------- statuses

/** Status codes counted under their own label; anything else under its class ("4xx") or "other". */
const KNOWN_STATUSES = [
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423,
  424, 425, 426, 428, 429, 431, 444, 451, 499, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
] as const;
const STATUS_LABELS: readonly string[] = [...KNOWN_STATUSES.map(String), '1xx', '2xx', '3xx', '4xx', '5xx', 'other'];
const S = STATUS_LABELS.length;
const SLOT_OTHER = S - 1;
/** status (0…599) → slot. */
const STATUS_SLOT = new Uint8Array(600).fill(SLOT_OTHER);
for (let c = 1; c <= 5; c++) for (let s = c * 100; s < c * 100 + 100; s++) STATUS_SLOT[s] = KNOWN_STATUSES.length + c - 1;
KNOWN_STATUSES.forEach((s, i) => (STATUS_SLOT[s] = i));
/** slot → class 1…5, 0 = other. */
const SLOT_CLASS = new Uint8Array(S);
for (let s = 0; s < 600; s++) SLOT_CLASS[STATUS_SLOT[s]!] = s >= 100 ? Math.floor(s / 100) : 0;
SLOT_CLASS[SLOT_OTHER] = 0;

/** Status classes, in the order of every `byClass` array: other, 1xx … 5xx. */
export const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

// ---------------------------------------------------------------- reasons

const N = REASONS.length;
/** Reasons that count as an authentication failure / authorization denial. */
const IS_AUTHN_FAILURE = new Uint8Array(N);
const IS_AUTHZ_DENIAL = new Uint8Array(N);
REASONS.forEach((r, i) => {
  if (r.stage === 'authn') IS_AUTHN_FAILURE[i] = 1;
  if (r.stage === 'authz') IS_AUTHZ_DENIAL[i] = 1;
});
/** Reasons that are not a rejection: the request was answered as configured. */
export function isRejection(reasonId: number): boolean {
  const c = REASONS[reasonId]?.code;
  return c !== undefined && c !== 'ok' && c !== 'respond';
}

// ---------------------------------------------------------------- buckets

/** Prometheus histogram upper bounds, in microseconds (exported in seconds). */
export const DURATION_BOUNDS_US: readonly number[] = [
  500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
  10_000_000, 30_000_000,
];
const BOUNDS = Float64Array.from(DURATION_BOUNDS_US);
const NB = BOUNDS.length;
const B = NB + 1; // + Inf

const RING = 64; // recent rejections per thread
const IPT = 128; // top-rejected-IP slots per thread
const IP_PROBE = 8; // probe window: bounded work per rejection

const NO_ROUTE = '(no route)';
const NO_AUTHN = '(none)';

// ---------------------------------------------------------------- layout

export interface MetricsOptions {
  /** Route names in plan order (routeIndex indexes this). */
  readonly routes: readonly string[];
  readonly upstreams: readonly string[];
  readonly authenticators: readonly string[];
  /** Rate-limit names (recordRateLimited's index); optional. */
  readonly limits?: readonly string[];
  /** This thread's slice, 0 ≤ threadSlot < threads; -1 = reader only (records go nowhere). */
  readonly threadSlot: number;
  readonly threads: number;
  /** The shared buffer from the instance that created it (`metrics.buffer`); allocated when absent. */
  readonly buffer?: SharedArrayBuffer;
  /** Sample this thread's event-loop delay and heap every second (default true for writers). */
  readonly sampleThread?: boolean;
}

interface Layout {
  R1: number; A1: number; U: number; L: number;
  req: number; dur: number; durSum: number; hdr: number; reason: number; authn: number;
  upReq: number; upErr: number; upBucket: number; upSum: number; upClass: number;
  limit: number; conn: number; gauge: number; ring: number; ipCount: number;
  f64Words: number;
  /** Byte offsets inside a slice. */
  ringIpBytes: number; ipTableBytes: number; i32Bytes: number;
  sliceBytes: number;
}

const G_ELD_P50 = 0, G_ELD_P99 = 1, G_ELD_MAX = 2, G_HEAP_USED = 3, G_HEAP_TOTAL = 4, G_SAMPLED_AT = 5, G_COUNT = 6;
const RING_FIELDS = 4; // time ms, status, reason, route
const I32_SEQ = 0, I32_IPVER = 1, I32_WORDS = 2;

function layoutFor(R: number, A: number, U: number, L: number): Layout {
  const R1 = R + 1, A1 = A + 1;
  let o = 0;
  const take = (n: number) => { const at = o; o += n; return at; };
  const l = {
    R1, A1, U, L,
    req: take(R1 * S), dur: take(R1 * B), durSum: take(R1), hdr: take(R1 * HDR_SLOTS), reason: take(N),
    authn: take(A1 * N), upReq: take(U), upErr: take(U), upBucket: take(U * B), upSum: take(U), upClass: take(U * 6),
    limit: take(L), conn: take(2), gauge: take(G_COUNT), ring: take(RING * RING_FIELDS), ipCount: take(IPT * 2),
  };
  const f64Words = o;
  const ringIpBytes = f64Words * 8;
  const ipTableBytes = ringIpBytes + RING * 16;
  const i32Bytes = ipTableBytes + IPT * 16;
  const sliceBytes = i32Bytes + 8 * Math.ceil((I32_WORDS * 4) / 8);
  return { ...l, f64Words, ringIpBytes, ipTableBytes, i32Bytes, sliceBytes };
}

// ---------------------------------------------------------------- public types

export interface RejectionEvent {
  readonly time: number;
  readonly status: number;
  readonly reason: string;
  readonly stage: string;
  readonly route: string;
  readonly ip: string;
}

export interface IpCount {
  readonly ip: string;
  /** Rejections counted for this address (Space-Saving: may overestimate a newcomer by the count it displaced). */
  readonly count: number;
  readonly last: number;
}

/** Counters summed over all threads, as the dashboard needs them. */
export interface MetricsTotals {
  /** Route names; index 0 is "(no route)", then the plan's routes. */
  readonly routeNames: readonly string[];
  /** Requests by route row × status class (STATUS_CLASSES order): rows × 6. */
  readonly byRouteClass: F64;
  /** Requests by status class (STATUS_CLASSES order). */
  readonly byClass: F64;
  /** Requests by status code label (e.g. "200", "4xx"). Only non-zero entries. */
  readonly byStatus: Readonly<Record<string, number>>;
  /** Requests by reason id. */
  readonly byReason: F64;
  readonly upstreamRequests: F64;
  readonly upstreamErrors: F64;
  readonly upstreamLatencySumMicros: F64;
  readonly rateLimited: F64;
  readonly connectionsOpen: number;
  readonly connectionsTotal: number;
  /** Worst p99 event-loop delay of any thread in the last second, ms. */
  readonly eventLoopDelayP99Ms: number;
  /** Sum of V8 heap used over all threads. */
  readonly heapUsedBytes: number;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface Metrics {
  readonly buffer: SharedArrayBuffer;
  readonly routes: readonly string[];
  readonly upstreams: readonly string[];
  readonly authenticators: readonly string[];
  readonly limits: readonly string[];
  readonly threads: number;
  readonly threadSlot: number;

  // hot path (this thread's slice; no allocation)
  recordRequest(routeIndex: number, status: number, reasonId: number, durationMicros: number, upstreamIndex: number, authnIndex: number): void;
  recordUpstream(upstreamIndex: number, latencyMicros: number, error: boolean): void;
  /** A request the gateway refused: feeds the recent-rejections ring and the top-rejected-IP table. */
  recordRejection(routeIndex: number, status: number, reasonId: number, clientIp16: Uint8Array): void;
  recordRateLimited(limitIndex: number): void;
  connectionOpened(): void;
  connectionClosed(): void;

  // scrape side (any thread; sums all slices; allocates)
  renderPrometheus(extra?: readonly Collector[]): string;
  totals(): MetricsTotals;
  /** hdr latency counts summed over threads for one route index (-1 = no route) or 'all'. */
  latencyCounts(route: number | 'all', out?: F64): F64;
  latency(route: number | 'all'): LatencySummary;
  recentRejections(max?: number): RejectionEvent[];
  topRejectedIps(max?: number): IpCount[];
  /** Stops this thread's sampler. */
  close(): void;
}

/** Percentiles of a latency-counts array (from latencyCounts or a difference of two). */
export function summarizeLatency(counts: F64): LatencySummary {
  const h = new CountsHistogram(counts).refresh();
  const ms = (us: number) => Math.round(us) / 1000;
  if (h.totalCount === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0 };
  return {
    count: h.totalCount,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    maxMs: ms(h.maxValue),
  };
}

export { HDR_SLOTS as LATENCY_SLOTS };

// ---------------------------------------------------------------- implementation

class SharedMetrics implements Metrics {
  readonly buffer: SharedArrayBuffer;
  readonly routes: readonly string[];
  readonly upstreams: readonly string[];
  readonly authenticators: readonly string[];
  readonly limits: readonly string[];
  readonly threads: number;
  readonly threadSlot: number;

  private readonly l: Layout;
  /** This thread's slice (or a private scratch slice for a reader). */
  private readonly f: F64;
  private readonly ipBytes: Uint8Array;
  private readonly i32: Int32Array;
  private sampler: NodeJS.Timeout | null = null;
  private eld: IntervalHistogram | null = null;

  constructor(o: MetricsOptions) {
    if (!Number.isInteger(o.threads) || o.threads < 1) throw new Error(`metrics: threads must be a positive integer, got ${o.threads}`);
    if (!Number.isInteger(o.threadSlot) || o.threadSlot < -1 || o.threadSlot >= o.threads) {
      throw new Error(`metrics: threadSlot must be -1 or 0…${o.threads - 1}, got ${o.threadSlot}`);
    }
    this.routes = [...o.routes];
    this.upstreams = [...o.upstreams];
    this.authenticators = [...o.authenticators];
    this.limits = [...(o.limits ?? [])];
    this.threads = o.threads;
    this.threadSlot = o.threadSlot;
    this.l = layoutFor(this.routes.length, this.authenticators.length, this.upstreams.length, this.limits.length);
    const need = this.l.sliceBytes * o.threads;
    if (o.buffer && o.buffer.byteLength !== need) {
      throw new Error(`metrics: shared buffer is ${o.buffer.byteLength} bytes but these names and ${o.threads} threads need ${need}; create every thread's Metrics with the same routes, upstreams, authenticators, limits and threads`);
    }
    this.buffer = o.buffer ?? new SharedArrayBuffer(need);
    const own = o.threadSlot >= 0;
    const mem = own ? this.buffer : new ArrayBuffer(this.l.sliceBytes);
    const base = own ? o.threadSlot * this.l.sliceBytes : 0;
    this.f = new Float64Array(mem, base, this.l.f64Words);
    this.ipBytes = new Uint8Array(mem, base + this.l.ringIpBytes, RING * 16 + IPT * 16);
    this.i32 = new Int32Array(mem, base + this.l.i32Bytes, I32_WORDS);
    if (own && o.sampleThread !== false) this.startSampler();
  }

  // ------------------------------------------------------------ hot path

  recordRequest(routeIndex: number, status: number, reasonId: number, durationMicros: number, upstreamIndex: number, authnIndex: number): void {
    const l = this.l, f = this.f;
    const row = routeIndex + 1 >= 0 && routeIndex + 1 < l.R1 ? routeIndex + 1 : 0;
    const slot = status >= 0 && status < 600 ? STATUS_SLOT[status]! : SLOT_OTHER;
    f[l.req + row * S + slot]!++;
    let us = durationMicros > 0 ? durationMicros : 0;
    let b = 0;
    while (b < NB && us > BOUNDS[b]!) b++;
    f[l.dur + row * B + b]!++;
    f[l.durSum + row]! += us;
    if (us > HDR_HIGHEST) us = HDR_HIGHEST;
    f[l.hdr + row * HDR_SLOTS + latencyIndex(us | 0)]!++;
    if (reasonId >= 0 && reasonId < N) {
      f[l.reason + reasonId]!++;
      if (IS_AUTHN_FAILURE[reasonId] === 1) {
        const a = authnIndex + 1 >= 0 && authnIndex + 1 < l.A1 ? authnIndex + 1 : 0;
        f[l.authn + a * N + reasonId]!++;
      }
    }
    if (upstreamIndex >= 0 && upstreamIndex < l.U) f[l.upClass + upstreamIndex * 6 + SLOT_CLASS[slot]!]!++;
  }

  recordUpstream(upstreamIndex: number, latencyMicros: number, error: boolean): void {
    const l = this.l, f = this.f;
    if (upstreamIndex < 0 || upstreamIndex >= l.U) return;
    const us = latencyMicros > 0 ? latencyMicros : 0;
    f[l.upReq + upstreamIndex]!++;
    if (error) f[l.upErr + upstreamIndex]!++;
    let b = 0;
    while (b < NB && us > BOUNDS[b]!) b++;
    f[l.upBucket + upstreamIndex * B + b]!++;
    f[l.upSum + upstreamIndex]! += us;
  }

  recordRejection(routeIndex: number, status: number, reasonId: number, clientIp16: Uint8Array): void {
    const l = this.l, f = this.f, bytes = this.ipBytes, i32 = this.i32;
    // The ticking clock (a typed-array load; Date.now() is a heap number per call under a flood).
    touchClock();
    const now = clockTime[0]!;
    // Ring: fill the entry, then publish it by bumping the sequence (Atomics
    // orders the plain writes before it for a reader on another thread).
    const seq = i32[I32_SEQ]!;
    const at = seq & (RING - 1);
    const e = l.ring + at * RING_FIELDS;
    f[e] = now; f[e + 1] = status; f[e + 2] = reasonId; f[e + 3] = routeIndex;
    const ipAt = at * 16;
    for (let i = 0; i < 16; i++) bytes[ipAt + i] = clientIp16[i]!;
    Atomics.store(i32, I32_SEQ, (seq + 1) | 0);

    // Top rejected IPs: Space-Saving within a small probe window, so the
    // table is bounded and the work per rejection is at most IP_PROBE compares.
    let h = 0x811c9dc5;
    for (let i = 0; i < 16; i++) h = Math.imul(h ^ clientIp16[i]!, 0x01000193);
    const start = (h >>> 0) & (IPT - 1);
    let victim = -1, victimCount = Infinity;
    for (let p = 0; p < IP_PROBE; p++) {
      const s = (start + p) & (IPT - 1);
      const c = f[l.ipCount + s * 2]!;
      // Slots are never emptied, so an address cannot sit past the first empty slot of its window.
      if (c === 0) { victim = s; victimCount = 0; break; }
      const off = RING * 16 + s * 16;
      let same = true;
      for (let i = 0; i < 16; i++) if (bytes[off + i] !== clientIp16[i]) { same = false; break; }
      if (same) { f[l.ipCount + s * 2]!++; f[l.ipCount + s * 2 + 1] = now; return; }
      if (c < victimCount) { victim = s; victimCount = c; }
    }
    // Replacing an address: a version bump around it lets the reader detect a torn copy.
    Atomics.add(i32, I32_IPVER, 1);
    const off = RING * 16 + victim * 16;
    for (let i = 0; i < 16; i++) bytes[off + i] = clientIp16[i]!;
    f[l.ipCount + victim * 2] = victimCount + 1;
    f[l.ipCount + victim * 2 + 1] = now;
    Atomics.add(i32, I32_IPVER, 1);
  }

  recordRateLimited(limitIndex: number): void {
    if (limitIndex >= 0 && limitIndex < this.l.L) this.f[this.l.limit + limitIndex]!++;
  }

  connectionOpened(): void {
    this.f[this.l.conn]!++;
  }

  connectionClosed(): void {
    this.f[this.l.conn + 1]!++;
  }

  // ------------------------------------------------------------ per-thread sampler

  private startSampler(): void {
    const eld = monitorEventLoopDelay({ resolution: 10 });
    eld.enable();
    this.eld = eld;
    const g = this.l.gauge, f = this.f;
    const sample = () => {
      f[g + G_ELD_P50] = eld.count > 0 ? eld.percentile(50) / 1e9 : 0;
      f[g + G_ELD_P99] = eld.count > 0 ? eld.percentile(99) / 1e9 : 0;
      f[g + G_ELD_MAX] = eld.count > 0 ? eld.max / 1e9 : 0;
      const hs = getHeapStatistics();
      f[g + G_HEAP_USED] = hs.used_heap_size;
      f[g + G_HEAP_TOTAL] = hs.total_heap_size;
      f[g + G_SAMPLED_AT] = Date.now();
      eld.reset();
    };
    sample();
    this.sampler = setInterval(sample, 1000);
    this.sampler.unref();
  }

  close(): void {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = null;
    this.eld?.disable();
    this.eld = null;
  }

  // ------------------------------------------------------------ scrape side

  private slice(t: number): F64 {
    return new Float64Array(this.buffer, t * this.l.sliceBytes, this.l.f64Words);
  }

  /** Sum of [off, off+len) over all threads. */
  private sum(off: number, len: number, out: F64 = new Float64Array(len)): F64 {
    out.fill(0);
    for (let t = 0; t < this.threads; t++) {
      const s = this.slice(t);
      for (let i = 0; i < len; i++) out[i]! += s[off + i]!;
    }
    return out;
  }

  latencyCounts(route: number | 'all', out: F64 = new Float64Array(HDR_SLOTS)): F64 {
    const l = this.l;
    if (route !== 'all') return this.sum(l.hdr + (route + 1) * HDR_SLOTS, HDR_SLOTS, out);
    out.fill(0);
    for (let t = 0; t < this.threads; t++) {
      const s = this.slice(t);
      for (let r = 0; r < l.R1; r++) {
        const o = l.hdr + r * HDR_SLOTS;
        for (let i = 0; i < HDR_SLOTS; i++) out[i]! += s[o + i]!;
      }
    }
    return out;
  }

  latency(route: number | 'all'): LatencySummary {
    return summarizeLatency(this.latencyCounts(route));
  }

  totals(): MetricsTotals {
    const l = this.l;
    const req = this.sum(l.req, l.R1 * S);
    const byRouteClass = new Float64Array(l.R1 * 6);
    const byClass = new Float64Array(6);
    const byStatus: Record<string, number> = {};
    for (let r = 0; r < l.R1; r++) {
      for (let s = 0; s < S; s++) {
        const v = req[r * S + s]!;
        if (v === 0) continue;
        byRouteClass[r * 6 + SLOT_CLASS[s]!]! += v;
        byClass[SLOT_CLASS[s]!]! += v;
        byStatus[STATUS_LABELS[s]!] = (byStatus[STATUS_LABELS[s]!] ?? 0) + v;
      }
    }
    const conn = this.sum(l.conn, 2);
    let eld = 0, heap = 0;
    for (let t = 0; t < this.threads; t++) {
      const s = this.slice(t);
      eld = Math.max(eld, s[l.gauge + G_ELD_P99]!);
      heap += s[l.gauge + G_HEAP_USED]!;
    }
    return {
      routeNames: [NO_ROUTE, ...this.routes],
      byRouteClass,
      byClass,
      byStatus,
      byReason: this.sum(l.reason, N),
      upstreamRequests: this.sum(l.upReq, l.U),
      upstreamErrors: this.sum(l.upErr, l.U),
      upstreamLatencySumMicros: this.sum(l.upSum, l.U),
      rateLimited: this.sum(l.limit, l.L),
      connectionsOpen: conn[0]! - conn[1]!,
      connectionsTotal: conn[0]!,
      eventLoopDelayP99Ms: eld * 1000,
      heapUsedBytes: heap,
    };
  }

  recentRejections(max = 50): RejectionEvent[] {
    const l = this.l;
    const out: RejectionEvent[] = [];
    for (let t = 0; t < this.threads; t++) {
      const base = t * l.sliceBytes;
      const i32 = new Int32Array(this.buffer, base + l.i32Bytes, I32_WORDS);
      const f = this.slice(t);
      const bytes = new Uint8Array(this.buffer, base + l.ringIpBytes, RING * 16);
      // Newest first; the slot after `end` may be mid-write, so at most RING - 1 entries.
      const end = Atomics.load(i32, I32_SEQ);
      const got: RejectionEvent[] = [];
      const seqs: number[] = [];
      for (let k = 1; k < RING; k++) {
        const q = (end - k) | 0;
        const at = q & (RING - 1);
        const e = l.ring + at * RING_FIELDS;
        if (f[e] === 0) break; // never written
        const reason = REASONS[f[e + 2]!];
        const route = f[e + 3]!;
        got.push({
          time: f[e]!,
          status: f[e + 1]!,
          reason: reason?.code ?? 'unknown',
          stage: reason?.stage ?? 'gateway',
          route: route >= 0 && route < this.routes.length ? this.routes[route]! : NO_ROUTE,
          ip: ip16ToText(bytes, at * 16),
        });
        seqs.push(q);
      }
      // Entries the writer overwrote while we copied are dropped, not shown torn
      // (sequence arithmetic is modulo 2^32, so it survives wrap-around).
      const after = Atomics.load(i32, I32_SEQ);
      for (let k = 0; k < got.length; k++) if (((after - seqs[k]!) | 0) <= RING - 1) out.push(got[k]!);
    }
    out.sort((a, b) => b.time - a.time);
    return out.slice(0, max);
  }

  topRejectedIps(max = 10): IpCount[] {
    const l = this.l;
    const merged = new Map<string, { count: number; last: number }>();
    for (let t = 0; t < this.threads; t++) {
      const base = t * l.sliceBytes;
      const i32 = new Int32Array(this.buffer, base + l.i32Bytes, I32_WORDS);
      const f = this.slice(t);
      const bytes = new Uint8Array(this.buffer, base + l.ipTableBytes, IPT * 16);
      let rows: { ip: string; count: number; last: number }[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const v0 = Atomics.load(i32, I32_IPVER);
        rows = [];
        for (let s = 0; s < IPT; s++) {
          const c = f[l.ipCount + s * 2]!;
          if (c > 0) rows.push({ ip: ip16ToText(bytes, s * 16), count: c, last: f[l.ipCount + s * 2 + 1]! });
        }
        const v1 = Atomics.load(i32, I32_IPVER);
        if (v0 === v1 && (v0 & 1) === 0) break;
      }
      for (const r of rows) {
        const m = merged.get(r.ip);
        if (m) { m.count += r.count; m.last = Math.max(m.last, r.last); } else merged.set(r.ip, { count: r.count, last: r.last });
      }
    }
    return [...merged].map(([ip, v]) => ({ ip, count: v.count, last: v.last }))
      .sort((a, b) => b.count - a.count || b.last - a.last)
      .slice(0, max);
  }

  renderPrometheus(extra: readonly Collector[] = []): string {
    const l = this.l;
    const routeName = (row: number) => (row === 0 ? NO_ROUTE : this.routes[row - 1]!);
    let out = '';

    const req = this.sum(l.req, l.R1 * S);
    const reqSamples: Sample[] = [];
    for (let r = 0; r < l.R1; r++) {
      for (let s = 0; s < S; s++) {
        const v = req[r * S + s]!;
        if (v > 0) reqSamples.push([{ route: routeName(r), status: STATUS_LABELS[s]! }, v]);
      }
    }
    out += family('portcullis_requests_total', 'counter', 'Requests answered, by route and status code (unlisted codes as their class, e.g. 4xx).', reqSamples);

    const dur = this.sum(l.dur, l.R1 * B);
    const durSum = this.sum(l.durSum, l.R1);
    out += '# HELP portcullis_request_duration_seconds Time from request start to the last byte of the answer, by route.\n';
    out += '# TYPE portcullis_request_duration_seconds histogram\n';
    for (let r = 0; r < l.R1; r++) {
      const counts = dur.subarray(r * B, r * B + B);
      let n = 0;
      for (let i = 0; i < B; i++) n += counts[i]!;
      if (n === 0 && r === 0) continue;
      out += histogramSamples('portcullis_request_duration_seconds', { route: routeName(r) }, BOUNDS, counts, durSum[r]!, 1e6);
    }

    const q: Sample[] = [];
    const counts = new Float64Array(HDR_SLOTS);
    for (let r = 0; r < l.R1; r++) {
      const sm = summarizeLatency(this.latencyCounts(r - 1, counts));
      if (sm.count === 0) continue;
      q.push([{ route: routeName(r), quantile: '0.5' }, sm.p50Ms / 1000]);
      q.push([{ route: routeName(r), quantile: '0.9' }, sm.p90Ms / 1000]);
      q.push([{ route: routeName(r), quantile: '0.99' }, sm.p99Ms / 1000]);
    }
    out += family('portcullis_request_duration_quantile_seconds', 'gauge', 'Request duration percentiles since start (HdrHistogram, 1% precision), by route.', q);

    const reasons = this.sum(l.reason, N);
    const rs: Sample[] = [];
    const az: Sample[] = [];
    for (let i = 0; i < N; i++) {
      const v = reasons[i]!;
      if (v === 0) continue;
      const r = REASONS[i]!;
      rs.push([{ reason: r.code, stage: r.stage }, v]);
      if (IS_AUTHZ_DENIAL[i] === 1) az.push([{ reason: r.code }, v]);
    }
    out += family('portcullis_requests_by_reason_total', 'counter', 'Requests by how they ended (reason code from the one table; stage that decided).', rs);
    out += family('portcullis_authz_denials_total', 'counter', 'Authorization denials by reason.', az);

    const authn = this.sum(l.authn, l.A1 * N);
    const as: Sample[] = [];
    for (let a = 0; a < l.A1; a++) {
      for (let i = 0; i < N; i++) {
        const v = authn[a * N + i]!;
        if (v > 0) as.push([{ authenticator: a === 0 ? NO_AUTHN : this.authenticators[a - 1]!, reason: REASONS[i]!.code }, v]);
      }
    }
    out += family('portcullis_authn_failures_total', 'counter', 'Authentication failures by authenticator and reason.', as);

    const lim = this.sum(l.limit, l.L);
    out += family('portcullis_rate_limited_total', 'counter', 'Requests rejected with 429, by the limit that rejected them.',
      this.limits.map((name, i) => [{ limit: name }, lim[i]!] as const));

    const upReq = this.sum(l.upReq, l.U), upErr = this.sum(l.upErr, l.U), upSum = this.sum(l.upSum, l.U);
    const upB = this.sum(l.upBucket, l.U * B), upClass = this.sum(l.upClass, l.U * 6);
    out += family('portcullis_upstream_requests_total', 'counter', 'Requests sent to each upstream.', this.upstreams.map((u, i) => [{ upstream: u }, upReq[i]!] as const));
    out += family('portcullis_upstream_errors_total', 'counter', 'Upstream requests that failed (connect error, reset, timeout).', this.upstreams.map((u, i) => [{ upstream: u }, upErr[i]!] as const));
    const uc: Sample[] = [];
    this.upstreams.forEach((u, i) => {
      for (let c = 0; c < 6; c++) if (upClass[i * 6 + c]! > 0) uc.push([{ upstream: u, class: STATUS_CLASSES[c]! }, upClass[i * 6 + c]!]);
    });
    out += family('portcullis_upstream_responses_total', 'counter', 'Answers to proxied requests by upstream and status class.', uc);
    out += '# HELP portcullis_upstream_duration_seconds Upstream response time (request sent to response headers), by upstream.\n';
    out += '# TYPE portcullis_upstream_duration_seconds histogram\n';
    this.upstreams.forEach((u, i) => {
      out += histogramSamples('portcullis_upstream_duration_seconds', { upstream: u }, BOUNDS, upB.subarray(i * B, i * B + B), upSum[i]!, 1e6);
    });

    const conn = this.sum(l.conn, 2);
    out += family('portcullis_connections_open', 'gauge', 'Client connections open now.', [[null, conn[0]! - conn[1]!]]);
    out += family('portcullis_connections_total', 'counter', 'Client connections accepted.', [[null, conn[0]!]]);

    const eld: Sample[] = [], heapU: Sample[] = [], heapT: Sample[] = [];
    for (let t = 0; t < this.threads; t++) {
      const s = this.slice(t);
      if (s[l.gauge + G_SAMPLED_AT] === 0) continue;
      const th = String(t);
      eld.push([{ thread: th, quantile: '0.5' }, s[l.gauge + G_ELD_P50]!]);
      eld.push([{ thread: th, quantile: '0.99' }, s[l.gauge + G_ELD_P99]!]);
      eld.push([{ thread: th, quantile: '1' }, s[l.gauge + G_ELD_MAX]!]);
      heapU.push([{ thread: th }, s[l.gauge + G_HEAP_USED]!]);
      heapT.push([{ thread: th }, s[l.gauge + G_HEAP_TOTAL]!]);
    }
    out += family('portcullis_event_loop_delay_seconds', 'gauge', 'Event-loop delay of each event-loop thread over the last second.', eld);
    out += family('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use, per thread.', heapU);
    out += family('nodejs_heap_total_bytes', 'gauge', 'V8 heap reserved, per thread.', heapT);
    out += processFamilies(this.threads);

    for (const c of extra) {
      const text = c();
      if (text) out += text.endsWith('\n') ? text : text + '\n';
    }
    return out;
  }
}

const startedAt = Date.now() - process.uptime() * 1000;

function processFamilies(threads: number): string {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  let s = family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [[null, mem.rss]]);
  s += family('process_heap_bytes', 'gauge', 'V8 heap used by the thread answering the scrape, plus external memory.', [[null, mem.heapUsed + mem.external]]);
  s += family('process_cpu_seconds_total', 'counter', 'User and system CPU time spent, in seconds.', [[null, (cpu.user + cpu.system) / 1e6]]);
  s += family('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch, in seconds.', [[null, Math.floor(startedAt / 1000)]]);
  s += family('portcullis_threads', 'gauge', 'Event-loop threads.', [[null, threads]]);
  return s;
}

/** Creates this thread's view of the metrics (see MetricsOptions). */
export function createMetrics(opts: MetricsOptions): Metrics {
  return new SharedMetrics(opts);
}

// Re-exported for collectors written elsewhere.
export { family, formatValue, labelText };
