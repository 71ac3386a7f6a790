// Where each counter lives in one thread's slice of the shared buffer.
// Rows are indexed by route + 1 so that "no route" (-1) is row 0:
//   requests by route × status slot, duration buckets by route, duration sum
//   by route, hdr latency counts by route, requests by reason, rejections by
//   reason, authn failures by authenticator × reason, upstream counters and
//   buckets, rate-limit rejections by limit, connections, per-thread gauges,
//   a ring of recent rejections and a small top-rejected-IP table (addresses
//   as bytes, consumers as UTF-16 units).
import { HDR_SLOTS } from '../shared-histogram.js';
import { S } from './statuses.js';
import { N } from './rejections.js';

/** Prometheus histogram upper bounds, in microseconds (exported in seconds). */
export const DURATION_BOUNDS_US: readonly number[] = [
  500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
  10_000_000, 30_000_000,
];
export const BOUNDS = Float64Array.from(DURATION_BOUNDS_US);
export const NB = BOUNDS.length;
/** Buckets per histogram row (+Inf included). */
export const B = NB + 1;

export const RING = 64; // recent rejections per thread
export const IPT = 128; // top-rejected-IP slots per thread
export const IP_PROBE = 8; // probe window: bounded work per rejection
/** UTF-16 units of a consumer name kept per ring entry (longer names are cut). */
export const CONSUMER_UNITS = 64;

export const NO_ROUTE = '(no route)';
export const NO_AUTHN = '(none)';

export const G_ELD_P50 = 0, G_ELD_P99 = 1, G_ELD_MAX = 2, G_HEAP_USED = 3, G_HEAP_TOTAL = 4, G_SAMPLED_AT = 5, G_COUNT = 6;
/** time ms, status, reason, route, limit index, consumer length. */
export const RING_FIELDS = 6;
export const I32_SEQ = 0, I32_IPVER = 1, I32_WORDS = 2;

export interface Layout {
  R1: number; A1: number; U: number; L: number;
  req: number; dur: number; durSum: number; hdr: number; reason: number; rejected: number; authn: number;
  upReq: number; upErr: number; upBucket: number; upSum: number; upClass: number;
  limit: number; conn: number; alog: number; gauge: number; ring: number; ipCount: number;
  f64Words: number;
  /** Byte offsets inside a slice. */
  ringIpBytes: number; ipTableBytes: number; consumerBytes: number; i32Bytes: number;
  sliceBytes: number;
}

export function layoutFor(R: number, A: number, U: number, L: number): Layout {
  const R1 = R + 1, A1 = A + 1;
  let o = 0;
  const take = (n: number) => { const at = o; o += n; return at; };
  const l = {
    R1, A1, U, L,
    req: take(R1 * S), dur: take(R1 * B), durSum: take(R1), hdr: take(R1 * HDR_SLOTS), reason: take(N), rejected: take(N),
    authn: take(A1 * N), upReq: take(U), upErr: take(U), upBucket: take(U * B), upSum: take(U), upClass: take(U * 6),
    limit: take(L), conn: take(2), alog: take(2), gauge: take(G_COUNT), ring: take(RING * RING_FIELDS), ipCount: take(IPT * 2),
  };
  const f64Words = o;
  const ringIpBytes = f64Words * 8;
  const ipTableBytes = ringIpBytes + RING * 16;
  const consumerBytes = ipTableBytes + IPT * 16;
  const i32Bytes = consumerBytes + RING * CONSUMER_UNITS * 2;
  const sliceBytes = i32Bytes + 8 * Math.ceil((I32_WORDS * 4) / 8);
  return { ...l, f64Words, ringIpBytes, ipTableBytes, consumerBytes, i32Bytes, sliceBytes };
}
