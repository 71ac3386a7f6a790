// One request's passage through an upstream pool, and what a connection
// needs from its pool.
import type { H1Connection } from './connection.js';
import type { UpstreamHandler, UpstreamRequest } from './handler.js';

/** What a connection needs from its pool. */
export interface ConnectionOwner {
  readonly maxHeaderSize: number;
  release(conn: H1Connection): void;
  closed(conn: H1Connection, call: Call | null, err: Error | null, retryable: boolean): void;
}

/** One request's passage through the pool (queued, then on a connection). */
export class Call {
  conn: H1Connection | null = null;
  finished = false;
  retried = false;
  queued = false;
  constructor(
    readonly req: UpstreamRequest,
    readonly handler: UpstreamHandler,
    private readonly onAbort: (call: Call, err: Error | undefined) => void,
  ) {}
  readonly abort = (err?: Error): void => this.onAbort(this, err);
  /** Reports `err` to the handler, once: the call is over. */
  fail(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.conn = null;
    this.handler.onError(err);
  }
  readonly resume = (): void => {
    if (!this.finished && this.conn !== null) this.conn.resume(this);
  };
}
