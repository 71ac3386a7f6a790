// One WebSocket relayed between a client (a uWS socket, behind the narrow
// ClientSocket face) and its upstream (a `ws` client socket). Backpressure
// both ways: a client reading slowly pauses the upstream socket until uWS
// drains; uWS cannot pause reading one socket, so an upstream that stops
// reading closes the client with 1013 past a bound. Either memory stays
// bounded per socket by a few max_message.
import { randomFillSync } from 'node:crypto';
import WebSocket from 'ws';
import type { RouteSocketStats } from '../observe/websocket-metrics.js';
import { clockNow } from '../lib/clock.js';
import type { WebSocketRoute } from './route.js';

/** What the relay needs of the client's socket (uWS's WebSocket has it). */
export interface ClientSocket {
  send(message: Uint8Array, isBinary: boolean): number;
  end(code?: number, shortMessage?: Uint8Array | string): void;
  getBufferedAmount(): number;
  cork(cb: () => void): unknown;
}

/** Where and how to open the upstream socket. */
export interface UpstreamDial {
  /** ws:// or wss:// URL with path and query. */
  readonly url: string;
  readonly protocols: readonly string[];
  readonly headers: Readonly<Record<string, string>>;
  /** upstreams.*.tls for a wss:// target (CA, client certificate, server name). */
  readonly tls: Readonly<{ ca?: string; cert?: string; key?: string; passphrase?: string; servername?: string }> | null;
  /** Handshake deadline (the upstream's timeout). */
  readonly timeoutMs: number;
}

/** The relay's owner: counts open sockets and sweeps them (src/websocket/hub.ts). */
export interface RelayOwner {
  opened(r: Relay): void;
  closed(r: Relay): void;
}

export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_TRY_AGAIN = 1013;
export const CLOSE_BAD_GATEWAY = 1014;

const BIN = Object.freeze({ binary: true });
const TEXT = Object.freeze({ binary: false });
/** Floor of the per-socket buffering bounds below (a socket with tiny messages still gets some slack). */
const MIN_BOUND = 64 * 1024;

/**
 * Masks from a random pool, never all zero: `ws` sends an unmasked payload by
 * reference (no copy), and the client's payload is uWS's memory, valid only
 * during the message callback. A non-zero mask makes `ws` copy while masking.
 */
const POOL = Buffer.alloc(8192);
let poolAt = POOL.length;
function generateMask(mask: Buffer): void {
  if (poolAt + 4 > POOL.length) { randomFillSync(POOL); poolAt = 0; }
  mask[0] = POOL[poolAt]!; mask[1] = POOL[poolAt + 1]!; mask[2] = POOL[poolAt + 2]!; mask[3] = POOL[poolAt + 3]!;
  poolAt += 4;
  if ((mask[0]! | mask[1]! | mask[2]! | mask[3]!) === 0) mask[0] = 1;
}

/** Close codes `ws` accepts in close(): the rest (1005, 1006, 1015, out of range) end the upstream socket without a code. */
function sendableCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

export class Relay {
  private upstream: WebSocket | null = null;
  private client: ClientSocket | null = null;
  /** Upstream messages that arrived before the client socket opened. */
  private early: { data: Buffer; binary: boolean }[] | null = null;
  private earlyBytes = 0;
  private upstreamPaused = false;
  /** The client's socket is closed, or never opened and the relay was cancelled. */
  done = false;
  lastActivity: number;
  /** Above this many bytes waiting for the client, the upstream socket is paused. */
  private readonly clientHigh: number;
  /** Above this many bytes waiting for the upstream, the client is closed (1013). */
  private readonly upstreamHard: number;
  /** Why the upstream side ended (ws error code), for the client's close code. */
  private upstreamError = '';
  // Upstream messages waiting for the next flush (toClient), reused.
  private readonly batch: Buffer[] = [];
  private readonly batchBinary: boolean[] = [];
  private flushQueued = false;

  constructor(
    private readonly owner: RelayOwner,
    readonly route: WebSocketRoute,
    readonly stats: RouteSocketStats,
    /** Epoch ms when the credential expires (Infinity: never, or close_on_expiry off). */
    readonly expiresAt: number,
    /** The runtime (config generation) the socket was opened on. */
    readonly generation: object,
  ) {
    this.lastActivity = clockNow();
    this.clientHigh = Math.max(MIN_BOUND, route.maxMessage);
    this.upstreamHard = Math.max(4 * MIN_BOUND, 2 * route.maxMessage);
  }

  /**
   * Opens the upstream socket. Returns false when `ws` refuses the request
   * itself (a malformed Sec-WebSocket-Protocol list); otherwise exactly one
   * of `onOpen` (with the subprotocol the upstream chose) or `onFail` follows
   * (`answered`: the upstream gave an HTTP answer other than 101, so it is up).
   */
  dial(d: UpstreamDial, onOpen: (protocol: string) => void, onFail: (why: string, answered: boolean) => void): boolean {
    let ws: WebSocket;
    try {
      ws = new WebSocket(d.url, d.protocols as string[], {
        headers: d.headers as Record<string, string>,
        perMessageDeflate: false,
        maxPayload: this.route.maxMessage,
        handshakeTimeout: d.timeoutMs,
        followRedirects: false,
        generateMask,
        ...(d.tls ?? {}),
      });
    } catch {
      return false;
    }
    let settled = false;
    const fail = (why: string, answered = false): void => {
      if (settled) return;
      settled = true;
      onFail(why, answered);
    };
    ws.on('unexpected-response', (req, res) => {
      res.resume();
      fail(`upstream answered ${res.statusCode} instead of 101`, true);
      req.destroy();
      ws.terminate();
    });
    ws.on('error', (e: Error & { code?: string }) => {
      if (!settled) { fail(e.code ?? e.message); return; }
      this.upstreamError = e.code ?? 'error';
    });
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      this.upstream = ws;
      this.early = [];
      ws.on('message', this.fromUpstream);
      ws.on('ping', this.touch);
      ws.on('pong', this.touch);
      ws.on('close', this.upstreamClosed);
      onOpen(ws.protocol);
    });
    return true;
  }

  /** The client socket is open (uWS open): the relay runs from now on. */
  attach(client: ClientSocket): void {
    this.client = client;
    this.owner.opened(this);
    const early = this.early;
    this.early = null;
    if (early !== null) for (const m of early) this.toClient(m.data, m.binary);
    if (this.upstream === null) this.close(CLOSE_BAD_GATEWAY, 'upstream closed the connection');
  }

  /** Upgrade never happened (client gone, answer already given): drop the upstream socket. */
  cancel(): void {
    this.done = true;
    const up = this.upstream;
    this.upstream = null;
    up?.terminate();
  }

  // --- client → upstream ---------------------------------------------------------

  /** uWS message: `ab` is uWS's memory, valid only during this call. */
  fromClient(ab: ArrayBuffer, isBinary: boolean): void {
    const n = ab.byteLength;
    if (n > this.route.maxMessage) { this.close(CLOSE_TOO_BIG, 'message too big'); return; }
    this.lastActivity = clockNow();
    const s = this.stats;
    s.messagesToUpstream++;
    s.bytesToUpstream += n;
    const up = this.upstream;
    if (up === null || up.readyState !== 1) return;
    up.send(Buffer.from(ab), isBinary ? BIN : TEXT); // copied while masked (generateMask)
    if (up.bufferedAmount > this.upstreamHard) this.close(CLOSE_TRY_AGAIN, 'upstream is not reading');
  }

  /** uWS drain: the client took some of what was buffered for it. */
  clientDrained(): void {
    const c = this.client;
    if (this.upstreamPaused && c !== null && c.getBufferedAmount() < this.clientHigh / 2) {
      this.upstreamPaused = false;
      this.upstream?.resume();
    }
  }

  /** uWS close (whoever closed): pass the code and reason on to the upstream. */
  clientClosed(code: number, reason: ArrayBuffer): void {
    if (this.client === null) return;
    this.client = null;
    this.done = true;
    this.stats.closed(code);
    this.owner.closed(this);
    const up = this.upstream;
    this.upstream = null;
    if (up === null) return;
    if (up.readyState === 1 && code === 1005) { up.close(); return; } // a close frame without a code, passed on as such
    if (up.readyState !== 1 || !sendableCode(code)) { up.terminate(); return; }
    try {
      up.close(code, Buffer.from(new Uint8Array(reason))); // a copy: uWS reuses `reason` after this call
    } catch {
      up.terminate();
    }
  }

  readonly touch = (): void => {
    this.lastActivity = clockNow();
  };

  // --- upstream → client ---------------------------------------------------------

  private readonly fromUpstream = (data: Buffer, isBinary: boolean): void => {
    this.lastActivity = clockNow();
    if (this.client === null) {
      if (this.early === null || this.done) return;
      this.early.push({ data, binary: isBinary });
      this.earlyBytes += data.length;
      if (this.earlyBytes > this.clientHigh && !this.upstreamPaused) { this.upstreamPaused = true; this.upstream?.pause(); }
      return;
    }
    this.toClient(data, isBinary);
  };

  /**
   * Messages `ws` parses from one upstream read arrive in one synchronous
   * burst: they are sent in one cork after it (a microtask), so the client gets
   * them in one write instead of one per message.
   */
  private toClient(data: Buffer, isBinary: boolean): void {
    if (this.client === null) return;
    const s = this.stats;
    s.messagesToClient++;
    s.bytesToClient += data.length;
    this.batch.push(data);
    this.batchBinary.push(isBinary);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    const c = this.client;
    if (c === null || this.batch.length === 0) { this.batch.length = 0; this.batchBinary.length = 0; return; }
    c.cork(this.sendBatch);
    if (!this.upstreamPaused && this.client !== null && c.getBufferedAmount() > this.clientHigh) {
      this.upstreamPaused = true;
      this.upstream?.pause();
    }
  };

  private readonly sendBatch = (): void => {
    const b = this.batch;
    const bin = this.batchBinary;
    // A send can close the socket (uWS's backpressure limit): client is null from then on.
    for (let i = 0; i < b.length && this.client !== null; i++) this.client.send(b[i]!, bin[i]!);
    b.length = 0;
    bin.length = 0;
  };

  private readonly upstreamClosed = (code: number, reason: Buffer): void => {
    this.upstream = null;
    if (this.client === null) return;
    this.flush(); // what came before the close goes first
    if (this.upstreamError === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.close(CLOSE_TOO_BIG, 'upstream message too big');
    else if (this.upstreamError !== '' || code === 1006) this.close(CLOSE_BAD_GATEWAY, 'upstream connection lost');
    else if (code === 1005 || !sendableCode(code)) this.close(0, '');
    else this.close(code, reason);
  }

  /** Closes the client's socket with `code` (0: a close frame without a code); the upstream gets the same code. */
  close(code: number, reason: string | Uint8Array): void {
    const c = this.client;
    if (c === null) { this.cancel(); return; }
    if (code === 0) c.end(); else c.end(code, reason);
  }
}
