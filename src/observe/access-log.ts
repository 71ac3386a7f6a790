// The access log: one JSON line per request (src/observe/access-line.ts),
// appended to this thread's batch and written once per event-loop turn, as one
// write, to a file opened O_APPEND or to stdout. While a write is in flight the
// next batch grows (batching by write latency); beyond maxBufferBytes lines are
// dropped and counted, so a slow disk never blocks the event loop nor grows
// memory without bound.
import fs from 'node:fs';
import { log } from './log.js';
import { family } from './prom.js';
import { createAccessLineFormatter, type AccessEntry } from './access-line.js';

export { createAccessEntry, formatAccessLine, type AccessEntry } from './access-line.js';

export interface AccessLogOptions {
  /** File to append to; stdout when absent. */
  readonly path?: string;
  /** Fraction of requests logged, 0…1. */
  readonly sample: number;
  readonly enabled: boolean;
  /** A write starts at once when the batch reaches this many characters (default 64 KiB). */
  readonly flushBytes?: number;
  /** Lines are dropped (and counted) while this much is waiting on a slow write (default 8 MiB). */
  readonly maxBufferBytes?: number;
  /**
   * Where this thread also counts lines written [0] and dropped [1]: its slice
   * of the shared metrics (Metrics.accessLogCounters), so /metrics sums every thread's log.
   */
  readonly counters?: Float64Array<ArrayBufferLike>;
  /** For tests: where stdout lines go (default process.stdout). */
  readonly stdout?: { write(chunk: string, cb: (err?: Error | null) => void): unknown };
}

export interface AccessLog {
  write(e: AccessEntry): void;
  /** Reopens the file (after logrotate moved it). No-op for stdout. */
  reopen(): Promise<void>;
  /** Resolves once everything buffered so far is written. */
  flush(): Promise<void>;
  /** Flushes and closes the file. */
  close(): Promise<void>;
  /** Lines written and dropped so far (this thread). */
  readonly written: number;
  readonly dropped: number;
  /** Counts into another slice from now on (the metrics layout changed on reload). */
  useCounters(c: Float64Array<ArrayBufferLike>): void;
  /** Prometheus text for this thread's access-log counters (standalone use; the gateway exports the shared ones). */
  collector(): string;
}

function openAppend(path: string): number {
  try {
    return fs.openSync(path, 'a', 0o640);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new Error(`access log: cannot open ${path} for appending (${code}); check access_log.path and that the directory exists and is writable by the gateway's user`);
  }
}

export function createAccessLog(opts: AccessLogOptions): AccessLog {
  const sample = Math.min(1, Math.max(0, opts.sample));
  const enabled = opts.enabled && sample > 0;
  const flushBytes = opts.flushBytes ?? 64 * 1024;
  const format = createAccessLineFormatter();
  const maxBuffer = opts.maxBufferBytes ?? 8 * 1024 * 1024;
  const path = opts.path;
  const out = opts.stdout ?? process.stdout;

  let fd = enabled && path ? openAppend(path) : -1;
  let buf = '';
  let writing = false;
  let scheduled: NodeJS.Immediate | null = null;
  let written = 0;
  let dropped = 0;
  let shared: Float64Array<ArrayBufferLike> = opts.counters ?? new Float64Array(2);
  const wrote = (n: number) => { written += n; shared[0]! += n; };
  const lost = (n: number) => { dropped += n; shared[1]! += n; };
  let pending = 0; // lines in buf
  let closed = false;
  let errorLogged = false;
  let idleWaiters: (() => void)[] = [];

  function onWriteError(err: NodeJS.ErrnoException): void {
    // Logged once per failure streak: a full disk must not flood the operational log.
    if (!errorLogged) log.error('access log write failed; lines are being dropped', { path: path ?? 'stdout', code: err.code ?? String(err) });
    errorLogged = true;
  }

  function settleIdle(): void {
    if (writing || buf !== '') return;
    const w = idleWaiters;
    idleWaiters = [];
    for (const f of w) f();
  }

  function writeChunk(chunk: string, lines: number, done: () => void): void {
    if (fd < 0) {
      out.write(chunk, (err) => {
        if (err) { lost(lines); onWriteError(err); } else { wrote(lines); errorLogged = false; }
        done();
      });
      return;
    }
    const data = Buffer.from(chunk, 'utf8');
    const target = fd;
    const step = (off: number): void => {
      fs.write(target, data, off, data.length - off, null, (err, n) => {
        if (err) { lost(lines); onWriteError(err); done(); return; }
        if (off + n < data.length) { step(off + n); return; }
        wrote(lines);
        errorLogged = false;
        done();
      });
    };
    step(0);
  }

  function flushNow(): void {
    if (scheduled) { clearImmediate(scheduled); scheduled = null; }
    if (writing || buf === '') { settleIdle(); return; }
    const chunk = buf, lines = pending;
    buf = '';
    pending = 0;
    writing = true;
    writeChunk(chunk, lines, () => {
      writing = false;
      // Lines that arrived during the write go out now: batching by write latency.
      if (buf !== '') flushNow();
      else settleIdle();
    });
  }

  function write(e: AccessEntry): void {
    if (!enabled || closed) return;
    if (sample < 1 && Math.random() >= sample) return;
    if (buf.length >= maxBuffer) { lost(1); return; }
    buf += format(e);
    pending++;
    if (buf.length >= flushBytes) flushNow();
    // One write per event-loop turn: every line this turn produced goes in it.
    else if (scheduled === null && !writing) scheduled = setImmediate(flushNow);
  }

  function flush(): Promise<void> {
    return new Promise((resolve) => {
      idleWaiters.push(resolve);
      flushNow();
    });
  }

  async function reopen(): Promise<void> {
    if (!path || !enabled || closed) return;
    await flush();
    const next = openAppend(path);
    const old = fd;
    fd = next;
    if (old >= 0) fs.close(old, () => {});
    log.info('access log reopened', { path });
  }

  async function close(): Promise<void> {
    if (closed) return;
    await flush();
    closed = true;
    if (fd >= 0) {
      const old = fd;
      fd = -1;
      await new Promise<void>((r) => fs.close(old, () => r()));
    }
  }

  return {
    write,
    reopen,
    flush,
    close,
    get written() { return written; },
    get dropped() { return dropped; },
    useCounters(c) { shared = c; },
    collector: () =>
      family('portcullis_access_log_lines_total', 'counter', 'Access-log lines written.', [[null, written]]) +
      family('portcullis_access_log_dropped_total', 'counter', 'Access-log lines dropped because the log could not keep up or failed.', [[null, dropped]]),
  };
}

/**
 * Reopens the log on SIGUSR1 (logrotate: `systemctl kill -s USR1 portcullis`).
 * Signals reach the main thread only: pass `also` to forward the reopen to
 * other threads' logs. Note: a SIGUSR1 listener replaces Node's default of
 * starting the inspector. Returns a function that removes the handler.
 */
export function installReopenOnSigusr1(target: Pick<AccessLog, 'reopen'>, also?: () => void): () => void {
  const handler = () => {
    target.reopen().catch((err: unknown) => log.error('access log reopen failed', { error: (err as Error).message }));
    also?.();
  };
  process.on('SIGUSR1', handler);
  return () => { process.off('SIGUSR1', handler); };
}
