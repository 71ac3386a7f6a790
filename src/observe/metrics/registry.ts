// The metrics registry. Every counter is a slot in a Float64Array over one
// SharedArrayBuffer; each event-loop thread owns one slice and is its only
// writer, so recording is a plain `a[i]++` (no atomics, no allocation, no
// strings), and the admin thread sums the slices when it is scraped.
// Float64 counts stay exact up to 2^53, far beyond any process lifetime.
import { HDR_HIGHEST, HDR_SLOTS, latencyIndex } from '../shared-histogram.js';
import type { Collector } from '../prom.js';
import { clockTime, touchClock } from '../../lib/clock.js';
import {
  B, BOUNDS, CONSUMER_UNITS, I32_IPVER, I32_SEQ, I32_WORDS, IP_PROBE, IPT, layoutFor, NB, RING, RING_FIELDS, type Layout,
} from './layout.js';
import { IS_AUTHN_FAILURE, IS_REFUSAL, N, RESPOND } from './rejections.js';
import { S, SLOT_CLASS, SLOT_OTHER, STATUS_SLOT } from './statuses.js';
import { startThreadSampler } from './thread-sampler.js';
import * as read from './read.js';
import { renderPrometheus } from './exposition.js';
import type { F64, IpCount, LatencySummary, Metrics, MetricsOptions, MetricsTotals, RejectionEvent } from './types.js';

class SharedMetrics implements Metrics {
  readonly buffer: SharedArrayBuffer;
  readonly routes: readonly string[];
  readonly upstreams: readonly string[];
  readonly authenticators: readonly string[];
  readonly limits: readonly string[];
  readonly threads: number;
  readonly threadSlot: number;

  readonly l: Layout;
  /** This thread's slice (or a private scratch slice for a reader). */
  private readonly f: F64;
  private readonly ipBytes: Uint8Array;
  private readonly consumerUnits: Uint16Array;
  private readonly i32: Int32Array;
  private stopSampler: (() => void) | null = null;

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
    this.consumerUnits = new Uint16Array(mem, base + this.l.consumerBytes, RING * CONSUMER_UNITS);
    this.i32 = new Int32Array(mem, base + this.l.i32Bytes, I32_WORDS);
    if (own && o.sampleThread !== false) this.stopSampler = startThreadSampler(this.f, this.l.gauge);
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
      if (IS_REFUSAL[reasonId] === 1 || (reasonId === RESPOND && status >= 400)) f[l.rejected + reasonId]!++;
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

  recordRejection(routeIndex: number, status: number, reasonId: number, clientIp16: Uint8Array, limitIndex = -1, consumer = ''): void {
    const l = this.l, f = this.f, bytes = this.ipBytes, i32 = this.i32, units = this.consumerUnits;
    // The ticking clock (a typed-array load; Date.now() is a heap number per call under a flood).
    touchClock();
    const now = clockTime[0]!;
    // Ring: fill the entry, then publish it by bumping the sequence (Atomics
    // orders the plain writes before it for a reader on another thread).
    const seq = i32[I32_SEQ]!;
    const at = seq & (RING - 1);
    const e = l.ring + at * RING_FIELDS;
    const cl = consumer.length < CONSUMER_UNITS ? consumer.length : CONSUMER_UNITS;
    f[e] = now; f[e + 1] = status; f[e + 2] = reasonId; f[e + 3] = routeIndex; f[e + 4] = limitIndex; f[e + 5] = cl;
    const cAt = at * CONSUMER_UNITS;
    for (let i = 0; i < cl; i++) units[cAt + i] = consumer.charCodeAt(i);
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
      const k = (start + p) & (IPT - 1);
      const c = f[l.ipCount + k * 2]!;
      // Slots are never emptied, so an address cannot sit past the first empty slot of its window.
      if (c === 0) { victim = k; victimCount = 0; break; }
      const off = RING * 16 + k * 16;
      let same = true;
      for (let i = 0; i < 16; i++) if (bytes[off + i] !== clientIp16[i]) { same = false; break; }
      if (same) { f[l.ipCount + k * 2]!++; f[l.ipCount + k * 2 + 1] = now; return; }
      if (c < victimCount) { victim = k; victimCount = c; }
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

  accessLogCounters(): F64 {
    return this.f.subarray(this.l.alog, this.l.alog + 2);
  }

  close(): void {
    this.stopSampler?.();
    this.stopSampler = null;
  }

  // ------------------------------------------------------------ scrape side

  latencyCounts(route: number | 'all', out?: F64): F64 { return read.latencyCounts(this, route, out); }
  latency(route: number | 'all'): LatencySummary { return read.summarizeLatency(read.latencyCounts(this, route)); }
  totals(): MetricsTotals { return read.totals(this); }
  recentRejections(max?: number): RejectionEvent[] { return read.recentRejections(this, max); }
  topRejectedIps(max?: number): IpCount[] { return read.topRejectedIps(this, max); }
  renderPrometheus(extra?: readonly Collector[]): string { return renderPrometheus(this, extra); }
}

/** Creates this thread's view of the metrics (see MetricsOptions). */
export function createMetrics(opts: MetricsOptions): Metrics {
  return new SharedMetrics(opts);
}
