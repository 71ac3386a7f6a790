// Where finished requests are reported: metrics and the access log.
import type { Plan } from '../config/load.js';
import type { ObserveSink } from './pipeline.js';
import type { SharedState } from './stages.js';

export interface SinkHandle {
  readonly sink: ObserveSink;
  reload(plan: Plan): void;
  /** Reopens the access log file (SIGUSR1, logrotate). */
  reopen?(): void;
  close(): void;
}

export function makeSink(_plan: Plan, _shared: SharedState): SinkHandle {
  const sink: ObserveSink = {
    request() {},
    upstream() {},
  };
  return { sink, reload() {}, close() {} };
}
