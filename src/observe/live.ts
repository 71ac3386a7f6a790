// The dashboard's view of the gateway, recomputed once a second from the
// shared metrics: rates since the previous tick, a short history for the
// chart, recent latency percentiles, and the "who is being refused" tables.
// Runs on the admin thread; allocation is fine here.
import { R, REASONS } from '../reasons.js';
import {
  LATENCY_SLOTS, STATUS_CLASSES, summarizeLatency,
  type F64, type IpCount, type Metrics, type RejectionEvent,
} from './metrics.js';

export interface UpstreamHealth {
  readonly name: string;
  readonly healthy: boolean;
  /** Optional detail, e.g. "2/3 targets up". */
  readonly detail?: string;
}

export type ClassCounts = Record<(typeof STATUS_CLASSES)[number], number>;

export interface LiveSnapshot {
  /** Epoch ms of this tick. */
  readonly time: number;
  readonly uptimeSeconds: number;
  readonly totals: { readonly requests: number; readonly byClass: ClassCounts };
  /** Requests per second since the previous tick. */
  readonly rate: { readonly requests: number; readonly byClass: ClassCounts };
  /** Oldest first: one point per tick, rates per class (2xx…5xx). */
  readonly history: readonly { readonly t: number; readonly c2: number; readonly c3: number; readonly c4: number; readonly c5: number }[];
  /** Percentiles over the last `windowSeconds` (all routes). */
  readonly latency: { readonly windowSeconds: number; readonly count: number; readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number };
  /** Busiest routes since start (p50/p99 since start). */
  readonly routes: readonly { readonly name: string; readonly requests: number; readonly byClass: ClassCounts; readonly p50Ms: number; readonly p99Ms: number }[];
  /** Rejections by reason since start, most frequent first (status 0: a respond route, whose status is configured per route). */
  readonly reasons: readonly { readonly reason: string; readonly status: number; readonly stage: string; readonly count: number; readonly perSecond: number }[];
  readonly recentRejections: readonly RejectionEvent[];
  readonly topRejectedIps: readonly IpCount[];
  readonly upstreams: readonly {
    readonly name: string; readonly healthy: boolean | null; readonly detail: string;
    readonly requests: number; readonly errors: number; readonly meanMs: number;
  }[];
  /** 429s by the rate limit that answered them, since start. */
  readonly limits: readonly { readonly name: string; readonly rejected: number }[];
  readonly connections: number;
  /** WebSocket relays open now (null when the gateway relays none). */
  readonly websockets: number | null;
  readonly process: { readonly rssBytes: number; readonly heapUsedBytes: number; readonly eventLoopDelayP99Ms: number };
}

export interface LiveOptions {
  readonly metrics: Metrics;
  readonly upstreamHealth?: () => readonly UpstreamHealth[];
  readonly intervalMs?: number;
  /** Points kept for the chart (default 120). */
  readonly historyPoints?: number;
  /** Latency window in ticks (default 10). */
  readonly windowTicks?: number;
  readonly topRoutes?: number;
  /** WebSocket relays open now; absent = not shown. */
  readonly openWebSockets?: () => number;
}

export interface Live {
  /** The latest tick's snapshot. */
  snapshot(): LiveSnapshot;
  /** Computes a new snapshot now (the timer calls this every interval). */
  tick(): LiveSnapshot;
  close(): void;
}

function classCounts(a: ArrayLike<number>, off = 0): ClassCounts {
  return { other: a[off]!, '1xx': a[off + 1]!, '2xx': a[off + 2]!, '3xx': a[off + 3]!, '4xx': a[off + 4]!, '5xx': a[off + 5]! };
}

export function createLive(opts: LiveOptions): Live {
  const m = opts.metrics;
  const historyPoints = opts.historyPoints ?? 120;
  const windowTicks = Math.max(1, opts.windowTicks ?? 10);
  const topRoutes = opts.topRoutes ?? 10;
  const intervalMs = opts.intervalMs ?? 1000;

  let prevTime = Date.now();
  let prevByClass = new Float64Array(6);
  let prevRejected = new Float64Array(REASONS.length);
  const history: { t: number; c2: number; c3: number; c4: number; c5: number }[] = [];
  // Cumulative latency counts of the last windowTicks ticks: window = now − oldest.
  // Seeded with zeros: until the window has filled, it reaches back to the start.
  const latencyRing: F64[] = [new Float64Array(LATENCY_SLOTS)];
  let current: LiveSnapshot;
  let first = true;

  function tick(): LiveSnapshot {
    const now = Date.now();
    const dt = Math.max(0.001, (now - prevTime) / 1000);
    const t = m.totals();
    if (first) {
      // No previous tick: report rates from the next one rather than "everything since start in 1 ms".
      prevByClass = new Float64Array(t.byClass);
      prevRejected = new Float64Array(t.rejectedByReason);
      first = false;
    }
    const rate = new Float64Array(6);
    for (let c = 0; c < 6; c++) rate[c] = Math.max(0, t.byClass[c]! - prevByClass[c]!) / dt;
    history.push({ t: now, c2: rate[2]!, c3: rate[3]!, c4: rate[4]!, c5: rate[5]! });
    while (history.length > historyPoints) history.shift();

    const cur = m.latencyCounts('all');
    const oldest = latencyRing.length >= windowTicks ? latencyRing.shift()! : latencyRing[0];
    latencyRing.push(cur);
    const win = new Float64Array(LATENCY_SLOTS);
    for (let i = 0; i < LATENCY_SLOTS; i++) win[i] = cur[i]! - (oldest ? oldest[i]! : 0);
    const lat = summarizeLatency(win);

    const rows: { idx: number; total: number }[] = [];
    for (let r = 0; r < t.routeNames.length; r++) {
      let total = 0;
      for (let c = 0; c < 6; c++) total += t.byRouteClass[r * 6 + c]!;
      if (total > 0) rows.push({ idx: r, total });
    }
    rows.sort((a, b) => b.total - a.total);
    const routes = rows.slice(0, topRoutes).map(({ idx, total }) => {
      const l = m.latency(idx - 1);
      return { name: t.routeNames[idx]!, requests: total, byClass: classCounts(t.byRouteClass, idx * 6), p50Ms: l.p50Ms, p99Ms: l.p99Ms };
    });

    const reasons = [];
    // Refusals as counted when they happened (a respond route's 403 is one, its 200 is not).
    for (let i = 0; i < REASONS.length; i++) {
      const n = t.rejectedByReason[i]!;
      if (n === 0) continue;
      const r = REASONS[i]!;
      // A respond route refuses with whatever status it is configured with: 0 = not one status.
      reasons.push({ reason: r.code, status: i === R.respond ? 0 : r.status, stage: r.stage, count: n, perSecond: Math.max(0, n - prevRejected[i]!) / dt });
    }
    reasons.sort((a, b) => b.count - a.count);

    const health = new Map((opts.upstreamHealth?.() ?? []).map((h) => [h.name, h]));
    const upstreams = m.upstreams.map((name, i) => {
      const h = health.get(name);
      const n = t.upstreamRequests[i]!;
      return {
        name,
        healthy: h ? h.healthy : null,
        detail: h?.detail ?? '',
        requests: n,
        errors: t.upstreamErrors[i]!,
        meanMs: n > 0 ? Math.round(t.upstreamLatencySumMicros[i]! / n) / 1000 : 0,
      };
    });

    let requests = 0;
    for (let c = 0; c < 6; c++) requests += t.byClass[c]!;
    let ratePerSec = 0;
    for (let c = 0; c < 6; c++) ratePerSec += rate[c]!;

    current = {
      time: now,
      uptimeSeconds: Math.round(process.uptime()),
      totals: { requests, byClass: classCounts(t.byClass) },
      rate: { requests: ratePerSec, byClass: classCounts(rate) },
      history: history.slice(),
      latency: { windowSeconds: Math.round((windowTicks * intervalMs) / 1000), count: lat.count, p50Ms: lat.p50Ms, p99Ms: lat.p99Ms, maxMs: lat.maxMs },
      routes,
      reasons,
      recentRejections: m.recentRejections(50),
      topRejectedIps: m.topRejectedIps(10),
      upstreams,
      limits: m.limits.map((name, i) => ({ name, rejected: t.rateLimited[i]! })),
      connections: t.connectionsOpen,
      websockets: opts.openWebSockets ? opts.openWebSockets() : null,
      process: { rssBytes: process.memoryUsage.rss(), heapUsedBytes: t.heapUsedBytes, eventLoopDelayP99Ms: t.eventLoopDelayP99Ms },
    };
    prevTime = now;
    prevByClass = new Float64Array(t.byClass);
    prevRejected = new Float64Array(t.rejectedByReason);
    return current;
  }

  current = tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();

  return {
    snapshot: () => current,
    tick,
    close: () => clearInterval(timer),
  };
}
