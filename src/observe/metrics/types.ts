// The metrics registry's public face: what the hot path records and what the
// scrape side (admin thread, dashboard) reads.
import type { Collector } from '../prom.js';

/** A Float64Array over either kind of buffer. */
export type F64 = Float64Array<ArrayBufferLike>;

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

export interface RejectionEvent {
  readonly time: number;
  readonly status: number;
  readonly reason: string;
  readonly stage: string;
  readonly route: string;
  readonly ip: string;
  /** Consumer the request was authenticated as ('' when refused before or by authentication). */
  readonly consumer: string;
  /** Rate limit that fired ('' unless rate-limited). */
  readonly limit: string;
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
  /** Refusals by reason id (isRejection: includes respond routes answering 4xx/5xx). */
  readonly rejectedByReason: F64;
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
  /**
   * A request the gateway refused (isRejection): feeds the recent-rejections ring and the top-rejected-IP table. `limitIndex` is the
   * rate limit that fired (-1 = none), `consumer` who was refused ('' = unknown).
   */
  recordRejection(routeIndex: number, status: number, reasonId: number, clientIp16: Uint8Array, limitIndex?: number, consumer?: string): void;
  recordRateLimited(limitIndex: number): void;
  connectionOpened(): void;
  connectionClosed(): void;
  /** This thread's access-log counters, written [0] and dropped [1] (AccessLogOptions.counters). */
  accessLogCounters(): F64;

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
