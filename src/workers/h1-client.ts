// The worker threads' HTTP/1.1 client for callouts: keep-alive connections
// per origin, one write per request, the answer read by the upstream
// client's strict parser (src/proxy/h1/response-parser.ts) into one bounded
// buffer. Deadlines are enforced by one sweep timer per thread, not a timer
// or AbortSignal per call: the caller's own timer decides every timeout, the
// sweep only frees the socket of a call past its deadline (plus a grace).
import net from 'node:net';
import tls from 'node:tls';
import { ResponseParser, type ResponseSink } from '../proxy/h1/response-parser.js';
import type { CalloutAnswer, CalloutErrorKind } from './callout.js';

export interface OutgoingCall {
  readonly url: string;
  readonly method: string;
  /** Lower-case names → values (latin1 text: the bytes sent). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | undefined;
  readonly maxBody: number;
  /** Epoch ms. */
  readonly deadline: number;
}

export type Done = (a: CalloutAnswer) => void;

/** A socket of a call past its deadline is destroyed this much later (the caller has answered by then). */
const GRACE_MS = 250;
const SWEEP_MS = 50;
/** Idle keep-alive connections are closed after this, or 1 s before the server's Keep-Alive timeout. */
const IDLE_MS = 10_000;
const MAX_HEAD = 16 * 1024;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/i;
const BAD_VALUE = /[\0\r\n\x7f]/;

interface Origin {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly hostHeader: string;
  /** Idle connections, most recently used last. */
  readonly idle: Conn[];
}

interface Target {
  readonly origin: Origin;
  readonly path: string;
}

const origins = new Map<string, Origin>();
/** Parsed URLs: callouts go to a few configured URLs, so the cache stays small; bounded anyway. */
const targets = new Map<string, Target>();
const MAX_TARGETS = 1024;

function target(url: string): Target | string {
  let t = targets.get(url);
  if (t !== undefined) return t;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `invalid URL ${url}`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `unsupported protocol ${u.protocol}`;
  const secure = u.protocol === 'https:';
  const port = u.port === '' ? (secure ? 443 : 80) : Number(u.port);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const key = `${u.protocol}//${u.host}`;
  let o = origins.get(key);
  if (o === undefined) {
    o = { key, host, port, tls: secure, hostHeader: u.host, idle: [] };
    origins.set(key, o);
  }
  t = { origin: o, path: `${u.pathname}${u.search}` };
  if (targets.size >= MAX_TARGETS) targets.clear();
  targets.set(url, t);
  return t;
}

/** Calls in flight on this thread, for the deadline sweep. */
const inflight = new Set<Conn>();
let sweeper: NodeJS.Timeout | null = null;

function sweep(): void {
  const now = Date.now();
  for (const c of inflight) if (c.call !== null && now > c.call.deadline + GRACE_MS) c.fail('timeout', 'deadline passed before the service answered');
  for (const o of origins.values()) {
    while (o.idle.length > 0 && now > o.idle[0]!.idleUntil) o.idle.shift()!.socket.destroy();
  }
}

function classifySocket(e: NodeJS.ErrnoException): CalloutErrorKind {
  if (e.code === 'ECONNREFUSED') return 'refused';
  if (e.code === 'ETIMEDOUT') return 'timeout';
  return 'network';
}

const KEEP_ALIVE_TIMEOUT = /timeout=(\d+)/i;
/** Connection-level answer headers: used by this client, not part of the answer. */
const FRAMING: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'content-length', 'transfer-encoding']);

class Conn implements ResponseSink {
  readonly socket: net.Socket;
  private readonly parser: ResponseParser;
  call: OutgoingCall | null = null;
  private done: Done | null = null;
  /** The connection carried an answer before: a close before any byte of the next one is the server's idle close. */
  reused = false;
  idleUntil = 0;
  private keepAliveMs = IDLE_MS;
  private status = 0;
  private headers: Record<string, string> = {};
  private chunks: Buffer[] = [];
  private size = 0;
  private retry: (() => void) | null = null;

  constructor(private readonly origin: Origin) {
    this.parser = new ResponseParser(this, MAX_HEAD);
    const s = origin.tls
      ? tls.connect({ host: origin.host, port: origin.port, servername: net.isIP(origin.host) === 0 ? origin.host : undefined, ALPNProtocols: ['http/1.1'] })
      : net.connect({ host: origin.host, port: origin.port });
    s.setNoDelay(true);
    s.on('data', (b: Buffer) => this.onData(b));
    s.on('error', (e: NodeJS.ErrnoException) => this.lost(classifySocket(e), e.message));
    s.on('close', () => this.lost('network', 'the service closed the connection before answering'));
    this.socket = s;
  }

  start(call: OutgoingCall, head: string, body: string | undefined, done: Done, retry: (() => void) | null): void {
    this.call = call;
    this.done = done;
    this.retry = retry;
    this.status = 0;
    this.headers = {};
    this.chunks = [];
    this.size = 0;
    this.parser.reset(call.method === 'HEAD');
    inflight.add(this);
    const s = this.socket;
    if (body === undefined || body.length === 0) s.write(head, 'latin1');
    else if (Buffer.byteLength(body, 'utf8') === body.length) s.write(head + body, 'latin1');
    else {
      s.cork();
      s.write(head, 'latin1');
      s.write(body, 'utf8');
      s.uncork();
    }
  }

  private onData(b: Buffer): void {
    if (this.call === null) {
      // Bytes nobody asked for on an idle connection: it cannot be trusted for the next call.
      this.socket.destroy();
      return;
    }
    const used = this.parser.feed(b, 0);
    if (used < 0) {
      this.fail('protocol', this.parser.error?.message ?? 'invalid answer');
      return;
    }
    // An answer ended: bytes after it make the connection unusable (nothing is pipelined).
    if (this.call === null && used < b.length) this.socket.destroy();
  }

  onHead(status: number, raw: Buffer[]): boolean {
    this.status = status;
    const h = this.headers;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1').toLowerCase();
      if (name === 'set-cookie') continue;
      const v = raw[i + 1]!.toString('latin1');
      if (FRAMING.has(name)) {
        // Read here (the framing is this client's business), never handed on: no caller reads them.
        if (name === 'keep-alive') {
          const m = KEEP_ALIVE_TIMEOUT.exec(v);
          if (m !== null) this.keepAliveMs = Math.min(IDLE_MS, Math.max(0, Number(m[1]) * 1000 - 1000));
        }
        continue;
      }
      const prev = h[name];
      h[name] = prev === undefined ? v : `${prev}, ${v}`;
    }
    return true;
  }

  onBody(chunk: Buffer): boolean {
    const call = this.call!;
    this.size += chunk.length;
    if (this.size > call.maxBody) {
      this.fail('too_large', `answer body larger than ${call.maxBody} bytes`);
      return false;
    }
    // The parser hands subarrays of the socket's chunk: copy only what is kept.
    this.chunks.push(chunk);
    return true;
  }

  onEnd(): void {
    const done = this.done!;
    const body = this.chunks.length === 0 ? '' : this.chunks.length === 1 ? this.chunks[0]!.toString('utf8') : Buffer.concat(this.chunks, this.size).toString('utf8');
    const a: CalloutAnswer = { ok: true, status: this.status, headers: this.headers, body };
    this.release();
    if (this.parser.keepAlive && !this.socket.destroyed && this.keepAliveMs > 0) {
      this.reused = true;
      this.idleUntil = Date.now() + this.keepAliveMs;
      this.origin.idle.push(this);
    } else this.socket.destroy();
    done(a);
  }

  private release(): void {
    this.call = null;
    this.done = null;
    this.retry = null;
    this.chunks = [];
    inflight.delete(this);
  }

  /** The socket failed or closed: the call in flight (if any) fails, or is retried once when the server closed a reused connection first. */
  private lost(kind: CalloutErrorKind, detail: string): void {
    const idx = this.origin.idle.indexOf(this);
    if (idx >= 0) this.origin.idle.splice(idx, 1);
    if (this.call === null) return;
    if (kind === 'network' && this.parser.received === 0 && this.reused && this.retry !== null) {
      const again = this.retry;
      this.release();
      this.socket.destroy();
      again();
      return;
    }
    if (this.parser.eof()) return; // a read-until-close body ended: onEnd answered
    this.fail(kind, detail);
  }

  fail(kind: CalloutErrorKind, detail: string): void {
    const done = this.done;
    this.release();
    this.socket.destroy();
    if (done !== null) done({ ok: false, error: kind, detail });
  }
}

/**
 * The request head for one call: the one place a worker builds an outgoing
 * request's headers. null when a header cannot be sent (an invalid name, or
 * a value with CR, LF, NUL or DEL).
 */
function requestHead(call: OutgoingCall, t: Target, bodyBytes: number): string | null {
  let head = `${call.method} ${t.path} HTTP/1.1\r\nhost: ${t.origin.hostHeader}\r\n`;
  const h = call.headers;
  for (const name in h) {
    const v = h[name]!;
    if (!TOKEN.test(name) || BAD_VALUE.test(v)) return null;
    if (name === 'host' || name === 'content-length' || name === 'connection' || name === 'transfer-encoding') continue;
    head += `${name}: ${v}\r\n`;
  }
  if (bodyBytes > 0 || call.method === 'POST') head += `content-length: ${bodyBytes}\r\n`;
  return `${head}\r\n`;
}

/** Sends one call; `done` is called exactly once. */
export function send(call: OutgoingCall, done: Done): void {
  if (call.deadline - Date.now() <= 0) {
    done({ ok: false, error: 'expired', detail: 'deadline passed before the task started' });
    return;
  }
  const t = target(call.url);
  if (typeof t === 'string') {
    done({ ok: false, error: 'network', detail: t });
    return;
  }
  const body = call.body;
  const head = requestHead(call, t, body === undefined ? 0 : Buffer.byteLength(body, 'utf8'));
  if (head === null) {
    done({ ok: false, error: 'network', detail: 'a request header name or value cannot be sent' });
    return;
  }
  if (sweeper === null) {
    sweeper = setInterval(sweep, SWEEP_MS);
    sweeper.unref();
  }
  const o = t.origin;
  let c: Conn | undefined;
  while ((c = o.idle.pop()) !== undefined && c.socket.destroyed);
  if (c !== undefined) {
    // A reused connection the server may have closed meanwhile: one retry on a fresh one.
    c.start(call, head, body, done, () => new Conn(o).start(call, head, body, done, null));
  } else new Conn(o).start(call, head, body, done, null);
}
