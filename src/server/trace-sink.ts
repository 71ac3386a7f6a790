// tracing's two touch points on the server side: a sampled request's gateway
// span ends where the request is reported (every way a request ends passes
// ObserveSink.request), and the export counters as Prometheus text.
import type { ObserveSink } from './pipeline.js';
import { traceStats } from '../trace/index.js';
import { family } from '../observe/prom.js';

export function withTraces(sink: ObserveSink): ObserveSink {
  return {
    request(view, status, reason, micros, upstream, bytesOut, bytesIn, leg) {
      const t = view.trace;
      if (t !== null) t.finish(view, status, reason, performance.now());
      sink.request(view, status, reason, micros, upstream, bytesOut, bytesIn, leg);
    },
    upstream(index, micros, error) {
      sink.upstream(index, micros, error);
    },
  };
}

/** This thread's span export counters. */
export function traceCollector(): string {
  return family('portcullis_trace_spans_exported_total', 'counter', 'Spans the OTLP endpoint accepted', [[{}, traceStats.exported]])
    + family('portcullis_trace_spans_dropped_total', 'counter', 'Spans dropped: export queue full, or the OTLP endpoint refused or did not answer', [[{}, traceStats.dropped]]);
}
