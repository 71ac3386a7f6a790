// One configured slow-path service (external authentication, token
// introspection, an external authorizer) called through the worker pool:
// what every such caller does alike around its own answer reading — count
// calls and failures, warn (throttled), turn a call without a usable answer
// into the failure_mode result (a full queue: always overloaded), and let
// concurrent cache misses for one key share one call.
import type { RequestTrace, RequestView } from '../contracts.js';
import { runCallout, ThrottledWarn, type CalloutAnswer, type CalloutRequest } from './callout.js';
import type { WorkerPool } from './pool.js';

export interface ServiceCallOptions<R> {
  readonly pool: WorkerPool;
  readonly timeoutMs: number;
  /** The service in log lines, e.g. "introspection endpoint". */
  readonly service: string;
  /** The gateway's step in the log line for an unexpected error, e.g. "introspection". */
  readonly step: string;
  /** Fields every log line carries (the stage's name and URL). */
  readonly logFields: Record<string, unknown>;
  readonly failureMode: 'deny' | 'allow';
  /** The result when the service gives no usable answer (per failure_mode). */
  readonly onFailure: R;
  /** The result when the pool's queue is full, whatever failure_mode says. */
  readonly onOverloaded: R;
  /** The stage's own stats object: `calls` and `failures` are counted here. */
  readonly stats: { calls: number; failures: number };
}

export class ServiceCall<R> {
  readonly onFailure: R;
  private readonly o: ServiceCallOptions<R>;
  private readonly warn: ThrottledWarn;
  private readonly inflight = new Map<string, Promise<R>>();

  constructor(o: ServiceCallOptions<R>) {
    this.o = o;
    this.onFailure = o.onFailure;
    this.warn = new ThrottledWarn(o.logFields);
  }

  /**
   * Sends one request (counted). Never rejects: a failed call is an `ok: false` answer.
   * With a sampled request's trace, the call is its child span and carries its traceparent.
   */
  call(req: CalloutRequest, trace: RequestTrace | null = null): Promise<CalloutAnswer> {
    this.o.stats.calls++;
    if (trace === null) return runCallout(this.o.pool, req, this.o.timeoutMs);
    const span = trace.call(this.o.step, req.url);
    // A copy: callers reuse one headers object for every call.
    req.headers = { ...req.headers, traceparent: span.traceparent };
    return runCallout(this.o.pool, req, this.o.timeoutMs).then((a) => {
      span.end(a.ok ? a.status : 0, !a.ok);
      return a;
    });
  }

  /** The result for a call that got no answer: counted and logged. */
  noAnswer(a: CalloutAnswer & { ok: false }): R {
    this.o.stats.failures++;
    this.warn.warn(`${this.o.service} did not answer; applying failure_mode`, { error: a.error, detail: a.detail, failure_mode: this.o.failureMode });
    return a.error === 'overloaded' ? this.o.onOverloaded : this.o.onFailure;
  }

  /** The result for an answer the stage cannot read: counted and logged. */
  unreadable(status: number, hint?: string): R {
    this.o.stats.failures++;
    const fields = hint === undefined ? { status, failure_mode: this.o.failureMode } : { status, hint, failure_mode: this.o.failureMode };
    this.warn.warn(`${this.o.service} answered something unreadable; applying failure_mode`, fields);
    return this.o.onFailure;
  }

  /** The call already running for `key`, if any: a concurrent miss joins it. */
  pending(key: string): Promise<R> | undefined {
    return this.inflight.get(key);
  }

  /**
   * `p` with an unexpected error (a bug, never the service's answer) logged
   * and answered per failure_mode; with a key, later misses for it share `p`
   * until it settles.
   */
  start(p: Promise<R>, key: string | null): Promise<R> {
    const guarded = p.catch((e: unknown) => {
      this.warn.warn(`${this.o.step} failed unexpectedly; applying failure_mode`, { detail: String(e) });
      return this.o.onFailure;
    });
    if (key !== null) {
      this.inflight.set(key, guarded);
      void guarded.finally(() => this.inflight.delete(key));
    }
    return guarded;
  }
}

const SEND_ALL = Object.freeze({ request: true, ip: true });

/**
 * The headers sent to a service that judges a client request: JSON content
 * type, the request line as x-forwarded-method / -uri / -host (when
 * `what.request`) and the client address as x-forwarded-for (when `what.ip`),
 * and the configured request headers (`names[i]` with value `values[i]`, '' =
 * absent). Those sent are also written to `sent` (the JSON body's `headers`).
 * A header the service is not sent must not reach it by another way: its
 * answers are cached on what it is sent (src/workers/key-rule.ts).
 */
/**
 * A client value that no HTTP header can carry (a control character or DEL)
 * would make the call fail in the HTTP client — and a failure may mean
 * failure_mode: allow. The caller refuses the request instead (400
 * unsafe_header_value): a client-caused encoding error is never a service failure.
 */
export class UnsafeServiceValue extends Error {
  constructor(readonly header: string) {
    super(`header ${header} holds a character no header can carry`);
  }
}

const ODD = /[^\t\x20-\x7e]/;
/** A header value as bytes the HTTP client accepts: non-ASCII text as its UTF-8 bytes. Throws UnsafeServiceValue on controls. */
function headerBytes(name: string, v: string): string {
  if (!ODD.test(v)) return v;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) throw new UnsafeServiceValue(name);
  }
  return Buffer.from(v, 'utf8').toString('latin1');
}

export function serviceRequestHeaders(
  view: RequestView,
  names: readonly string[],
  values: readonly string[],
  sent: Record<string, string>,
  what: { readonly request: boolean; readonly ip: boolean } = SEND_ALL,
): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (what.request) {
    headers['x-forwarded-method'] = view.method;
    headers['x-forwarded-uri'] = headerBytes('x-forwarded-uri', view.query === '' ? view.path : `${view.path}?${view.query}`);
    headers['x-forwarded-host'] = headerBytes('x-forwarded-host', view.host);
  }
  if (what.ip) headers['x-forwarded-for'] = view.clientIp;
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    const v = values[i]!;
    if (v === '') continue;
    sent[n] = v; // the JSON body carries the text
    headers[n] = headerBytes(n, v);
  }
  return headers;
}
