// One request that outlives the synchronous uWS handler: it waited for a slow
// decision, streams a body, or is proxied. Creating an Exchange is the only way
// the pipeline keeps a uWS response past the handler, and its constructor
// registers onAborted (a uWS response left without onAborted aborts the whole
// process) and onData (a body must be claimed in the handler). After the
// response is finished or the client is gone, the response is never touched:
// doing so throws, and inside an undici callback that error would be swallowed
// and undici would silently drop the keep-alive connection.
import { Readable } from 'node:stream';
import { IDEMPOTENT_METHODS, type UpstreamHandler } from './h1/connection.js';
import { R, REASON_STATUS } from '../reasons.js';
import type { DirectResponse, RequestTrace, TraceCall } from '../contracts.js';
import { endWithoutBody, type HttpResponse } from '../server/uws.js';
import { statusLineBuffer, writeDirect, writeRejection } from '../server/respond.js';
import type { DetachedView } from '../server/view.js';
import { prepareUpstreamHead } from './upstream-head.js';
import { assignRequestId } from '../server/request-id.js';
import { NO_CORS } from '../policy/cors.js';
import { classifyResponseHeader, parseLength, RESP_CONTENT_LENGTH, RESP_PASS } from './headers.js';
import type { Target, UpstreamGroup } from './upstreams.js';
import { isTlsFailure } from './upstream-tls.js';
import { clockNow } from '../lib/clock.js';

export interface ExchangeHost {
  readonly maxBody: number;
  /** Called exactly once per exchange when it ends (answered, failed or aborted). */
  finished(ex: Exchange): void;
  /** Upstream latency and errors, for metrics. */
  upstreamResult(upstreamIndex: number, micros: number, error: boolean): void;
}

const EMPTY: readonly string[] = [];
const OP_CHUNK = 2;
const OP_END = 3;
/** Bytes queued from the client before the upstream request exists; above it the socket is paused. */
const PREBUFFER_PAUSE = 64 * 1024;

class RequestBody extends Readable {
  constructor(private readonly ex: Exchange) {
    super({ highWaterMark: 64 * 1024 });
  }
  override _read(): void {
    this.ex.resumeClient();
  }
}

/** A closeAfter response body up to this size is sent with one end() that also closes the connection. */
const CLOSE_HOLD = 256 * 1024;

const ACCESS_CONTROL = Buffer.from('access-control-', 'latin1');
/** A raw header name starting with access-control- (any case). */
function isAccessControl(name: Buffer): boolean {
  if (name.length <= ACCESS_CONTROL.length) return false;
  for (let i = 0; i < ACCESS_CONTROL.length; i++) if ((name[i]! | 0x20) !== ACCESS_CONTROL[i]) return false;
  return true;
}

function rejectSoon(ex: Exchange, reasonId: number): void {
  ex.reject(reasonId);
}

export class Exchange implements UpstreamHandler {
  /** Index in the pipeline's in-flight list (src/server/inflight.ts). */
  slot = -1;
  /** Response finished, failed or client gone: never touch res again. */
  done = false;
  aborted = false;
  /** Status line written (the client has seen the answer start). */
  started = false;
  status = 0;
  reason = 0;
  bytesOut = 0;
  bytesIn = 0;
  upstreamIndex = -1;
  /** Origin of the target the request was sent to ('' = not sent): for the access log. */
  upstreamTarget = '';
  /** Status the upstream answered (0 = none yet). */
  upstreamStatus = 0;
  /** Upstream time to response headers (or to the failure), µs; -1 = not sent. */
  upstreamMicros = -1;
  readonly startedAt: number;
  /** Epoch ms after which the whole request is cut (request_timeout). */
  deadline: number;
  /** When the client last sent body bytes, or was last let send again (see lastClientData). */
  private lastData: number;
  /** A WebSocket upgrade request: uWS's socket context to upgrade into (opaque here), else null. */
  upgradeContext: unknown = null;
  /** Extra headers for the client's answer (rate-limit headers…). */
  responseHeaders: readonly string[] = EMPTY;
  /**
   * Close the client connection with the answer: the request's framing is not
   * trusted to end where uWS thinks (chunked bodies, refused framing). uWS
   * closes it after an answer without a relayed body (end with
   * closeConnection); a relayed body carries `Connection: close`, written
   * with the head — uWS would write its own after body bytes, into the body.
   */
  closeAfter = false;
  /** closeAfter: the relayed body held back (up to CLOSE_HOLD bytes) so that one end(body, true) can close. */
  private closeHold: Buffer[] | null = null;
  private closeHeld = 0;

  // request body
  readonly expectBody: boolean;
  private bodyDone = false;
  private queue: Buffer[] | null = null;
  private queued = 0;
  private body: RequestBody | null = null;
  private clientPaused = false;

  // upstream
  private target: Target | null = null;
  private group: UpstreamGroup | null = null;
  private upstreamAbort: ((err?: Error) => void) | null = null;
  private upstreamResume: (() => void) | null = null;
  private request: { path: string; method: string; headers: string[]; body: RequestBody | null } | null = null;
  private upstreamStart = 0;
  private retried = false;

  // response streaming
  private totalSize = -1;
  private held: Buffer | null = null;
  private heldOffset = 0;
  private writableHooked = false;
  private cork1: Buffer | null = null;
  private corkStatus = 0;
  private corkHeaders: Buffer[] | null = null;

  constructor(
    readonly res: HttpResponse,
    readonly view: DetachedView,
    private readonly host: ExchangeHost,
    readonly head: boolean,
    expectBody: boolean,
    requestTimeout: number,
    now: number,
  ) {
    this.startedAt = now;
    this.deadline = now + requestTimeout;
    this.lastData = now;
    this.expectBody = expectBody;
    res.onAborted(this.onClientAborted);
    if (expectBody) {
      this.queue = [];
      res.onData(this.onClientData);
    }
  }

  // --- client side -----------------------------------------------------------

  /** One closure for every corked write of this exchange; corkOp says which. */
  private corkOp = 0;
  private readonly corked = (): void => {
    if (this.corkHeaders !== null) {
      this.writeHead();
      if (this.done) return; // HEAD/204/304/empty body: nothing more to write
    }
    if (this.corkOp === OP_CHUNK) this.writeChunk();
    else if (this.corkOp === OP_END) this.endChunked();
  };

  private readonly onClientAborted = (): void => {
    if (this.done) return;
    this.aborted = true;
    this.done = true;
    if (!this.started) { this.status = 499; this.reason = R.client_aborted; }
    this.upstreamAbort?.(new Error('client aborted'));
    this.body?.destroy();
    this.host.finished(this);
  };

  private readonly onClientData = (ab: ArrayBuffer, isLast: boolean): void => {
    if (this.done) return;
    const n = ab.byteLength;
    this.bytesIn += n;
    this.lastData = clockNow();
    if (this.bytesIn > this.host.maxBody || (this.bodyLimit >= 0 && this.bytesIn > this.bodyLimit)) {
      this.fail(R.body_too_large, true);
      return;
    }
    if (n > 0) {
      const chunk = Buffer.from(new Uint8Array(ab)); // copy: uWS reuses the memory after this call
      if (this.body !== null) {
        if (!this.body.push(chunk)) this.pauseClient();
      } else {
        this.queue!.push(chunk);
        this.queued += n;
        if (this.queued > PREBUFFER_PAUSE) this.pauseClient();
      }
    }
    if (isLast) {
      this.bodyDone = true;
      this.body?.push(null);
      const w = this.bodyWaiter;
      if (w !== null) { this.bodyWaiter = null; w(this.takeQueued()); }
    }
  };

  private bodyLimit = -1;
  private bodyWaiter: ((body: Buffer) => void) | null = null;

  /**
   * The whole request body, for an answer the gateway gives itself from it
   * (never forwarded afterwards). More than `max` bytes is 413 and closes the
   * connection; the promise then never settles (the exchange is done).
   */
  readBody(max: number): Promise<Buffer> {
    const limit = Math.min(max, PREBUFFER_PAUSE); // queued in full: the client is never paused for it
    return new Promise((resolve) => {
      if (!this.expectBody) { resolve(Buffer.alloc(0)); return; }
      this.bodyLimit = limit;
      if (this.bytesIn > limit) { this.fail(R.body_too_large, true); return; }
      if (this.bodyDone) resolve(this.takeQueued());
      else this.bodyWaiter = resolve;
    });
  }

  private takeQueued(): Buffer {
    const q = this.queue ?? [];
    this.queue = [];
    this.queued = 0;
    return q.length === 1 ? q[0]! : Buffer.concat(q);
  }

  /**
   * For idle_timeout: the client's clock runs only while the gateway is
   * waiting for it. While its body is held back (queued for a busy upstream
   * connection, or an upstream that reads slowly) the client is not idle.
   */
  get lastClientData(): number {
    return this.clientPaused ? Date.now() : this.lastData;
  }

  private pauseClient(): void {
    if (!this.clientPaused && !this.done) {
      this.clientPaused = true;
      this.res.pause();
    }
  }

  /**
   * Before the answer is written: a socket left paused (request body
   * backpressure) across the end of a response never reads the next request
   * on that connection — the client sees a reset on keep-alive.
   */
  private unpause(): void {
    if (this.clientPaused) {
      this.clientPaused = false;
      this.lastData = clockNow();
      this.res.resume();
    }
  }

  resumeClient(): void {
    if (this.clientPaused && !this.done) {
      this.clientPaused = false;
      this.lastData = clockNow();
      this.res.resume();
    }
  }

  get bodyComplete(): boolean {
    return !this.expectBody || this.bodyDone;
  }

  // --- answers the gateway gives itself ---------------------------------------

  reject(reasonId: number, extra: readonly string[] = EMPTY): void {
    if (this.done) return;
    this.status = REASON_STATUS[reasonId] ?? 500;
    this.reason = reasonId;
    this.started = true;
    this.done = true;
    this.upstreamAbort?.(new Error('rejected'));
    this.body?.destroy();
    this.res.cork(() => {
      this.unpause();
      writeRejection(this.res, reasonId, extra, this.view.requestId, this.view.limitName, this.closeAfter || undefined, this.view.corsHeaders);
    });
    this.host.finished(this);
  }

  respond(r: DirectResponse, reasonId: number): void {
    if (this.done) return;
    this.status = r.status;
    this.reason = reasonId;
    this.started = true;
    this.done = true;
    this.res.cork(() => {
      this.unpause();
      assignRequestId(this.view, '');
      writeDirect(this.res, r.status, r.headers, r.body, this.head, this.closeAfter, this.view.corsHeaders, this.view.requestId);
    });
    this.host.finished(this);
  }

  /**
   * A WebSocket upgrade: `upgrade` (run corked) writes the 101 and hands the
   * connection to the relay; the exchange ends here. False when the client
   * is already gone or answered (the caller then drops its upstream socket).
   */
  switchProtocols(upgrade: () => void): boolean {
    if (this.done) return false;
    this.status = 101;
    this.reason = R.ok;
    this.started = true;
    this.done = true;
    this.res.cork(upgrade);
    this.host.finished(this);
    return true;
  }

  /** Closes the connection without an answer (external authz "drop"). */
  drop(reasonId: number): void {
    if (this.done) return;
    this.status = 444;
    this.reason = reasonId;
    this.done = true;
    this.res.close();
    this.host.finished(this);
  }

  /** Deadline passed, body too large, idle client…: answer if nothing was sent yet, else cut. */
  fail(reasonId: number, closeAfter = false): void {
    if (this.done) return;
    // Decide the answer and mark the exchange done BEFORE aborting upstream:
    // undici's abort calls onError synchronously, which used to re-enter fail(),
    // answer (502) first, and leave this call to res.close() a finished
    // response — a throw that killed the process (body over max_body mid-stream).
    const answered = this.started;
    this.done = true;
    const abort = this.upstreamAbort;
    this.upstreamAbort = null;
    abort?.(new Error('gateway cut the request'));
    this.body?.destroy();
    if (!answered) {
      this.status = REASON_STATUS[reasonId] ?? 500;
      this.reason = reasonId;
      this.started = true;
      this.res.cork(() => {
        this.unpause();
        writeRejection(this.res, reasonId, EMPTY, this.view.requestId, '', closeAfter || this.closeAfter, this.view.corsHeaders);
      });
    } else {
      this.reason = reasonId;
      this.res.close();
    }
    this.host.finished(this);
  }

  // --- upstream ----------------------------------------------------------------

  /** Every upstream request starts here: its head passes prepareUpstreamHead or the request is refused. */
  forward(group: UpstreamGroup, path: string, method: string, headers: string[], contentLength: number): void {
    if (this.done) return;
    const unsafe = prepareUpstreamHead(method, path, headers);
    if (unsafe !== 0) {
      // Answered on the next turn and closed, like every refusal of what the
      // client sent: forward() may run inside the uWS handler, and uWS would
      // serve a pipelined request parsed after a synchronous answer.
      this.closeAfter = true;
      setImmediate(rejectSoon, this, unsafe);
      return;
    }
    this.group = group;
    this.upstreamIndex = group.index;
    let body: RequestBody | null = null;
    if (this.expectBody && (contentLength !== 0)) {
      body = new RequestBody(this);
      for (const c of this.queue!) body.push(c);
      this.queue = null;
      this.queued = 0;
      if (this.bodyDone) body.push(null);
      this.body = body;
    }
    this.request = { path, method, headers, body };
    this.dispatch(group.pick(clockNow()));
  }

  private dispatch(target: Target): void {
    this.target = target;
    this.upstreamTarget = target.origin;
    const req = this.request!;
    // Names only (even slots): a client header whose value is "host" must not be taken for it.
    const h = req.headers;
    for (let i = 0; i + 1 < h.length; i += 2) if (h[i] === 'host') { h[i + 1] = target.hostHeader; break; }
    if (this.view.trace !== null) this.traceUpstream(this.view.trace, target, h);
    this.upstreamStart = performance.now();
    target.pool.dispatch(req, this);
  }

  // --- tracing: the upstream call is a child span of the request's ---------------
  private upstreamCall: TraceCall | null = null;

  /** The upstream is sent this call's traceparent (a client's is replaced); a retry is a new span. */
  private traceUpstream(trace: RequestTrace, target: Target, h: string[]): void {
    this.upstreamCall?.end(0, true);
    const c = trace.call('upstream', target.origin);
    this.upstreamCall = c;
    let found = false;
    for (let i = 0; i + 1 < h.length; i += 2) if (h[i] === 'traceparent') { h[i + 1] = c.traceparent; found = true; }
    if (!found) h.push('traceparent', c.traceparent);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.upstreamAbort = abort;
    if (this.done) abort(new Error('client gone'));
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx: not relayed
    if (this.done) return false;
    this.upstreamResume = resume;
    this.upstreamCall?.end(statusCode, false); // tracing: the call's span ends with the answer's head
    this.group!.markOk(this.target!);
    this.upstreamMicros = (performance.now() - this.upstreamStart) * 1000;
    this.upstreamStatus = statusCode;
    this.host.upstreamResult(this.upstreamIndex, this.upstreamMicros, false);
    this.status = statusCode;
    // The head is written with the first body chunk (or at the end): one send
    // to the client per small response instead of two. undici's raw header
    // buffers are views of its socket chunk and stay valid until then.
    this.corkStatus = statusCode;
    this.corkHeaders = raw;
    return true;
  }

  /** `advisoryClose`: a closeAfter body will be streamed, so `Connection: close` is written here. */
  private writeHead(advisoryClose = this.closeAfter): void {
    const res = this.res;
    this.started = true;
    this.unpause();
    const raw = this.corkHeaders!;
    this.corkHeaders = null;
    res.writeStatus(statusLineBuffer(this.corkStatus));
    // The id the upstream was sent (its own x-request-id is dropped: RESPONSE_DROP).
    if (this.view.requestId !== '') res.writeHeader('x-request-id', this.view.requestId);
    let total = -1;
    const cors = this.view.corsHeaders;
    // On a CORS route the answer's access-control-* are the gateway's: the upstream's would contradict them.
    const ownCors = cors.length > 0 || cors === NO_CORS;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const kind = classifyResponseHeader(raw[i]!);
      if (kind === RESP_PASS) {
        if (!ownCors || !isAccessControl(raw[i]!)) res.writeHeader(raw[i]!, raw[i + 1]!);
      } else if (kind === RESP_CONTENT_LENGTH) total = parseLength(raw[i + 1]!);
    }
    const extra = this.responseHeaders;
    for (let i = 0; i + 1 < extra.length; i += 2) res.writeHeader(extra[i]!, extra[i + 1]!);
    for (let i = 0; i + 1 < cors.length; i += 2) res.writeHeader(cors[i]!, cors[i + 1]!);
    const s = this.corkStatus;
    const bodiless = this.head || s === 204 || s === 304 || total === 0;
    if (advisoryClose && !bodiless) res.writeHeader('connection', 'close');
    if (this.head || s === 204 || s === 304) {
      // No body follows; report the upstream's length for HEAD.
      endWithoutBody(res, this.head ? total : -1, this.closeAfter);
      this.finishResponse();
      return;
    }
    if (total === 0) {
      if (this.closeAfter) res.end('', true); else res.end();
      this.finishResponse();
      return;
    }
    this.totalSize = total;
  }


  onData(chunk: Buffer): boolean {
    if (this.done) return false;
    if (this.closeAfter && this.holdForClose(chunk)) return true;
    this.cork1 = chunk;
    this.corkOp = OP_CHUNK;
    this.res.cork(this.corked);
    // Pause undici only to wait for the client; a finished response must let
    // undici read to the end of the message, or the connection is never reused.
    return this.held === null && !this.waitingWritable;
  }

  private waitingWritable = false;

  private writeChunk(): void {
    const chunk = this.cork1!;
    this.cork1 = null;
    const res = this.res;
    this.bytesOut += chunk.length;
    if (this.totalSize >= 0) {
      const offset = res.getWriteOffset();
      const [ok, done] = res.tryEnd(chunk, this.totalSize);
      if (done) { this.finishResponse(); return; }
      // A write can find the client gone (onAborted ran inside it): the response is not ours to touch.
      if (this.done) return;
      if (!ok) {
        // uWS took part of it; keep the rest (copied: undici reuses its buffer) until writable.
        this.held = Buffer.from(chunk);
        this.heldOffset = offset;
        this.hookWritable();
      }
    } else if (!res.write(chunk) && !this.done) {
      this.waitingWritable = true;
      this.hookWritable();
    }
  }


  private hookWritable(): void {
    if (!this.writableHooked) {
      this.writableHooked = true;
      this.res.onWritable(this.onWritable);
    }
  }

  private readonly onWritable = (offset: number): boolean => {
    if (this.done) return true;
    if (this.held !== null) {
      const rest = this.held.subarray(offset - this.heldOffset);
      const [ok, done] = this.res.tryEnd(rest, this.totalSize);
      if (done) { this.held = null; this.finishResponse(); return true; }
      if (!ok) return false;
      this.held = null;
    }
    this.waitingWritable = false;
    const r = this.upstreamResume;
    if (r) r();
    return true;
  };

  /**
   * closeAfter: keeps the body (copied) while it fits CLOSE_HOLD; past that,
   * the head (with Connection: close) and what was held go out and the rest
   * streams. Returns true when the chunk was held.
   */
  private holdForClose(chunk: Buffer): boolean {
    if (this.closeHold === null && this.corkHeaders === null) return false; // already streaming
    if (this.closeHeld + chunk.length <= CLOSE_HOLD) {
      (this.closeHold ??= []).push(Buffer.from(chunk));
      this.closeHeld += chunk.length;
      return true;
    }
    const held = this.closeHold;
    this.closeHold = null;
    if (held !== null) { held.push(chunk); chunk = Buffer.concat(held); }
    this.cork1 = chunk;
    this.corkOp = OP_CHUNK;
    this.res.cork(this.corked);
    return true;
  }

  /** closeAfter: the whole (held) response in one end() that closes the connection. */
  private readonly endHeldAndClose = (): void => {
    this.writeHead(false);
    if (this.done) return;
    const body = this.closeHold === null ? Buffer.alloc(0) : Buffer.concat(this.closeHold);
    this.closeHold = null;
    this.bytesOut += body.length;
    this.res.end(body, true);
    this.finishResponse();
  };

  onComplete(): void {
    if (this.done) return;
    if (this.closeAfter && this.corkHeaders !== null) {
      this.res.cork(this.endHeldAndClose);
      return;
    }
    if (this.corkHeaders !== null || this.totalSize < 0) {
      // Head not written yet (no body came) and/or a chunked response to end.
      this.corkOp = OP_END;
      this.res.cork(this.corked);
    } else if (this.held === null) {
      // Content-Length response fully relayed by tryEnd, or upstream sent less than announced.
      this.finishResponse();
    }
  }

  private endChunked(): void {
    this.res.end();
    this.finishResponse();
  }


  onError(err: Error): void {
    if (this.done) return;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    // A reset with no response head yet counts against the target's health like a refused connection.
    const reset = code === 'ECONNRESET' && this.status === 0;
    // A failed TLS handshake never delivered the request either (the upstream refused us or we refused it).
    const tlsFailed = this.status === 0 && isTlsFailure(code);
    const neverSent = code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND' || tlsFailed;
    const connectFailed = neverSent || reset;
    this.upstreamCall?.end(0, true); // tracing
    const group = this.group;
    if (group && this.target) {
      if (connectFailed) group.markFailed(this.target, Date.now());
      this.upstreamMicros = (performance.now() - this.upstreamStart) * 1000;
      this.host.upstreamResult(this.upstreamIndex, this.upstreamMicros, true);
    }
    // A bodiless request may try another target, once, if it never reached
    // this one — or if it did but is idempotent and got no answer: a reset
    // after the target received a POST may come after the POST took effect.
    if ((neverSent || reset && IDEMPOTENT_METHODS.has(this.request!.method)) &&
      !this.started && !this.expectBody && !this.retried && group && group.targets.length > 1) {
      this.retried = true;
      this.upstreamAbort = null;
      this.dispatch(group.pick(Date.now(), this.target));
      return;
    }
    const timeout = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
    this.upstreamAbort = null;
    this.fail(timeout ? R.upstream_timeout : tlsFailed ? R.upstream_tls : connectFailed ? R.upstream_unavailable : R.upstream_error);
  }

  private finishResponse(): void {
    if (this.done) return;
    this.done = true;
    this.host.finished(this);
  }
}

