// One sampled request's spans: the gateway's SERVER span (from arrival to the
// end of the answer) and a CLIENT span per call it makes (the upstream,
// callouts). Built only for sampled requests; the unsampled path never gets here.
// Attributes carry no secret: the path without its query (a query may hold a
// token), the consumer id (never its claims), the route name and reason code.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import type { RequestTrace, TraceCall } from '../contracts.js';
import { REASONS } from '../reasons.js';
import { formatTraceparent, type ParsedParent } from './traceparent.js';

/** What the gateway span reads from the request view. */
export interface TracedView {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly clientIp: string;
  readonly proto?: 'http' | 'https';
  readonly routeIndex: number;
  readonly identity: { readonly consumer: string } | null;
}

/** server.address / server.port / url.full (no query, no userinfo) of a call's URL, cached per URL. */
const callAttrs = new Map<string, Attributes>();
function attributesOf(url: string): Attributes {
  let a = callAttrs.get(url);
  if (a === undefined) {
    try {
      const u = new URL(url);
      const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
      a = Object.freeze({ 'server.address': u.hostname, 'server.port': port, 'url.full': `${u.origin}${u.pathname}` });
    } catch {
      a = Object.freeze({});
    }
    if (callAttrs.size < 1024) callAttrs.set(url, a);
  }
  return a;
}

class Call implements TraceCall {
  readonly traceparent: string;
  ended = false;
  constructor(readonly span: Span, traceId: string) {
    this.traceparent = formatTraceparent(traceId, span.spanContext().spanId);
  }

  end(status: number, error: boolean): void {
    if (this.ended) return;
    this.ended = true;
    if (status > 0) this.span.setAttribute('http.response.status_code', status);
    if (error || status >= 500) this.span.setStatus({ code: SpanStatusCode.ERROR });
    this.span.end(performance.now());
  }
}

export class GatewayTrace implements RequestTrace {
  readonly traceId: string;
  private readonly span: Span;
  private readonly ctx: Context;
  private readonly calls: Call[] = [];
  private finished = false;

  constructor(
    private readonly tracer: Tracer,
    private readonly routeNames: readonly string[],
    parent: ParsedParent | null,
    tracestate: string,
    v: TracedView,
    startedAt: number,
  ) {
    let parentCtx = ROOT_CONTEXT;
    if (parent !== null) {
      let state: TraceState | undefined;
      if (tracestate !== '') state = new TraceState(tracestate);
      parentCtx = trace.setSpanContext(ROOT_CONTEXT, { traceId: parent.traceId(), spanId: parent.spanId(), traceFlags: 1, isRemote: true, traceState: state });
    }
    this.span = tracer.startSpan(v.method, {
      kind: SpanKind.SERVER,
      startTime: startedAt,
      attributes: {
        'http.request.method': v.method,
        'url.path': v.path,
        'url.scheme': v.proto ?? 'http',
        'server.address': v.host,
        'client.address': v.clientIp,
      },
    }, parentCtx);
    this.traceId = this.span.spanContext().traceId;
    this.ctx = trace.setSpan(ROOT_CONTEXT, this.span);
  }

  call(name: string, url: string): TraceCall {
    const span = this.tracer.startSpan(name, { kind: SpanKind.CLIENT, startTime: performance.now(), attributes: attributesOf(url) }, this.ctx);
    const c = new Call(span, this.traceId);
    if (!this.finished) this.calls.push(c);
    return c;
  }

  /** Ends the gateway span (and any call still open: it outlived the request) with what the request ended as. */
  finish(v: TracedView, status: number, reason: number, endedAt: number): void {
    if (this.finished) return;
    this.finished = true;
    for (const c of this.calls) c.end(0, false);
    const s = this.span;
    const route = v.routeIndex >= 0 ? this.routeNames[v.routeIndex] : undefined;
    if (route !== undefined) {
      s.setAttribute('http.route', route);
      s.updateName(`${v.method} ${route}`);
    }
    s.setAttribute('http.response.status_code', status);
    s.setAttribute('portcullis.reason', REASONS[reason]?.code ?? 'unknown');
    if (v.identity !== null) s.setAttribute('portcullis.consumer', v.identity.consumer);
    if (status >= 500) s.setStatus({ code: SpanStatusCode.ERROR });
    s.end(endedAt);
  }
}
