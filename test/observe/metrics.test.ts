import { afterEach, describe, expect, it } from 'vitest';
import { R } from '../../src/reasons.js';
import { createMetrics, DURATION_BOUNDS_US, isRejection, type Metrics } from '../../src/observe/metrics.js';
import { textToIp16 } from '../../src/observe/ip-text.js';
import { CountsHistogram, HDR_HIGHEST, latencyIndex } from '../../src/observe/shared-histogram.js';
import { parseProm } from './prom-parse.js';

const ROUTES = ['orders', 'health', 'we"ird\\name'];
const UPSTREAMS = ['orders-eu', 'orders-us'];
const AUTHNS = ['corp-jwt', 'keys'];
const LIMITS = ['per-ip', 'global'];

const open: Metrics[] = [];
function pair(): [Metrics, Metrics] {
  const base = { routes: ROUTES, upstreams: UPSTREAMS, authenticators: AUTHNS, limits: LIMITS, threads: 2, sampleThread: false };
  const m0 = createMetrics({ ...base, threadSlot: 0 });
  const m1 = createMetrics({ ...base, threadSlot: 1, buffer: m0.buffer });
  open.push(m0, m1);
  return [m0, m1];
}
afterEach(() => { while (open.length) open.pop()!.close(); });

const ip = (s: string) => textToIp16(s)!;

/** Known traffic over two thread slices (see the expectations below). */
function drive(m0: Metrics, m1: Metrics): void {
  const ORDERS = 0, HEALTH = 1, NONE = -1, EU = 0, US = 1, JWT = 0;
  for (const us of [1000, 2000, 3000, 4000, 5000]) {
    m0.recordRequest(ORDERS, 200, R.ok, us, EU, JWT);
    m0.recordUpstream(EU, us, false);
  }
  for (let i = 0; i < 3; i++) m0.recordRequest(ORDERS, 401, R.token_expired, 50, -1, JWT);
  for (let i = 0; i < 2; i++) m0.recordRequest(NONE, 404, R.route_not_found, 20, -1, -1);
  for (let i = 0; i < 4; i++) m0.recordRequest(HEALTH, 200, R.respond, 10, -1, -1);
  m0.connectionOpened(); m0.connectionOpened(); m0.connectionOpened(); m0.connectionClosed();

  for (let i = 0; i < 2; i++) { m1.recordRequest(ORDERS, 200, R.ok, 100_000, US, JWT); m1.recordUpstream(US, 3000, false); }
  m1.recordRequest(ORDERS, 429, R.rate_limited, 100_000, -1, -1); m1.recordRateLimited(0);
  for (let i = 0; i < 2; i++) m1.recordRequest(ORDERS, 403, R.missing_scope, 100_000, -1, JWT);
  m1.recordRequest(ORDERS, 502, R.upstream_error, 100_000, EU, JWT); m1.recordUpstream(EU, 2000, true);
  m1.recordRequest(ORDERS, 299, R.ok, 100_000, US, JWT);
  m1.recordRequest(ORDERS, 401, R.no_credentials, 50, -1, -1);
  m1.connectionOpened(); m1.connectionOpened();
}

describe('metrics registry', () => {
  it('counts requests by route, status and reason exactly, summing two thread slices', () => {
    const [m0, m1] = pair();
    drive(m0, m1);
    const p = parseProm(m0.renderPrometheus());
    const req = (route: string, status: string) => p.get('portcullis_requests_total', { route, status });
    expect(req('orders', '200')).toBe(7);
    expect(req('orders', '401')).toBe(4);
    expect(req('orders', '403')).toBe(2);
    expect(req('orders', '429')).toBe(1);
    expect(req('orders', '502')).toBe(1);
    expect(req('orders', '2xx')).toBe(1); // 299 is not a registered code: counted under its class
    expect(req('(no route)', '404')).toBe(2);
    expect(req('health', '200')).toBe(4);
    expect(p.sum('portcullis_requests_total')).toBe(22);

    const reason = (r: string) => p.sum('portcullis_requests_by_reason_total', { reason: r });
    expect(reason('ok')).toBe(8);
    expect(reason('token_expired')).toBe(3);
    expect(p.get('portcullis_requests_by_reason_total', { reason: 'route_not_found', stage: 'route' })).toBe(2);
    expect(reason('respond')).toBe(4);
    expect(reason('rate_limited')).toBe(1);
    expect(reason('missing_scope')).toBe(2);
    expect(reason('upstream_error')).toBe(1);

    expect(p.get('portcullis_authn_failures_total', { authenticator: 'corp-jwt', reason: 'token_expired' })).toBe(3);
    expect(p.get('portcullis_authn_failures_total', { authenticator: '(none)', reason: 'no_credentials' })).toBe(1);
    expect(p.sum('portcullis_authn_failures_total')).toBe(4);
    expect(p.get('portcullis_authz_denials_total', { reason: 'missing_scope' })).toBe(2);
    expect(p.get('portcullis_rate_limited_total', { limit: 'per-ip' })).toBe(1);
    expect(p.get('portcullis_rate_limited_total', { limit: 'global' })).toBe(0);

    expect(p.get('portcullis_upstream_requests_total', { upstream: 'orders-eu' })).toBe(6);
    expect(p.get('portcullis_upstream_errors_total', { upstream: 'orders-eu' })).toBe(1);
    expect(p.get('portcullis_upstream_requests_total', { upstream: 'orders-us' })).toBe(2);
    expect(p.get('portcullis_upstream_responses_total', { upstream: 'orders-eu', class: '2xx' })).toBe(5);
    expect(p.get('portcullis_upstream_responses_total', { upstream: 'orders-eu', class: '5xx' })).toBe(1);
    expect(p.get('portcullis_upstream_responses_total', { upstream: 'orders-us', class: '2xx' })).toBe(3);

    expect(p.get('portcullis_connections_open')).toBe(4);
    expect(p.get('portcullis_connections_total')).toBe(5);
    expect(p.get('portcullis_threads')).toBe(2);
    expect(p.get('process_resident_memory_bytes')).toBeGreaterThan(0);

    // Either thread's instance reads the same sums.
    const t1 = m1.totals();
    expect(t1.byClass[2]).toBe(12); // 2xx: 7 + 1 + 4
    expect(t1.byClass[4]).toBe(9);
    expect(t1.byClass[5]).toBe(1);
    expect(t1.byReason[R.token_expired]).toBe(3);
  });

  it('writes a request duration histogram whose buckets are cumulative, monotonic and end at the count', () => {
    const [m0, m1] = pair();
    drive(m0, m1);
    const p = parseProm(m0.renderPrometheus());
    expect(p.types.get('portcullis_request_duration_seconds')).toBe('histogram');
    const buckets = p.samples.filter((s) => s.name === 'portcullis_request_duration_seconds_bucket' && s.labels.route === 'orders');
    expect(buckets.map((b) => b.labels.le)).toEqual([...DURATION_BOUNDS_US.map((u) => String(u / 1e6)), '+Inf']);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    const at = (le: string) => buckets.find((b) => b.labels.le === le)!.value;
    expect(at('0.0005')).toBe(4);
    expect(at('0.001')).toBe(5);
    expect(at('0.0025')).toBe(6);
    expect(at('0.005')).toBe(9);
    expect(at('0.05')).toBe(9);
    expect(at('0.1')).toBe(16);
    expect(at('+Inf')).toBe(16);
    expect(p.get('portcullis_request_duration_seconds_count', { route: 'orders' })).toBe(16);
    expect(p.get('portcullis_request_duration_seconds_sum', { route: 'orders' })).toBeCloseTo(0.7152, 9);
    const up = p.samples.filter((s) => s.name === 'portcullis_upstream_duration_seconds_bucket' && s.labels.upstream === 'orders-eu');
    expect(up.at(-1)!.value).toBe(6);
  });

  it('takes percentiles from the hdr histogram across threads', () => {
    const [m0, m1] = pair();
    for (let ms = 1; ms <= 100; ms++) (ms % 2 ? m0 : m1).recordRequest(0, 200, R.ok, ms * 1000, -1, -1);
    const l = m0.latency(0);
    expect(l.count).toBe(100);
    expect(Math.abs(l.p50Ms - 50)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(l.p99Ms - 99)).toBeLessThanOrEqual(1);
    expect(Math.abs(l.maxMs - 100)).toBeLessThanOrEqual(1);
    expect(m1.latency('all').count).toBe(100);
    // A value beyond the tracked range is clamped, not thrown.
    m0.recordRequest(0, 504, R.gateway_timeout, 3_600_000_000, -1, -1);
    expect(m0.latency(0).count).toBe(101);
    const p = parseProm(m0.renderPrometheus());
    // Percentiles are the histograms' (histogram_quantile): no gauge with a quantile label.
    expect(p.samples.some((x) => 'quantile' in x.labels)).toBe(false);
  });

  it('indexes latencies exactly as hdr-histogram-js does, over the whole range', () => {
    const h = new CountsHistogram();
    const check = (v: number) => expect(latencyIndex(v), String(v)).toBe(h.countsArrayIndex(v));
    for (let v = 0; v < 70_000; v++) check(v);
    for (let b = 16; b < 26; b++) for (let k = -300; k <= 300; k++) check((1 << b) + k);
    for (let v = HDR_HIGHEST - 5000; v <= HDR_HIGHEST; v++) check(v);
    let x = 12345;
    for (let i = 0; i < 20_000; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; check(x % (HDR_HIGHEST + 1)); }
  });

  it('keeps recent rejections and the most rejected client addresses from every thread', () => {
    const [m0, m1] = pair();
    for (let i = 0; i < 3; i++) m0.recordRejection(0, 401, R.token_expired, ip('203.0.113.7'));
    m1.recordRejection(0, 429, R.rate_limited, ip('2001:db8::1'));
    for (let i = 0; i < 2; i++) m1.recordRejection(-1, 404, R.route_not_found, ip('203.0.113.7'));
    const recent = m0.recentRejections(50);
    expect(recent).toHaveLength(6);
    expect(recent.filter((r) => r.reason === 'token_expired' && r.route === 'orders' && r.ip === '203.0.113.7' && r.status === 401)).toHaveLength(3);
    expect(recent.filter((r) => r.reason === 'rate_limited' && r.ip === '2001:db8::1' && r.stage === 'ratelimit')).toHaveLength(1);
    expect(recent.filter((r) => r.route === '(no route)')).toHaveLength(2);
    for (let i = 1; i < recent.length; i++) expect(recent[i - 1]!.time).toBeGreaterThanOrEqual(recent[i]!.time);
    expect(recent.filter((r) => r.consumer === '' && r.limit === '')).toHaveLength(6);
    expect(m1.topRejectedIps(10)).toEqual([
      expect.objectContaining({ ip: '203.0.113.7', count: 5 }),
      expect.objectContaining({ ip: '2001:db8::1', count: 1 }),
    ]);
  });

  it('keeps the consumer and the limit that fired with each recent rejection', () => {
    const [m0, m1] = pair();
    m0.recordRejection(0, 429, R.rate_limited, ip('203.0.113.8'), 1, 'alice');
    m1.recordRejection(0, 403, R.missing_scope, ip('203.0.113.9'), -1, 'bob-' + 'x'.repeat(200));
    const recent = m0.recentRejections(10);
    expect(recent.find((r) => r.reason === 'rate_limited')).toMatchObject({ consumer: 'alice', limit: 'global', ip: '203.0.113.8' });
    const bob = recent.find((r) => r.reason === 'missing_scope')!;
    expect(bob.limit).toBe('');
    expect(bob.consumer).toBe(('bob-' + 'x'.repeat(200)).slice(0, 64)); // bounded
  });

  it('counts respond refusals as rejections, and neither respond 200s nor CORS preflights', () => {
    const [m0] = pair();
    m0.recordRequest(1, 403, R.respond, 10, -1, -1);
    m0.recordRequest(1, 200, R.respond, 10, -1, -1);
    m0.recordRequest(1, 204, R.cors_preflight, 10, -1, -1);
    m0.recordRequest(0, 401, R.token_expired, 10, -1, 0);
    const p = parseProm(m0.renderPrometheus());
    expect(p.get('portcullis_rejections_total', { reason: 'respond', stage: 'route' })).toBe(1);
    expect(p.get('portcullis_rejections_total', { reason: 'token_expired', stage: 'authn' })).toBe(1);
    expect(p.get('portcullis_rejections_total', { reason: 'cors_preflight', stage: 'route' })).toBeUndefined();
    expect(p.get('portcullis_requests_by_reason_total', { reason: 'respond', stage: 'route' })).toBe(2);
    expect(isRejection(R.respond, 403)).toBe(true);
    expect(isRejection(R.respond, 200)).toBe(false);
    expect(isRejection(R.cors_preflight, 204)).toBe(false);
    expect(isRejection(R.ok, 200)).toBe(false);
  });

  it('bounds the rejection ring and the address table under a flood', () => {
    const [m0] = pair();
    for (let i = 0; i < 5000; i++) m0.recordRejection(0, 429, R.rate_limited, ip(`198.51.${(i >> 8) & 255}.${i & 255}`));
    const recent = m0.recentRejections(1000);
    expect(recent.length).toBe(63);
    expect(recent[0]!.ip).toBe('198.51.19.135'); // the last one recorded (i = 4999)
    const top = m0.topRejectedIps(1000);
    expect(top.length).toBeLessThanOrEqual(128);
    // A heavy hitter among the flood is still found.
    for (let i = 0; i < 300; i++) m0.recordRejection(0, 401, R.bad_signature, ip('192.0.2.66'));
    expect(m0.topRejectedIps(1)[0]!.ip).toBe('192.0.2.66');
  });

  it('sums every thread\'s access-log counters', async () => {
    const [m0, m1] = pair();
    const { createAccessLog, createAccessEntry } = await import('../../src/observe/access-log.js');
    const sinkOf = (m: Metrics, fail: boolean) => createAccessLog({
      sample: 1, enabled: true, counters: m.accessLogCounters(), maxBufferBytes: 1,
      stdout: { write: (_c, cb) => { setImmediate(() => cb(fail ? new Error('EPIPE') : null)); return true; } },
    });
    const a = sinkOf(m0, false), b = sinkOf(m1, true);
    const e = createAccessEntry();
    a.write(e); a.write(e); // the second waits on a full buffer: dropped
    await a.flush();
    a.write(e);
    await a.flush();
    b.write(e);
    await b.flush();
    const p = parseProm(m0.renderPrometheus());
    expect(p.get('portcullis_access_log_lines_total')).toBe(2);
    expect(p.get('portcullis_access_log_dropped_total')).toBe(2);
    expect([a.written, a.dropped, b.written, b.dropped]).toEqual([2, 1, 0, 1]);
  });

  it('escapes label values and appends collectors', () => {
    const [m0] = pair();
    m0.recordRequest(2, 200, R.ok, 10, -1, -1);
    const text = m0.renderPrometheus([() => '# HELP x_jwt_cache_hits_total JWT cache hits.\n# TYPE x_jwt_cache_hits_total counter\nx_jwt_cache_hits_total 7']);
    const p = parseProm(text);
    expect(p.get('portcullis_requests_total', { route: 'we"ird\\name', status: '200' })).toBe(1);
    expect(p.get('x_jwt_cache_hits_total')).toBe(7);
  });

  it('refuses a shared buffer laid out for other names, with a message that says why', () => {
    const [m0] = pair();
    expect(() => createMetrics({ routes: ['only'], upstreams: [], authenticators: [], threads: 2, threadSlot: 1, buffer: m0.buffer }))
      .toThrow(/same routes, upstreams, authenticators, limits and threads/);
    expect(() => createMetrics({ routes: [], upstreams: [], authenticators: [], threads: 2, threadSlot: 2 })).toThrow(/threadSlot/);
  });

  it('publishes per-thread event-loop delay and heap when sampling', () => {
    const m = createMetrics({ routes: ['r'], upstreams: [], authenticators: [], threads: 1, threadSlot: 0 });
    open.push(m);
    const p = parseProm(m.renderPrometheus());
    expect(p.get('nodejs_heap_used_bytes', { thread: '0' })).toBeGreaterThan(0);
    const eld = p.get('portcullis_event_loop_delay_p99_seconds', { thread: '0' })!;
    expect(p.get('portcullis_event_loop_delay_max_seconds', { thread: '0' })).toBeGreaterThanOrEqual(eld);
    expect(eld).toBeGreaterThanOrEqual(0);
    expect(eld).toBeLessThan(30); // seconds, not ms or ns
  });
});
