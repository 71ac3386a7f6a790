// Keep-alive connections to one upstream target, purpose-built for the
// gateway: at most `connections` sockets, the most recently used idle one
// first (warm), a FIFO queue when all are busy, one sweep timer for every
// timeout (no timer per request), and a single retry on a fresh connection
// when a reused one turns out to have been closed by the upstream before it
// answered (the keep-alive race), for bodiless idempotent requests only.
// Same handler interface as undici's Dispatcher, so the Exchange drives both.
import net from 'node:net';
import tls from 'node:tls';
import type { UpstreamTlsOptions } from '../upstream-tls.js';
import { Call, type ConnectionOwner } from './call.js';
import { H1Connection } from './connection.js';
import type { UpstreamHandler, UpstreamRequest } from './handler.js';
import { UpstreamError } from './errors.js';
import { clockNow } from '../../lib/clock.js';

/** Every plain upstream socket of this thread reads into this buffer (reads are handled one at a time). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export interface H1PoolOptions {
  connections: number;
  /** upstreams.*.tls for an https:// origin (CA, client certificate, server name); null = defaults. */
  tls?: UpstreamTlsOptions | null;
  connectTimeout: number;
  /** Idle connections are closed after this long (ms). */
  keepAliveTimeout: number;
  headersTimeout: number;
  bodyTimeout: number;
  maxHeaderSize?: number;
}

export class H1Pool implements ConnectionOwner {
  readonly maxHeaderSize: number;
  private readonly host: string;
  private readonly port: number;
  private readonly secure: boolean;
  private readonly servername: string | undefined;
  private readonly idle: H1Connection[] = [];
  private readonly conns = new Set<H1Connection>();
  private readonly queue: Call[] = [];
  private queueHead = 0;
  private readonly sweepTimer: NodeJS.Timeout;
  private closing: (() => void) | null = null;
  private closePromise: Promise<void> | null = null;
  private isClosed = false;

  constructor(origin: string, private readonly o: H1PoolOptions) {
    const u = new URL(origin);
    this.secure = u.protocol === 'https:';
    this.host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    this.port = u.port ? Number(u.port) : this.secure ? 443 : 80;
    this.servername = this.secure && net.isIP(this.host) === 0 ? this.host : undefined;
    this.maxHeaderSize = o.maxHeaderSize ?? 16 * 1024;
    const every = Math.max(25, Math.min(1000, Math.floor(Math.min(o.headersTimeout, o.bodyTimeout, o.keepAliveTimeout) / 8)));
    this.sweepTimer = setInterval(this.sweep, every);
    this.sweepTimer.unref();
  }

  /** Sends a request; the handler hears everything, including errors (never thrown). */
  dispatch(req: UpstreamRequest, handler: UpstreamHandler): boolean {
    const call = new Call(req, handler, this.abortCall);
    handler.onConnect(call.abort);
    if (call.finished) return true;
    if (this.isClosed) {
      call.fail(new UpstreamError('UND_ERR_CLOSED', 'upstream pool is closed'));
      return false;
    }
    this.assign(call, false);
    return true;
  }

  get stats(): { connected: number; free: number; queued: number } {
    return { connected: this.conns.size, free: this.idle.length, queued: this.queue.length - this.queueHead };
  }

  private assign(call: Call, fresh: boolean): void {
    if (!fresh) {
      // A connection destroyed while idle (stray bytes) stays listed until its close event: skip it.
      for (let c = this.idle.pop(); c !== undefined; c = this.idle.pop()) {
        if (c.alive) {
          c.start(call, clockNow());
          return;
        }
      }
    }
    if (this.conns.size < this.o.connections) {
      this.connect(call);
      return;
    }
    call.queued = true;
    this.queue.push(call);
  }

  private connect(call: Call): void {
    // Plain sockets read into one shared buffer (onread): no Buffer and no
    // stream machinery per read. TLS sockets keep 'data' events.
    let conn!: H1Connection;
    const socket = this.secure
      ? tls.connect({ host: this.host, port: this.port, servername: this.servername, ALPNProtocols: ['http/1.1'], ...this.o.tls })
      : net.connect({ host: this.host, port: this.port, onread: { buffer: READ_BUFFER, callback: (n, b) => conn.onRead(n, b as Buffer) } });
    socket.setNoDelay(true);
    conn = new H1Connection(this, socket, !this.secure);
    this.conns.add(conn);
    const timer = setTimeout(() => {
      if (!conn.connected) {
        socket.destroy(new UpstreamError('UND_ERR_CONNECT_TIMEOUT', `connecting to ${this.host}:${this.port} took longer than ${this.o.connectTimeout} ms`));
      }
    }, this.o.connectTimeout);
    // The call rides on the connection while it connects, so abort and close find it.
    conn.call = call;
    call.conn = conn;
    socket.once(this.secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      conn.connected = true;
      socket.setKeepAlive(true, 60_000);
      const c = conn.call;
      conn.call = null;
      if (c === null) this.release(conn); // its request was aborted while connecting
      else c.conn = null, conn.start(c, clockNow());
    });
    socket.once('close', () => clearTimeout(timer));
  }

  private nextQueued(): Call | null {
    while (this.queueHead < this.queue.length) {
      const c = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined as unknown as Call;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue.splice(0, this.queueHead);
        this.queueHead = 0;
      }
      if (!c.finished) {
        c.queued = false;
        return c;
      }
    }
    return null;
  }

  // --- ConnectionOwner ------------------------------------------------------------------------

  release(conn: H1Connection): void {
    const next = this.nextQueued();
    if (next !== null) {
      conn.start(next, clockNow());
      return;
    }
    if (this.isClosed) {
      conn.destroy();
      return;
    }
    conn.since = clockNow();
    this.idle.push(conn);
  }

  closed(conn: H1Connection, call: Call | null, err: Error | null, retryable: boolean): void {
    this.conns.delete(conn);
    const at = this.idle.indexOf(conn);
    if (at >= 0) this.idle.splice(at, 1);
    if (call !== null && !call.finished) {
      call.conn = null;
      if (retryable) {
        call.retried = true;
        this.assign(call, true);
      } else {
        call.fail(err ?? new UpstreamError('UND_ERR_SOCKET', 'upstream connection closed'));
      }
    }
    // A slot is free: a waiting request gets a new connection (a closing pool still serves its queue).
    if (this.conns.size < this.o.connections) {
      const next = this.nextQueued();
      if (next !== null) this.connect(next);
    }
    if (this.closing !== null && this.conns.size === 0) this.finishClose();
  }

  /** Every connection is gone and nothing waits: the close is complete. */
  private finishClose(): void {
    clearInterval(this.sweepTimer);
    const done = this.closing;
    this.closing = null;
    done?.();
  }

  private readonly abortCall = (call: Call, err: Error | undefined): void => {
    if (call.finished) return;
    const conn = call.conn;
    if (conn !== null && !conn.connected) {
      // Still connecting: let the connection live on for the next request.
      conn.call = null;
      call.conn = null;
    } else if (conn !== null) {
      conn.abortCall(call);
    }
    call.fail(err ?? new UpstreamError('UND_ERR_ABORTED', 'request aborted'));
  };

  private readonly sweep = (): void => {
    const now = Date.now();
    const { headersTimeout, bodyTimeout, keepAliveTimeout } = this.o;
    for (const c of this.conns) c.checkTimeouts(now, headersTimeout, bodyTimeout);
    // Idle connections: the oldest are at the front.
    while (this.idle.length > 0 && now - this.idle[0]!.since > keepAliveTimeout) this.idle.shift()!.destroy();
  };

  /**
   * Stops taking requests; resolves when every connection has closed. The
   * requests already taken finish first — in flight or still queued (as
   * undici's Pool does): a reload closes the old pools while requests on
   * routes with a longer timeout may still wait for a connection. The sweep
   * (their timeouts) runs until then.
   */
  close(): Promise<void> {
    if (this.closePromise !== null) return this.closePromise;
    this.isClosed = true;
    for (const c of this.idle.splice(0)) c.destroy();
    if (this.conns.size === 0) {
      clearInterval(this.sweepTimer);
      this.closePromise = Promise.resolve();
    } else {
      this.closePromise = new Promise((resolve) => { this.closing = resolve; });
    }
    return this.closePromise;
  }

  /** Closes every connection now; in-flight requests fail. */
  destroy(): Promise<void> {
    this.isClosed = true;
    clearInterval(this.sweepTimer);
    for (const c of this.conns) c.fail(new UpstreamError('UND_ERR_CLOSED', 'upstream pool destroyed'));
    for (let c = this.nextQueued(); c !== null; c = this.nextQueued()) c.fail(new UpstreamError('UND_ERR_CLOSED', 'upstream pool destroyed'));
    return this.close();
  }
}
