// Where finished requests are reported: this thread's metrics slice and the
// access log. Recording costs no allocation beyond the access-log line.
import type { Plan } from '../config/load.js';
import { createAccessEntry, createAccessLog, type AccessLog } from '../observe/access-log.js';
import { createMetrics, isRejection, type Metrics } from '../observe/metrics.js';
import { R, REASONS } from '../reasons.js';
import type { ObserveSink } from './pipeline.js';
import type { SharedState } from './stages.js';
import type { DetachedView, LiveView } from './view.js';

export interface SinkHandle {
  readonly sink: ObserveSink;
  readonly metrics: Metrics;
  readonly accessLog: AccessLog;
  /** New plan: returns the new metrics buffer when the layout (names) changed, for other threads. */
  reload(plan: Plan, buffer?: SharedArrayBuffer): SharedArrayBuffer | null;
  /** Reopens the access log file (SIGUSR1, logrotate). */
  reopen(): void;
  close(): Promise<void>;
}

function namesOf(plan: Plan) {
  const c = plan.config;
  return {
    routes: c.routes.map((r) => r.name),
    upstreams: Object.keys(c.upstreams),
    authenticators: Object.keys(c.authenticators),
    limits: Object.keys(c.rate_limits),
  };
}

/**
 * Per route: the index of its authenticator when it names exactly one, else -1.
 * A refused request has no identity, so without this every authentication
 * failure was counted (portcullis_authn_failures_total) and logged under no
 * authenticator at all. Chains of several still go unattributed: the pipeline
 * does not say which member refused.
 */
function soleAuthenticators(plan: Plan, authIndex: ReadonlyMap<string, number>): Int32Array {
  return Int32Array.from(plan.config.routes, (r) => (r.authenticate?.length === 1 ? authIndex.get(r.authenticate[0]!) ?? -1 : -1));
}

const IS_AUTHN_REASON = Uint8Array.from(REASONS, (r) => (r.stage === 'authn' ? 1 : 0));

function sameNames(a: ReturnType<typeof namesOf>, b: ReturnType<typeof namesOf>): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function makeSink(plan: Plan, shared: SharedState): SinkHandle {
  let names = namesOf(plan);
  let metrics = createMetrics({ ...names, threadSlot: shared.threadSlot, threads: shared.threads, buffer: shared.metricsBuffer });
  let authIndex = new Map(names.authenticators.map((n, i) => [n, i]));
  let routeAuthn = soleAuthenticators(plan, authIndex);
  let limitIndex = new Map(names.limits.map((n, i) => [n, i]));
  let routeNames = names.routes;
  let upstreamNames = names.upstreams;
  const al = plan.config.access_log;
  const accessLog = createAccessLog({
    path: al.path ? resolveFrom(plan, al.path) : undefined, sample: al.sample, enabled: al.enabled, counters: metrics.accessLogCounters(),
  });
  const e = createAccessEntry();
  const logging = al.enabled && al.sample > 0;

  const sink: ObserveSink = {
    request(v: LiveView | DetachedView, status, reason, micros, upstream, bytesOut, bytesIn, leg) {
      const id = v.identity;
      const route = v.routeIndex;
      let authn = id !== null ? authIndex.get(id.authenticator) ?? -1 : -1;
      // A refusal has no identity: name the route's authenticator when it has only one.
      if (id === null && IS_AUTHN_REASON[reason] === 1 && route >= 0 && route < routeAuthn.length) authn = routeAuthn[route]!;
      metrics.recordRequest(route, status, reason, micros, upstream, authn);
      const limited = reason === R.rate_limited ? limitIndex.get(v.limitName) ?? -1 : -1;
      if (isRejection(reason, status)) {
        metrics.recordRejection(route, status, reason, v.clientIp16, limited, id !== null ? id.consumer : '');
        if (limited >= 0) metrics.recordRateLimited(limited);
      }
      if (!logging) return;
      e.time = 0;
      e.requestId = v.requestId;
      e.traceId = v.traceId;
      e.clientIp = v.clientIp;
      e.method = v.method;
      e.host = v.host;
      e.path = v.path;
      e.route = route >= 0 ? routeNames[route] ?? '' : '';
      e.status = status;
      e.bytes = bytesOut;
      e.bytesIn = bytesIn;
      e.durationMs = micros / 1000;
      e.upstream = upstream >= 0 ? upstreamNames[upstream] ?? '' : '';
      e.upstreamTarget = leg !== undefined ? leg.upstreamTarget : '';
      e.upstreamStatus = leg !== undefined ? leg.upstreamStatus : 0;
      e.upstreamMs = leg !== undefined && leg.upstreamMicros >= 0 ? leg.upstreamMicros / 1000 : -1;
      e.authenticator = id !== null ? id.authenticator : authn >= 0 ? names.authenticators[authn] ?? '' : '';
      e.consumer = id !== null ? id.consumer : '';
      e.limit = v.limitName;
      e.userAgent = v.header('user-agent');
      e.reason = reason;
      accessLog.write(e);
    },
    upstream(index, micros, error) {
      metrics.recordUpstream(index, micros, error);
    },
  };

  return {
    sink,
    get metrics() { return metrics; },
    accessLog,
    reload(next, buffer) {
      const n = namesOf(next);
      let out: SharedArrayBuffer | null = null;
      if (!sameNames(n, names) || (buffer && buffer !== metrics.buffer)) {
        // Names index the counters: a new layout starts from zero.
        metrics.close();
        metrics = createMetrics({ ...n, threadSlot: shared.threadSlot, threads: shared.threads, buffer });
        accessLog.useCounters(metrics.accessLogCounters());
        out = metrics.buffer;
      }
      names = n;
      authIndex = new Map(n.authenticators.map((x, i) => [x, i]));
      routeAuthn = soleAuthenticators(next, authIndex);
      limitIndex = new Map(n.limits.map((x, i) => [x, i]));
      routeNames = n.routes;
      upstreamNames = n.upstreams;
      return out;
    },
    reopen() { void accessLog.reopen(); },
    async close() {
      metrics.close();
      await accessLog.close();
    },
  };
}

function resolveFrom(plan: Plan, p: string): string {
  return p.startsWith('/') ? p : `${plan.baseDir}/${p}`;
}
