// The dashboard's reads: totals, latency counts, recent rejections and the
// top rejected addresses, merged over every thread's slice.
import { REASONS } from '../../reasons.js';
import { CountsHistogram, HDR_SLOTS } from '../shared-histogram.js';
import { ip16ToText } from '../ip-text.js';
import {
  CONSUMER_UNITS, G_ELD_P99, G_HEAP_USED, I32_IPVER, I32_SEQ, I32_WORDS, IPT, NO_ROUTE, RING, RING_FIELDS,
} from './layout.js';
import { N } from './rejections.js';
import { S, SLOT_CLASS, STATUS_LABELS } from './statuses.js';
import { slice, sum, type Slices } from './slices.js';
import type { F64, IpCount, LatencySummary, MetricsTotals, RejectionEvent } from './types.js';

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

export function latencyCounts(s: Slices, route: number | 'all', out: F64 = new Float64Array(HDR_SLOTS)): F64 {
  const l = s.l;
  if (route !== 'all') return sum(s, l.hdr + (route + 1) * HDR_SLOTS, HDR_SLOTS, out);
  out.fill(0);
  for (let t = 0; t < s.threads; t++) {
    const f = slice(s, t);
    for (let r = 0; r < l.R1; r++) {
      const o = l.hdr + r * HDR_SLOTS;
      for (let i = 0; i < HDR_SLOTS; i++) out[i]! += f[o + i]!;
    }
  }
  return out;
}

export function totals(s: Slices): MetricsTotals {
  const l = s.l;
  const req = sum(s, l.req, l.R1 * S);
  const byRouteClass = new Float64Array(l.R1 * 6);
  const byClass = new Float64Array(6);
  const byStatus: Record<string, number> = {};
  for (let r = 0; r < l.R1; r++) {
    for (let k = 0; k < S; k++) {
      const v = req[r * S + k]!;
      if (v === 0) continue;
      byRouteClass[r * 6 + SLOT_CLASS[k]!]! += v;
      byClass[SLOT_CLASS[k]!]! += v;
      byStatus[STATUS_LABELS[k]!] = (byStatus[STATUS_LABELS[k]!] ?? 0) + v;
    }
  }
  const conn = sum(s, l.conn, 2);
  let eld = 0, heap = 0;
  for (let t = 0; t < s.threads; t++) {
    const f = slice(s, t);
    eld = Math.max(eld, f[l.gauge + G_ELD_P99]!);
    heap += f[l.gauge + G_HEAP_USED]!;
  }
  return {
    routeNames: [NO_ROUTE, ...s.routes],
    byRouteClass,
    byClass,
    byStatus,
    byReason: sum(s, l.reason, N),
    rejectedByReason: sum(s, l.rejected, N),
    upstreamRequests: sum(s, l.upReq, l.U),
    upstreamErrors: sum(s, l.upErr, l.U),
    upstreamLatencySumMicros: sum(s, l.upSum, l.U),
    rateLimited: sum(s, l.limit, l.L),
    connectionsOpen: conn[0]! - conn[1]!,
    connectionsTotal: conn[0]!,
    eventLoopDelayP99Ms: eld * 1000,
    heapUsedBytes: heap,
  };
}

export function recentRejections(s: Slices, max = 50): RejectionEvent[] {
  const l = s.l;
  const out: RejectionEvent[] = [];
  for (let t = 0; t < s.threads; t++) {
    const base = t * l.sliceBytes;
    const i32 = new Int32Array(s.buffer, base + l.i32Bytes, I32_WORDS);
    const f = slice(s, t);
    const bytes = new Uint8Array(s.buffer, base + l.ringIpBytes, RING * 16);
    const units = new Uint16Array(s.buffer, base + l.consumerBytes, RING * CONSUMER_UNITS);
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
      const limit = f[e + 4]!;
      const cl = f[e + 5]!;
      got.push({
        time: f[e]!,
        status: f[e + 1]!,
        reason: reason?.code ?? 'unknown',
        stage: reason?.stage ?? 'gateway',
        route: route >= 0 && route < s.routes.length ? s.routes[route]! : NO_ROUTE,
        ip: ip16ToText(bytes, at * 16),
        consumer: cl > 0 ? String.fromCharCode(...units.subarray(at * CONSUMER_UNITS, at * CONSUMER_UNITS + cl)) : '',
        limit: limit >= 0 && limit < s.limits.length ? s.limits[limit]! : '',
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

export function topRejectedIps(s: Slices, max = 10): IpCount[] {
  const l = s.l;
  const merged = new Map<string, { count: number; last: number }>();
  for (let t = 0; t < s.threads; t++) {
    const base = t * l.sliceBytes;
    const i32 = new Int32Array(s.buffer, base + l.i32Bytes, I32_WORDS);
    const f = slice(s, t);
    const bytes = new Uint8Array(s.buffer, base + l.ipTableBytes, IPT * 16);
    let rows: { ip: string; count: number; last: number }[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const v0 = Atomics.load(i32, I32_IPVER);
      rows = [];
      for (let k = 0; k < IPT; k++) {
        const c = f[l.ipCount + k * 2]!;
        if (c > 0) rows.push({ ip: ip16ToText(bytes, k * 16), count: c, last: f[l.ipCount + k * 2 + 1]! });
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
