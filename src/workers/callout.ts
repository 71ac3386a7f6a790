// What an HTTP callout task takes and answers. Failures are values, not
// thrown errors: they cross the thread boundary cheaply and the caller maps
// each kind to its failure_mode.
import { PoolOverloadedError, PoolTimeoutError, type WorkerPool } from './pool.js';
import { log } from '../observe/log.js';

export interface CalloutRequest {
  [key: string]: unknown;
  url: string;
  method: 'GET' | 'POST';
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
  body?: string;
  /** Answers with a body larger than this fail with error "too_large". */
  maxBody?: number;
  /** Epoch ms, set by the pool. */
  deadline?: number;
}

export type CalloutErrorKind = 'timeout' | 'refused' | 'protocol' | 'network' | 'too_large' | 'expired' | 'overloaded';

export type CalloutAnswer =
  | {
      readonly ok: true;
      readonly status: number;
      /** Answer headers, lower-case names; repeated ones joined with ", " (set-cookie and the framing headers — connection, keep-alive, content-length, transfer-encoding — dropped). */
      readonly headers: Readonly<Record<string, string>>;
      readonly body: string;
    }
  | { readonly ok: false; readonly error: CalloutErrorKind; readonly detail: string };

/**
 * Runs one HTTP callout on the pool with the given deadline. Never rejects:
 * a full queue is `overloaded` (the caller answers 503 whatever its
 * failure_mode), a missed deadline is `timeout`.
 */
export function runCallout(pool: WorkerPool, req: CalloutRequest, timeoutMs: number): Promise<CalloutAnswer> {
  return pool.run<CalloutAnswer>('http', req, timeoutMs).catch((e: unknown): CalloutAnswer => {
    if (e instanceof PoolOverloadedError) return { ok: false, error: 'overloaded', detail: e.message };
    if (e instanceof PoolTimeoutError) return { ok: false, error: 'timeout', detail: e.message };
    return { ok: false, error: 'network', detail: e instanceof Error ? e.message : String(e) };
  });
}

/** A warning at most once per second per source, so a dead service does not flood the log. */
export class ThrottledWarn {
  private last = 0;
  private suppressed = 0;
  constructor(private readonly fields: Record<string, unknown>) {}
  warn(msg: string, extra: Record<string, unknown>): void {
    const now = Date.now();
    if (now - this.last < 1000) {
      this.suppressed++;
      return;
    }
    this.last = now;
    log.warn(msg, { ...this.fields, ...extra, ...(this.suppressed ? { suppressed: this.suppressed } : {}) });
    this.suppressed = 0;
  }
}
