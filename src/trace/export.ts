// The thread's OpenTelemetry SDK: one TracerProvider with a BatchSpanProcessor
// and the OTLP/HTTP (JSON) exporter, created for sampled requests only. Spans
// are queued (bounded) and sent off the request path; a span that finds the
// queue full, or whose batch the endpoint refused or never took, is dropped
// and counted — an exporter that is down costs the gateway nothing else.
import { type Context, type Span } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler, BatchSpanProcessor, TracerProvider,
  type ReadableSpan, type SpanExporter, type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { Tracer } from '@opentelemetry/api';
import { log } from '../observe/log.js';

/** Spans waiting for export at most; past it new spans are dropped (and counted). */
const MAX_QUEUE = 4096;
const BATCH = 512;
const DELAY_MS = 1000;
const EXPORT_TIMEOUT_MS = 5000;
/** How long shutdown waits for the last batch. */
const SHUTDOWN_MS = 2000;

/** This thread's export counters (portcullis_trace_spans_*). */
export const traceStats = { exported: 0, dropped: 0 };

/** A failing endpoint is said at most once a minute (the counter has the rest). */
const WARN_EVERY_MS = 60_000;
let lastWarn = 0;
function warnExportFailed(url: string, r: ExportResult, spans: number): void {
  const now = Date.now();
  if (now - lastWarn < WARN_EVERY_MS) return;
  lastWarn = now;
  log.warn('trace export failed; spans dropped', {
    otlp: url, spans, error: r.error?.message ?? 'export failed', dropped_total: traceStats.dropped,
    fix: 'check that an OTLP/HTTP receiver listens at tracing.otlp (an OpenTelemetry Collector: receivers.otlp.protocols.http)',
  });
}

/** Counts what the endpoint took and what it did not. */
class CountingExporter implements SpanExporter {
  /** Spans handed to the exporter so far (the queue holds accepted − handed). */
  handed = 0;
  constructor(private readonly inner: SpanExporter, private readonly url: string) {}

  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    const n = spans.length;
    this.handed += n;
    this.inner.export(spans, (r) => {
      if (r.code === ExportResultCode.SUCCESS) traceStats.exported += n;
      else { traceStats.dropped += n; warnExportFailed(this.url, r, n); }
      done(r);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** Drops (and counts) a span when the batch queue is full, instead of the SDK's silent drop. */
class BoundedProcessor implements SpanProcessor {
  private accepted = 0;
  constructor(private readonly inner: BatchSpanProcessor, private readonly exporter: CountingExporter) {}

  onStart(span: Span, ctx: Context): void {
    this.inner.onStart(span as never, ctx);
  }

  onEnd(span: ReadableSpan): void {
    if (this.accepted - this.exporter.handed >= MAX_QUEUE) { traceStats.dropped++; return; }
    this.accepted++;
    this.inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

export interface TraceExport {
  readonly tracer: Tracer;
  readonly key: string;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

function createExport(otlp: string, serviceName: string, key: string): TraceExport {
  const exporter = new CountingExporter(new OTLPTraceExporter({ url: otlp, timeoutMillis: EXPORT_TIMEOUT_MS }), withoutUserinfo(otlp));
  const batch = new BatchSpanProcessor({
    exporter,
    maxQueueSize: MAX_QUEUE, maxExportBatchSize: BATCH, scheduledDelayMillis: DELAY_MS, exportTimeoutMillis: EXPORT_TIMEOUT_MS,
  });
  const provider = new TracerProvider({
    // The gateway decided to sample before it asks the SDK for a span.
    sampler: new AlwaysOnSampler(),
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new BoundedProcessor(batch, exporter)],
  });
  return {
    tracer: provider.getTracer('portcullis'),
    key,
    flush: () => provider.forceFlush(),
    shutdown: () => bounded(provider.shutdown(), SHUTDOWN_MS),
  };
}

/** The URL for log lines: user info (a credential) and query removed. */
function withoutUserinfo(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(tracing.otlp)';
  }
}

function bounded(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); timer.unref(); });
  return Promise.race([p.catch(() => undefined), late]).finally(() => clearTimeout(timer));
}

let current: TraceExport | null = null;

/** The thread's exporter for this endpoint and service name; a changed one (reload) replaces the previous, which flushes and stops. */
export function traceExport(otlp: string, serviceName: string): TraceExport {
  const key = `${otlp}\n${serviceName}`;
  if (current !== null && current.key === key) return current;
  const old = current;
  current = createExport(otlp, serviceName, key);
  if (old !== null) void old.shutdown();
  return current;
}

/** At shutdown: the queued spans are sent, waiting at most a bounded time. */
export async function shutdownTraceExport(): Promise<void> {
  const c = current;
  current = null;
  if (c !== null) await c.shutdown();
}
