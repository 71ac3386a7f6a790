// tracing (docs/tracing.md): compile(config) → the per-request face. begin()
// decides sampling with no SDK call for an unsampled request, and with no
// allocation when the client sent no traceparent; only a sampled request gets
// a GatewayTrace (and touches the SDK).
import type { TracingConfig } from '../config/schema.js';
import { GatewayTrace, type TracedView } from './request-trace.js';
import { ParsedParent, parseTraceparent } from './traceparent.js';
import { shutdownTraceExport, traceExport, traceStats, type TraceExport } from './export.js';

export { GatewayTrace, shutdownTraceExport, traceStats };
export type { TracedView };

/** The view fields begin() sets. */
export interface TraceSlot extends TracedView {
  trace: GatewayTrace | null;
  traceId: string;
  header(lowerName: string): string;
}

export class Tracing {
  private readonly parsed = new ParsedParent();
  private readonly sample: number;
  private readonly trustParent: boolean;

  constructor(cfg: TracingConfig, private readonly exp: TraceExport, private readonly routeNames: readonly string[]) {
    this.sample = cfg.sample;
    this.trustParent = cfg.trust_parent;
  }

  /**
   * Reads the client's traceparent (when trusted) and decides: its sampled
   * flag, else head sampling at `sample`. Sets v.trace for a sampled request;
   * v.traceId is the trace id the request belongs to ('' when none is known).
   */
  begin(v: TraceSlot, startedAt: number): void {
    let parent: ParsedParent | null = null;
    if (this.trustParent) {
      const tp = v.header('traceparent');
      if (tp !== '' && parseTraceparent(tp, this.parsed)) parent = this.parsed;
    }
    const sampled = (parent !== null && parent.sampled) || (this.sample > 0 && Math.random() < this.sample);
    if (!sampled) {
      // Not ours to trace: the client's traceparent goes upstream unchanged (see docs/tracing.md).
      if (parent !== null) v.traceId = parent.traceId();
      return;
    }
    const t = new GatewayTrace(this.exp.tracer, this.routeNames, parent, parent !== null ? v.header('tracestate') : '', v, startedAt);
    v.trace = t;
    v.traceId = t.traceId;
  }

  /** Sends what is queued now (tests, shutdown). */
  flush(): Promise<void> {
    return this.exp.flush();
  }
}

/** null without a `tracing` section, and for `check` (which starts no exporter). */
export function compileTracing(cfg: TracingConfig | undefined, routeNames: readonly string[], checkOnly: boolean): Tracing | null {
  if (cfg === undefined || checkOnly) return null;
  return new Tracing(cfg, traceExport(cfg.otlp, cfg.service_name), routeNames);
}
