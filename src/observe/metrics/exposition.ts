// /metrics text for the registry's own counters, summed over every thread.
// Every family passes `promtool check metrics`: counters end in _total,
// latency percentiles come from the histograms (histogram_quantile), and the
// per-thread event-loop gauges are separate families rather than a gauge with
// a `quantile` label.
import { REASONS } from '../../reasons.js';
import { family, histogramSamples, type Collector, type Sample } from '../prom.js';
import {
  B, BOUNDS, G_ELD_MAX, G_ELD_P50, G_ELD_P99, G_HEAP_TOTAL, G_HEAP_USED, G_SAMPLED_AT, NO_AUTHN, NO_ROUTE,
} from './layout.js';
import { IS_AUTHZ_DENIAL, N } from './rejections.js';
import { S, STATUS_CLASSES, STATUS_LABELS } from './statuses.js';
import { slice, sum, type Slices } from './slices.js';
import { processFamilies } from './process.js';

export function renderPrometheus(s: Slices, extra: readonly Collector[] = []): string {
  const l = s.l;
  const routeName = (row: number) => (row === 0 ? NO_ROUTE : s.routes[row - 1]!);
  let out = '';

  const req = sum(s, l.req, l.R1 * S);
  const reqSamples: Sample[] = [];
  for (let r = 0; r < l.R1; r++) {
    for (let k = 0; k < S; k++) {
      const v = req[r * S + k]!;
      if (v > 0) reqSamples.push([{ route: routeName(r), status: STATUS_LABELS[k]! }, v]);
    }
  }
  out += family('portcullis_requests_total', 'counter', 'Requests answered, by route and status code (unlisted codes as their class, e.g. 4xx).', reqSamples);

  const dur = sum(s, l.dur, l.R1 * B);
  const durSum = sum(s, l.durSum, l.R1);
  out += '# HELP portcullis_request_duration_seconds Time from request start to the last byte of the answer, by route.\n';
  out += '# TYPE portcullis_request_duration_seconds histogram\n';
  for (let r = 0; r < l.R1; r++) {
    const counts = dur.subarray(r * B, r * B + B);
    let n = 0;
    for (let i = 0; i < B; i++) n += counts[i]!;
    if (n === 0 && r === 0) continue;
    out += histogramSamples('portcullis_request_duration_seconds', { route: routeName(r) }, BOUNDS, counts, durSum[r]!, 1e6);
  }

  const reasons = sum(s, l.reason, N);
  const rejected = sum(s, l.rejected, N);
  const rs: Sample[] = [], rj: Sample[] = [], az: Sample[] = [];
  for (let i = 0; i < N; i++) {
    const r = REASONS[i]!;
    if (reasons[i]! > 0) rs.push([{ reason: r.code, stage: r.stage }, reasons[i]!]);
    if (rejected[i]! > 0) rj.push([{ reason: r.code, stage: r.stage }, rejected[i]!]);
    if (IS_AUTHZ_DENIAL[i] === 1 && reasons[i]! > 0) az.push([{ reason: r.code }, reasons[i]!]);
  }
  out += family('portcullis_requests_by_reason_total', 'counter', 'Requests by how they ended (reason code from the one table; stage that decided).', rs);
  out += family('portcullis_rejections_total', 'counter', 'Requests the gateway refused, by reason and stage (respond routes answering 4xx/5xx under reason "respond").', rj);
  out += family('portcullis_authz_denials_total', 'counter', 'Authorization denials by reason.', az);

  const authn = sum(s, l.authn, l.A1 * N);
  const as: Sample[] = [];
  for (let a = 0; a < l.A1; a++) {
    for (let i = 0; i < N; i++) {
      const v = authn[a * N + i]!;
      if (v > 0) as.push([{ authenticator: a === 0 ? NO_AUTHN : s.authenticators[a - 1]!, reason: REASONS[i]!.code }, v]);
    }
  }
  out += family('portcullis_authn_failures_total', 'counter', 'Authentication failures by authenticator and reason.', as);

  const lim = sum(s, l.limit, l.L);
  out += family('portcullis_rate_limited_total', 'counter', 'Requests rejected with 429, by the limit that rejected them.',
    s.limits.map((name, i) => [{ limit: name }, lim[i]!] as const));

  const upReq = sum(s, l.upReq, l.U), upErr = sum(s, l.upErr, l.U), upSum = sum(s, l.upSum, l.U);
  const upB = sum(s, l.upBucket, l.U * B), upClass = sum(s, l.upClass, l.U * 6);
  out += family('portcullis_upstream_requests_total', 'counter', 'Requests sent to each upstream.', s.upstreams.map((u, i) => [{ upstream: u }, upReq[i]!] as const));
  out += family('portcullis_upstream_errors_total', 'counter', 'Upstream requests that failed (connect error, reset, timeout).', s.upstreams.map((u, i) => [{ upstream: u }, upErr[i]!] as const));
  const uc: Sample[] = [];
  s.upstreams.forEach((u, i) => {
    for (let c = 0; c < 6; c++) if (upClass[i * 6 + c]! > 0) uc.push([{ upstream: u, class: STATUS_CLASSES[c]! }, upClass[i * 6 + c]!]);
  });
  out += family('portcullis_upstream_responses_total', 'counter', 'Answers to proxied requests by upstream and status class.', uc);
  out += '# HELP portcullis_upstream_duration_seconds Upstream response time (request sent to response headers), by upstream.\n';
  out += '# TYPE portcullis_upstream_duration_seconds histogram\n';
  s.upstreams.forEach((u, i) => {
    out += histogramSamples('portcullis_upstream_duration_seconds', { upstream: u }, BOUNDS, upB.subarray(i * B, i * B + B), upSum[i]!, 1e6);
  });

  const conn = sum(s, l.conn, 2);
  out += family('portcullis_connections_open', 'gauge', 'Client connections open now.', [[null, conn[0]! - conn[1]!]]);
  out += family('portcullis_connections_total', 'counter', 'Client connections accepted.', [[null, conn[0]!]]);
  const alog = sum(s, l.alog, 2);
  out += family('portcullis_access_log_lines_total', 'counter', 'Access-log lines written (all threads).', [[null, alog[0]!]]);
  out += family('portcullis_access_log_dropped_total', 'counter', 'Access-log lines dropped because the log could not keep up or failed (all threads).', [[null, alog[1]!]]);

  const p50: Sample[] = [], p99: Sample[] = [], max: Sample[] = [], heapU: Sample[] = [], heapT: Sample[] = [];
  for (let t = 0; t < s.threads; t++) {
    const f = slice(s, t);
    if (f[l.gauge + G_SAMPLED_AT] === 0) continue;
    const th = { thread: String(t) };
    p50.push([th, f[l.gauge + G_ELD_P50]!]);
    p99.push([th, f[l.gauge + G_ELD_P99]!]);
    max.push([th, f[l.gauge + G_ELD_MAX]!]);
    heapU.push([th, f[l.gauge + G_HEAP_USED]!]);
    heapT.push([th, f[l.gauge + G_HEAP_TOTAL]!]);
  }
  out += family('portcullis_event_loop_delay_p50_seconds', 'gauge', 'Median event-loop delay of each event-loop thread over the last second.', p50);
  out += family('portcullis_event_loop_delay_p99_seconds', 'gauge', '99th-percentile event-loop delay of each event-loop thread over the last second.', p99);
  out += family('portcullis_event_loop_delay_max_seconds', 'gauge', 'Longest event-loop delay of each event-loop thread over the last second.', max);
  out += family('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use, per thread.', heapU);
  out += family('nodejs_heap_total_bytes', 'gauge', 'V8 heap reserved, per thread.', heapT);
  out += processFamilies(s.threads);

  for (const c of extra) {
    const text = c();
    if (text) out += text.endsWith('\n') ? text : text + '\n';
  }
  return out;
}
