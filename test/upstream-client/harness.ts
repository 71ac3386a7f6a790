// Test harness for the upstream HTTP/1.1 client (src/proxy/h1/): a raw TCP
// server on 127.0.0.1:0 that reads real requests and answers with whatever
// bytes a test crafts, counting the connections it accepts (to prove reuse or
// its absence), and `run`, which drives one request through an H1Pool and
// records everything the handler heard.
import net from 'node:net';
import { connTracker } from '../helpers/conn-tracker.js';
import { Readable } from 'node:stream';
import { H1Pool, type H1PoolOptions } from '../../src/proxy/h1/pool.js';
import type { UpstreamHandler, UpstreamRequest } from '../../src/proxy/h1/connection.js';
import { sleep } from '../helpers/time.js';
export { sleep };


export interface ServerRequest {
  /** 1-based id of the TCP connection it came on (in accept order). */
  connId: number;
  /** 1-based number of the request on its connection. */
  onConn: number;
  method: string;
  path: string;
  /** Lower-case names. */
  headers: Map<string, string>;
  body: Buffer;
  socket: net.Socket;
}

export type RequestHandler = (req: ServerRequest) => void;

export interface RawServer {
  readonly port: number;
  readonly url: string;
  /** Connections accepted so far. */
  accepted(): number;
  /** Connections currently open. */
  open(): number;
  readonly requests: ServerRequest[];
  /** Answers every request; tests replace it. `/follow…` paths always get `followUp`. */
  handler: RequestHandler;
  /** Called on accept (before any request): e.g. a server that never answers. */
  onAccept: ((socket: net.Socket, connId: number) => void) | null;
  /** Resolves when the given connection has closed (false after `ms`). */
  waitClosed(connId: number, ms?: number): Promise<boolean>;
  isClosed(connId: number): boolean;
  close(): Promise<void>;
}

/** A plain keep-alive 200 that names the connection it came on (x-conn). */
export function followUp(req: ServerRequest): void {
  req.socket.write(`HTTP/1.1 200 OK\r\nx-conn: ${req.connId}\r\ncontent-length: 6\r\n\r\nfollow`);
}

export async function startRawServer(handler?: RequestHandler): Promise<RawServer> {
  const conns = connTracker();
  const requests: ServerRequest[] = [];
  const srv: RawServer = {
    port: 0,
    url: '',
    accepted: conns.accepted,
    open: conns.open,
    requests,
    handler: handler ?? followUp,
    onAccept: null,
    waitClosed: (connId, ms = 3000) => conns.waitClosed(connId, ms),
    isClosed: conns.isClosed,
    close: () => conns.closeServer(server),
  };
  const server = net.createServer((socket) => {
    const connId = conns.track(socket);
    if (srv.onAccept) srv.onAccept(socket, connId);
    let buf = Buffer.alloc(0);
    let onConn = 0;
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const got = readRequest(buf);
        if (got === null) return;
        buf = buf.subarray(got.used);
        const req: ServerRequest = { connId, onConn: ++onConn, method: got.method, path: got.path, headers: got.headers, body: got.body, socket };
        requests.push(req);
        if (req.path.startsWith('/follow')) followUp(req);
        else srv.handler(req);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  (srv as { port: number }).port = port;
  (srv as { url: string }).url = `http://127.0.0.1:${port}`;
  return srv;
}

/** One whole request from the front of `b` (Content-Length or chunked body), or null for "need more". */
function readRequest(b: Buffer): { used: number; method: string; path: string; headers: Map<string, string>; body: Buffer } | null {
  const end = b.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = b.toString('latin1', 0, end).split('\r\n');
  const [method = '', path = ''] = lines[0]!.split(' ');
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim());
  }
  let p = end + 4;
  const cl = headers.get('content-length');
  if (cl !== undefined) {
    const n = Number(cl);
    if (b.length < p + n) return null;
    return { used: p + n, method, path, headers, body: Buffer.from(b.subarray(p, p + n)) };
  }
  if (headers.get('transfer-encoding') === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const le = b.indexOf('\r\n', p);
      if (le < 0) return null;
      const size = parseInt(b.toString('latin1', p, le), 16);
      if (size === 0) {
        const te = b.indexOf('\r\n\r\n', le);
        if (te < 0) return null;
        return { used: te + 4, method, path, headers, body: Buffer.concat(parts) };
      }
      if (b.length < le + 2 + size + 2) return null;
      parts.push(b.subarray(le + 2, le + 2 + size));
      p = le + 2 + size + 2;
    }
  }
  return { used: p, method, path, headers, body: Buffer.alloc(0) };
}

/** Writes `pieces` one by one with a pause between them (so they tend to arrive as separate reads). */
export async function writeSlowly(socket: net.Socket, pieces: Array<string | Buffer>, gapMs = 2): Promise<void> {
  for (let i = 0; i < pieces.length; i++) {
    if (socket.destroyed) return;
    const p = pieces[i]!;
    socket.write(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
    if (i + 1 < pieces.length) await sleep(gapMs);
  }
}

export const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

// --- the client side ------------------------------------------------------------------------------

const pools = new Set<H1Pool>();

export function makePool(srvOrUrl: RawServer | string, o: Partial<H1PoolOptions> = {}): H1Pool {
  const pool = new H1Pool(typeof srvOrUrl === 'string' ? srvOrUrl : srvOrUrl.url, {
    connections: 1,
    connectTimeout: 2000,
    keepAliveTimeout: 10_000,
    headersTimeout: 3000,
    bodyTimeout: 3000,
    ...o,
  });
  pools.add(pool);
  return pool;
}

/** Destroys every pool made since the last call (afterEach). */
export async function destroyPools(): Promise<void> {
  const all = [...pools];
  pools.clear();
  await Promise.all(all.map((p) => p.destroy()));
}

export type ErrorWithCode = Error & { code?: string };

export interface Outcome {
  status: number;
  /** [name, value] as latin1 strings, as the client handed them on. */
  headers: Array<[string, string]>;
  body: Buffer;
  error: ErrorWithCode | null;
  completed: boolean;
  /** Interface breaches seen: callbacks after the end, data before the head, a head twice… */
  violations: string[];
  /** Every callback, in order (onData as "data:<length>"). */
  events: string[];
  /** The raw header buffers handed to onHeaders, read again at onComplete/onError (they must still hold the head). */
  headersAtEnd: Array<[string, string]>;
}

export interface RunOptions {
  method?: string;
  path?: string;
  headers?: string[];
  body?: Readable | null;
  onConnect?: (abort: (err?: Error) => void, out: Outcome) => void;
  onHeaders?: (status: number, resume: () => void, abort: () => void, out: Outcome) => boolean;
  onData?: (chunk: Buffer, resume: () => void, abort: () => void, out: Outcome) => boolean;
  /** Give up (and record error code TEST_TIMEOUT) after this long. */
  guardMs?: number;
}

/**
 * Sends one request and resolves when the handler heard onComplete or onError
 * (or the guard fired), a couple of macrotasks later so that a second, late
 * callback would be caught as a violation.
 */
export function run(pool: H1Pool, o: RunOptions = {}): Promise<Outcome> {
  const out: Outcome = { status: 0, headers: [], body: Buffer.alloc(0), error: null, completed: false, violations: [], events: [], headersAtEnd: [] };
  let rawKept: Buffer[] = [];
  const chunks: Buffer[] = [];
  let settled = false;
  let sawHead = false;
  let abortFn: (err?: Error) => void = () => {};
  let resumeFn: () => void = () => {};
  const abort = (): void => abortFn();
  const resume = (): void => resumeFn();
  return new Promise<Outcome>((resolve) => {
    const guard = setTimeout(() => finish(Object.assign(new Error('test guard: no outcome'), { code: 'TEST_TIMEOUT' }), false), o.guardMs ?? 8000);
    const finish = (err: ErrorWithCode | null, completed: boolean): void => {
      if (settled) {
        out.violations.push(`${completed ? 'onComplete' : 'onError'} after the end`);
        return;
      }
      settled = true;
      clearTimeout(guard);
      out.error = err;
      out.completed = completed;
      out.body = Buffer.concat(chunks);
      for (let i = 0; i + 1 < rawKept.length; i += 2) out.headersAtEnd.push([rawKept[i]!.toString('latin1'), rawKept[i + 1]!.toString('latin1')]);
      setImmediate(() => setImmediate(() => resolve(out)));
    };
    const handler: UpstreamHandler = {
      onConnect(a) {
        out.events.push('connect');
        abortFn = a;
        o.onConnect?.(a, out);
      },
      onHeaders(status, raw, r) {
        out.events.push(`headers:${status}`);
        if (settled) out.violations.push('onHeaders after the end');
        if (sawHead) out.violations.push('onHeaders twice');
        if (status < 200) out.violations.push(`interim ${status} passed to onHeaders`);
        sawHead = true;
        resumeFn = r;
        rawKept = raw;
        out.status = status;
        for (let i = 0; i + 1 < raw.length; i += 2) out.headers.push([raw[i]!.toString('latin1'), raw[i + 1]!.toString('latin1')]);
        return o.onHeaders ? o.onHeaders(status, resume, abort, out) : true;
      },
      onData(chunk) {
        out.events.push(`data:${chunk.length}`);
        if (settled) out.violations.push('onData after the end');
        if (!sawHead) out.violations.push('onData before onHeaders');
        chunks.push(Buffer.from(chunk));
        return o.onData ? o.onData(chunk, resume, abort, out) : true;
      },
      onComplete() {
        out.events.push('complete');
        if (!sawHead) out.violations.push('onComplete without onHeaders');
        finish(null, true);
      },
      onError(err) {
        out.events.push(`error:${(err as ErrorWithCode).code ?? err.message}`);
        finish(err as ErrorWithCode, false);
      },
    };
    const req: UpstreamRequest = {
      method: o.method ?? 'GET',
      path: o.path ?? '/',
      headers: o.headers ?? ['host', 'upstream.test'],
      body: o.body ?? null,
    };
    try {
      pool.dispatch(req, handler);
    } catch (e) {
      out.violations.push(`dispatch threw: ${(e as Error).message}`);
      finish(e as ErrorWithCode, false);
    }
  });
}

export function header(out: Outcome, name: string): string | undefined {
  const h = out.headers.find(([n]) => n.toLowerCase() === name);
  return h?.[1];
}

/** Runs a GET /follow and returns the server connection id that answered it (0 on failure). */
export async function followUpConn(pool: H1Pool): Promise<number> {
  const out = await run(pool, { path: '/follow' });
  if (!out.completed || out.body.toString() !== 'follow') return 0;
  return Number(header(out, 'x-conn') ?? 0);
}
