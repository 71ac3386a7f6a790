// One keep-alive connection to an upstream target: writes a request (head as
// one latin1 string, then the body if any), feeds the socket's bytes to the
// strict response parser, and hands the response to the request's handler.
// One request at a time (no pipelining). A connection goes back to its pool
// only when the response ended exactly where its framing said and the request
// body was fully sent; anything else closes it.
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { log } from '../../observe/log.js';
import { TLS_RESET_AFTER_HANDSHAKE, UpstreamError } from './errors.js';
import { ResponseParser, type ResponseSink } from './response-parser.js';
import { clockNow } from '../../lib/clock.js';
import { IDEMPOTENT_METHODS } from '../../lib/http-syntax.js';
import type { Call, ConnectionOwner } from './call.js';
import { declaredLength } from './handler.js';
import { TurnBatch } from './turn-batch.js';

// what the proxy imports from here
export type { UpstreamHandler, UpstreamRequest } from './handler.js';
export { IDEMPOTENT_METHODS };

const PHASE_IDLE = 0;
const PHASE_WAIT_HEAD = 1;
const PHASE_BODY = 2;

/** Heads queued by start(), written after the poll phase (turn-batch.ts). */
const heads = new TurnBatch<H1Connection>((c) => c.flushHead());

/**
 * Upstream responses are handled after the poll phase too, each read copied
 * out of the shared buffer: the client sends of one loop turn go out back to
 * back. Reads larger than DEFER_MAX are handled at once.
 */
const DEFER_MAX = 16 * 1024;
const reads = new TurnBatch<H1Connection>((c) => c.deliverDeferred());

export class H1Connection implements ResponseSink {
  call: Call | null = null;
  /** Responses fully read on this connection. */
  served = 0;
  alive = true;
  connected = false;
  phase = PHASE_IDLE;
  /** When the current phase's clock started (ms). */
  since = 0;
  lastActive = 0;
  paused = false;
  private readonly parser: ResponseParser;
  private pending: Buffer | null = null;
  private pendingAt = 0;
  private ended = false;
  private socketError: Error | null = null;
  private body: Readable | null = null;
  private bodyChunked = false;
  private bodyDone = true;
  /** Bytes the head's Content-Length still owes (when not chunked). */
  private bodyLeft = 0;

  /** Head delivered in the read being parsed (its raw header views may need a copy). */
  private headThisRead = false;
  private raw: Buffer[] | null = null;

  /** `reusedBuffer`: the socket reads into one shared buffer (onread), so whatever outlives a read is copied. */
  constructor(private readonly owner: ConnectionOwner, readonly socket: Socket, private readonly reusedBuffer: boolean) {
    this.parser = new ResponseParser(this, owner.maxHeaderSize);
    if (!reusedBuffer) socket.on('data', this.onData);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    socket.on('drain', this.onDrain);
  }

  /** Sends `call`'s request on this (connected, idle) connection. */
  start(call: Call, now: number): void {
    this.call = call;
    call.conn = this;
    const req = call.req;
    this.parser.reset(req.method === 'HEAD');
    this.ended = false;
    this.paused = false;
    this.phase = PHASE_WAIT_HEAD;
    this.since = now;
    this.lastActive = now;
    const h = req.headers;
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    let hasLength = false;
    for (let i = 0; i + 1 < h.length; i += 2) {
      const name = h[i]!;
      if (name.length === 14 && name === 'content-length') hasLength = true;
      head += `${name}: ${h[i + 1]!}\r\n`;
    }
    const body = req.body;
    if (body !== null && !hasLength) head += 'transfer-encoding: chunked\r\n';
    this.outHead = `${head}\r\n`;
    this.outChunked = !hasLength;
    heads.add(this);
  }

  outHead = '';
  private outChunked = false;
  /** Writes the head queued by start(). */
  flushHead(): void {
    const head = this.outHead;
    this.outHead = '';
    const call = this.call;
    if (head === '' || call === null || !this.alive) return;
    this.socket.write(head, 'latin1');
    if (call.req.body !== null) this.sendBody(call.req.body, this.outChunked);
  }

  // --- request body ------------------------------------------------------------------

  private sendBody(body: Readable, chunked: boolean): void {
    this.body = body;
    this.bodyChunked = chunked;
    this.bodyDone = false;
    this.bodyLeft = chunked ? 0 : declaredLength(this.call!.req.headers);
    body.on('data', this.onBodyData);
    body.on('end', this.onBodyEnd);
    body.on('error', this.onBodyError);
  }

  private readonly onBodyData = (chunk: Buffer): void => {
    if (this.body === null || chunk.length === 0) return; // chunked: an empty chunk would be the last-chunk marker
    const s = this.socket;
    this.since = clockNow(); // the upstream's clock starts when it has the whole request
    let ok: boolean;
    if (this.bodyChunked) {
      s.cork();
      s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      s.write(chunk);
      ok = s.write('\r\n', 'latin1');
      s.uncork();
    } else {
      // Never more than the head announced: the upstream would read the rest as another request.
      if (chunk.length > this.bodyLeft) { this.bodyMismatch('longer'); return; }
      this.bodyLeft -= chunk.length;
      ok = s.write(chunk);
    }
    if (!ok) this.body.pause();
  };

  private bodyMismatch(what: string): void {
    this.detachBody();
    this.fail(new UpstreamError('UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', `request body is ${what} than its Content-Length header`));
  }

  private readonly onBodyEnd = (): void => {
    if (this.body === null) return;
    if (this.bodyLeft !== 0) { this.bodyMismatch('shorter'); return; }
    if (this.bodyChunked) this.socket.write('0\r\n\r\n', 'latin1');
    this.bodyDone = true;
    this.since = clockNow();
    this.detachBody();
  };

  private readonly onBodyError = (): void => {
    // The client side gave up (the Exchange destroyed the body): the upstream
    // request cannot be completed, so the connection cannot be reused.
    if (this.body === null) return;
    this.detachBody();
    this.destroy();
  };

  private readonly onDrain = (): void => {
    if (this.body !== null) this.body.resume();
  };

  private detachBody(): void {
    const b = this.body;
    if (b === null) return;
    this.body = null;
    b.off('data', this.onBodyData);
    b.off('end', this.onBodyEnd);
    b.off('error', this.onBodyError);
  }

  // --- response ------------------------------------------------------------------------

  /**
   * Bytes that came when no request of ours was on the wire — the connection
   * idle, or a request started whose head is not written yet — are not a
   * response to anything: the connection is closed, never read on. Decided
   * when the bytes are read, not when deferred reads are handled: by then a
   * new request may have been started on this connection, and would take
   * them for its answer.
   */
  private unsolicited(): boolean {
    if (this.call !== null && this.outHead === '') return false;
    this.destroy();
    return true;
  }

  /** net's onread callback: bytes are in the shared read buffer until this returns. */
  readonly onRead = (nread: number, buf: Buffer): boolean => {
    if (this.unsolicited()) return false;
    // Large reads are handled at once, unless smaller ones wait before them (order, and a pause they may cause).
    if (nread <= DEFER_MAX || this.deferred !== null) {
      // Copied out of the shared buffer, handled after the poll phase with
      // the other responses of this loop turn: the client sends go out
      // together, waking the client side once per batch.
      const copy = Buffer.from(buf.subarray(0, nread));
      if (this.deferred === null) {
        this.deferred = [copy];
        reads.add(this);
      } else {
        this.deferred.push(copy);
      }
      return true;
    }
    try { this.onSocketData(buf.subarray(0, nread)); } catch (e) { this.crashed(e); }
    return true;
  };

  deferred: Buffer[] | null = null;
  /** Feeds reads held back by onRead, in order (they are copies: no head copy needed). */
  deliverDeferred(): void {
    const list = this.deferred;
    if (list === null) return;
    this.deferred = null;
    for (let i = 0; i < list.length; i++) {
      if (this.call === null) {
        // The response ended (or was abandoned) before these bytes: nothing asked for them.
        this.destroy();
        return;
      }
      if (this.paused) {
        // Paused by the handler mid-way: the rest waits with the pending bytes.
        const rest = list.slice(i);
        this.pending = Buffer.concat(this.pending === null ? rest : [this.pending.subarray(this.pendingAt), ...rest]);
        this.pendingAt = 0;
        return;
      }
      this.feedOwned(list[i]!, i + 1 < list.length);
    }
  }

  /** `more`: further reads follow this one (bytes past the message's end there make the connection unusable). */
  private feedOwned(chunk: Buffer, more: boolean): void {
    this.lastActive = clockNow();
    this.afterFeed(chunk, this.parser.feed(chunk, 0), more);
  }

  /** 'data' events (TLS sockets): a throw must not escape into the emitter (an uncaught exception). */
  private readonly onData = (chunk: Buffer): void => {
    try { this.onSocketData(chunk); } catch (e) { this.crashed(e); }
  };

  private readonly onSocketData = (chunk: Buffer): void => {
    if (this.unsolicited()) return;
    this.lastActive = clockNow();
    this.headThisRead = false;
    this.afterFeed(chunk, this.parser.feed(chunk, 0), false);
    // The handler keeps the head until its first body bytes or the end; in a
    // shared read buffer those views would be overwritten by the next read.
    if (this.headThisRead && this.reusedBuffer && this.call !== null) this.copyHead();
  };

  private copyHead(): void {
    const raw = this.raw!;
    if (raw.length === 0) return;
    const ab = raw[0]!.buffer;
    let lo = Infinity;
    let hi = 0;
    for (let i = 0; i < raw.length; i++) {
      const b = raw[i]!;
      if (b.buffer !== ab) return; // already a copy (the head spanned reads)
      if (b.byteOffset < lo) lo = b.byteOffset;
      if (b.byteOffset + b.length > hi) hi = b.byteOffset + b.length;
    }
    const copy = Buffer.from(new Uint8Array(ab, lo, hi - lo));
    for (let i = 0; i < raw.length; i++) {
      const b = raw[i]!;
      raw[i] = copy.subarray(b.byteOffset - lo, b.byteOffset - lo + b.length);
    }
  }

  private afterFeed(chunk: Buffer, at: number, more: boolean): void {
    if (at < 0) {
      this.fail(this.parser.error!);
      return;
    }
    if (this.ended) {
      this.ended = false;
      // Reusable only if the message ended exactly at the end of what came,
      // the upstream did not ask to close, and our request went out whole.
      if (at === chunk.length && !more && this.parser.keepAlive && this.bodyDone && this.alive) {
        this.served++;
        this.owner.release(this);
      } else {
        this.destroy();
      }
      return;
    }
    if (this.paused && at < chunk.length) {
      this.pending = this.reusedBuffer ? Buffer.from(chunk.subarray(at)) : chunk;
      this.pendingAt = this.reusedBuffer ? 0 : at;
    }
  }

  onHead(status: number, raw: Buffer[]): boolean {
    this.phase = PHASE_BODY;
    this.headThisRead = true;
    this.raw = raw;
    const call = this.call!;
    // Read no further once the handler paused or aborted (the call is gone).
    if (call.handler.onHeaders(status, raw, call.resume)) return this.call === call;
    if (this.call === call) this.pause();
    return false;
  }

  onBody(chunk: Buffer): boolean {
    const call = this.call;
    if (call === null) return false;
    if (call.handler.onData(chunk)) return this.call === call;
    if (this.call === call) this.pause();
    return false;
  }

  onEnd(): void {
    const call = this.call;
    if (call === null) return; // aborted in the very callback that carried the end: the abort was reported
    this.call = null;
    call.finished = true;
    call.conn = null;
    this.phase = PHASE_IDLE;
    this.ended = true;
    this.pending = null;
    if (this.paused) {
      // Paused on the last bytes: the message is whole, so read on (or the next request on this connection hangs).
      this.paused = false;
      this.socket.resume();
    }
    if (!this.bodyDone) this.detachBody(); // answered before the upload ended: not reusable (bodyDone stays false)
    call.handler.onComplete(null);
  }

  private pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  resume(call: Call): void {
    if (call !== this.call || !this.paused) return;
    this.paused = false;
    this.lastActive = clockNow();
    const p = this.pending;
    if (p !== null) {
      this.pending = null;
      this.afterFeed(p, this.parser.feed(p, this.pendingAt), false);
    }
    if (this.paused) return;
    if (this.closeWaits) this.concludeClose();
    else if (this.alive) this.socket.resume();
  }

  // --- the end of a connection ------------------------------------------------------------

  /** The request's handler gave up (client gone, deadline): the response is not read further. */
  abortCall(call: Call): void {
    if (call !== this.call) return;
    this.call = null;
    call.conn = null;
    this.destroy();
    if (this.closeWaits) this.concludeClose();
  }

  /** A protocol error or timeout on the current request: report it, close the connection. */
  fail(err: Error): void {
    const call = this.call;
    this.call = null;
    this.destroy();
    call?.fail(err);
    if (this.closeWaits) this.concludeClose();
  }

  /**
   * A handler (or this code) threw while handling this connection's bytes:
   * a bug. It costs this request and this connection, never the process or
   * the other requests of the batch.
   */
  crashed(e: unknown): void {
    log.error('upstream response handling failed; connection closed', { error: (e as Error)?.stack ?? String(e) });
    this.deferred = null;
    try { this.fail(new UpstreamError('UND_ERR_SOCKET', 'upstream response handling failed')); } catch { /* already reported */ }
  }

  destroy(): void {
    if (!this.alive) return;
    this.alive = false;
    this.detachBody();
    this.socket.destroy();
  }

  private readonly onSocketError = (err: Error): void => {
    this.socketError = err;
  };

  /** The socket closed while the handler was paused with bytes still to parse: the close is concluded once they are. */
  private closeWaits = false;

  private readonly onSocketClose = (): void => {
    // Dead first: a response that the held-back reads complete must not hand this connection to another request.
    this.alive = false;
    this.detachBody();
    if (this.deferred !== null) this.deliverDeferred();
    if (this.call !== null && this.pending !== null) {
      // Those bytes may hold the rest of the message (a TLS socket reads on,
      // up to the close, while paused): judging the close now would cut a
      // whole response, or end a read-until-close body short as complete.
      this.closeWaits = true;
      return;
    }
    this.concludeClose();
  };

  /** After the close and every byte before it: the end of a read-until-close body, the keep-alive race (retry), or an error. */
  private concludeClose(): void {
    this.closeWaits = false;
    const call = this.call;
    // A reset is not the end of a read-until-close body: bytes in flight may be lost.
    if (call !== null && this.connected && this.socketError === null && this.parser.eof()) {
      // The body was delimited by the close: onEnd completed the call.
      this.ended = false;
      this.owner.closed(this, null, null, false);
      return;
    }
    this.call = null;
    const retryable = call !== null && this.connected && this.served > 0 && this.parser.received === 0 &&
      call.req.body === null && !call.retried && IDEMPOTENT_METHODS.has(call.req.method);
    const err = this.resetAfterHandshake() ? new UpstreamError(TLS_RESET_AFTER_HANDSHAKE, 'upstream reset the TLS connection before any response (a refused client certificate?)')
      : this.socketError ?? (this.connected ? new UpstreamError('UND_ERR_SOCKET', 'upstream closed the connection before the response ended') : null);
    this.owner.closed(this, call, err, retryable);
  }

  /** See TLS_RESET_AFTER_HANDSHAKE: a TLS connection reset before any byte of its first response. */
  private resetAfterHandshake(): boolean {
    const e = this.socketError as NodeJS.ErrnoException | null;
    // The reset may surface as ECONNRESET, EPIPE (our write raced it) or a bare close, by timing alone.
    return (e === null || e.code === 'ECONNRESET' || e.code === 'EPIPE') && this.connected && this.served === 0 && this.parser.received === 0 &&
      (this.socket as { encrypted?: boolean }).encrypted === true;
  }

  /** The pool's sweep: headers/body timeouts (the body clock stops while the client is slow). */
  checkTimeouts(now: number, headersTimeout: number, bodyTimeout: number): void {
    if (this.call === null) return;
    if (this.phase === PHASE_WAIT_HEAD && this.bodyDone && now - this.since > headersTimeout) {
      this.fail(new UpstreamError('UND_ERR_HEADERS_TIMEOUT', `upstream sent no response head within ${headersTimeout} ms`));
    } else if (this.phase === PHASE_BODY && !this.paused && now - this.lastActive > bodyTimeout) {
      this.fail(new UpstreamError('UND_ERR_BODY_TIMEOUT', `upstream sent no body bytes for ${bodyTimeout} ms`));
    }
  }
}
