// Helpers for the proxy integration tests: a raw TCP upstream whose every
// byte the test decides (it sees each request at its head, before the body, so
// it can answer early, stall, or cut), and HTTP clients that read slowly, leave
// mid-download or keep connections alive. Everything on 127.0.0.1.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { connTracker } from '../helpers/conn-tracker.js';
import { sleep } from '../helpers/time.js';
export { sleep };


/** Polls `cond` every 20 ms for at most `ms`; returns its last value. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

/**
 * Stops a process (SIGSTOP) and waits until the kernel reports it stopped:
 * the signal is asynchronous, and whatever the test sends next must find the
 * process not running. Linux /proc; throws if it does not stop within 2 s.
 */
export async function stopProcess(pid: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  const end = Date.now() + 2000;
  for (;;) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'T' || state === 't') return;
    if (Date.now() > end) throw new Error(`process ${pid} did not stop (state ${state})`);
    await sleep(2);
  }
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A deterministic pattern: byte i of any stream is (i * 31 + 7) & 0xff, in 64 KiB blocks. */
export const BLOCK = Buffer.alloc(64 * 1024);
for (let i = 0; i < BLOCK.length; i++) BLOCK[i] = (i * 31 + 7) & 0xff;

/** sha256 of the first n bytes of the BLOCK pattern repeated. */
export function patternSha(n: number): string {
  const h = createHash('sha256');
  for (let at = 0; at < n; at += BLOCK.length) h.update(BLOCK.subarray(0, Math.min(BLOCK.length, n - at)));
  return h.digest('hex');
}

// --- the upstream ----------------------------------------------------------------------------

export interface UpReq {
  /** 1-based id of the TCP connection it came on (accept order). */
  connId: number;
  /** 1-based number of the request on its connection. */
  onConn: number;
  method: string;
  path: string;
  /** Lower-case names. */
  headers: Map<string, string>;
  socket: net.Socket;
  /** Body bytes read so far. */
  bodyBytes: number;
  /** The whole body arrived (Content-Length or chunked framing). */
  bodyDone: boolean;
  /** Resolves when the body is whole (true) or the connection closed first (false). */
  body: Promise<boolean>;
}

export interface RawUpstream {
  readonly port: number;
  readonly url: string;
  /** Every request head seen, in order of arrival. */
  readonly requests: UpReq[];
  accepted(): number;
  open(): number;
  /** Called at each request's head (the body may still be coming). Default: `echo`. */
  handler: (req: UpReq) => void;
  waitClosed(connId: number, ms?: number): Promise<boolean>;
  isClosed(connId: number): boolean;
  close(): Promise<void>;
}

/** Answers once the body is in: 200 with "conn=<id> n=<onConn> <method> <path> <bodyBytes>". */
export function echo(req: UpReq): void {
  void req.body.then((whole) => {
    if (!whole || req.socket.destroyed) return;
    const text = `conn=${req.connId} n=${req.onConn} ${req.method} ${req.path} ${req.bodyBytes}`;
    req.socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${text.length}\r\n\r\n${text}`);
  });
}

/**
 * Writes `total` bytes of the BLOCK pattern with backpressure, stopping when
 * the socket goes away; 'chunked-open' frames chunks but never writes the last-chunk.
 */
export function pump(socket: net.Socket, total: number, framing: 'raw' | 'chunked' | 'chunked-open', end: () => void = () => {}): void {
  let sent = 0;
  const go = (): void => {
    while (sent < total) {
      if (socket.destroyed) return;
      const n = Math.min(BLOCK.length, total - sent);
      const part = BLOCK.subarray(0, n);
      sent += n;
      let ok: boolean;
      if (framing === 'raw') {
        ok = socket.write(part);
      } else {
        socket.write(`${n.toString(16)}\r\n`);
        socket.write(part);
        ok = socket.write('\r\n');
      }
      if (!ok) { socket.once('drain', go); return; }
    }
    if (framing === 'chunked') socket.write('0\r\n\r\n');
    end();
  };
  go();
}

export async function startRawUpstream(handler: (req: UpReq) => void = echo): Promise<RawUpstream> {
  const conns = connTracker();
  const requests: UpReq[] = [];
  const srv: RawUpstream = {
    port: 0,
    url: '',
    requests,
    accepted: conns.accepted,
    open: conns.open,
    handler,
    waitClosed: (connId, ms = 5000) => conns.waitClosed(connId, ms),
    isClosed: conns.isClosed,
    close: () => conns.closeServer(server),
  };
  const server = net.createServer((socket) => {
    const connId = conns.track(socket);
    let onConn = 0;
    let buf = Buffer.alloc(0);
    // The request whose body is being read, and how it is framed.
    let cur: UpReq | null = null;
    let finish: ((whole: boolean) => void) | null = null;
    let left = 0;
    let chunked = false;
    socket.on('close', () => finish?.(false));
    const bodyEnd = (): void => {
      cur!.bodyDone = true;
      const f = finish!;
      cur = null;
      finish = null;
      f(true);
    };
    socket.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      for (;;) {
        if (cur === null) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const lines = buf.toString('latin1', 0, end).split('\r\n');
          buf = buf.subarray(end + 4);
          const [method = '', path = ''] = lines[0]!.split(' ');
          const headers = new Map<string, string>();
          for (const l of lines.slice(1)) {
            const c = l.indexOf(':');
            headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim());
          }
          let resolveBody!: (whole: boolean) => void;
          const body = new Promise<boolean>((r) => { resolveBody = r; });
          const req: UpReq = { connId, onConn: ++onConn, method, path, headers, socket, bodyBytes: 0, bodyDone: false, body };
          cur = req;
          finish = resolveBody;
          chunked = headers.get('transfer-encoding') === 'chunked';
          left = chunked ? 0 : Number(headers.get('content-length') ?? 0);
          requests.push(req);
          srv.handler(req);
          if (!chunked && left === 0) { bodyEnd(); continue; }
        }
        if (!chunked) {
          const take = Math.min(left, buf.length);
          left -= take;
          cur!.bodyBytes += take;
          buf = buf.subarray(take);
          if (left > 0) return;
          bodyEnd();
          continue;
        }
        // chunked: one size line + data + CRLF at a time (whole pieces only)
        const le = buf.indexOf('\r\n');
        if (le < 0) return;
        const size = parseInt(buf.toString('latin1', 0, le), 16);
        if (size === 0) {
          const te = buf.indexOf('\r\n\r\n', le);
          if (te < 0) return;
          buf = buf.subarray(te + 4);
          bodyEnd();
          continue;
        }
        if (buf.length < le + 2 + size + 2) return;
        cur!.bodyBytes += size;
        buf = buf.subarray(le + 2 + size + 2);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  (srv as { port: number }).port = port;
  (srv as { url: string }).url = `http://127.0.0.1:${port}`;
  return srv;
}

// --- clients -----------------------------------------------------------------------------------

export interface Download {
  status: number;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  sha: string;
  /** The response ended where its framing said (node's res.complete at 'end'). */
  complete: boolean;
  /** The connection went away before the end ('aborted', a reset, our own abort). */
  cut: boolean;
  /** Gave up after the guard (the gateway neither finished nor cut). */
  hung: boolean;
  text: string;
}

/**
 * GET on a fresh connection that reads slowly (a pause of `pauseMs` after
 * every `pauseEvery` bytes) and may leave after `abortAfter` bytes.
 * Resolves on end, cut, abort or the guard (`guardMs`), never rejects.
 */
export function download(url: string, o: {
  pauseEvery?: number; pauseMs?: number; abortAfter?: number; guardMs?: number; method?: string;
  headers?: http.OutgoingHttpHeaders; agent?: http.Agent; keepText?: boolean;
} = {}): Promise<Download> {
  return new Promise((resolve) => {
    const h = createHash('sha256');
    const out: Download = { status: 0, headers: {}, bytes: 0, sha: '', complete: false, cut: false, hung: false, text: '' };
    const texts: Buffer[] = [];
    let settled = false;
    const done = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(guard);
      out.sha = h.digest('hex');
      out.text = Buffer.concat(texts).toString('latin1');
      resolve(out);
    };
    const req = http.request(url, { method: o.method ?? 'GET', agent: o.agent ?? false, headers: o.headers }, (res) => {
      out.status = res.statusCode ?? 0;
      out.headers = res.headers;
      let sinceLastPause = 0;
      res.on('data', (c: Buffer) => {
        out.bytes += c.length;
        h.update(c);
        if (o.keepText !== false && out.bytes <= 64 * 1024) texts.push(c);
        if (o.abortAfter !== undefined && out.bytes >= o.abortAfter) { out.cut = true; req.destroy(); done(); return; }
        sinceLastPause += c.length;
        if (o.pauseEvery && sinceLastPause >= o.pauseEvery) {
          sinceLastPause = 0;
          res.pause();
          setTimeout(() => res.resume(), o.pauseMs ?? 20);
        }
      });
      res.on('end', () => { out.complete = res.complete; done(); });
      res.on('aborted', () => { out.cut = true; });
      res.on('error', () => { out.cut = true; done(); });
      res.on('close', () => { if (!res.complete) out.cut = true; done(); });
    });
    req.on('error', () => { out.cut = true; done(); });
    const guard = setTimeout(() => { out.hung = true; req.destroy(); done(); }, o.guardMs ?? 15_000);
    req.end();
  });
}

export interface RawResult {
  /** Everything received, latin1. */
  raw: string;
  status: number;
  closed: boolean;
  timedOut: boolean;
}

/**
 * A raw client: writes `head`, then `body` in `piece`-byte writes, `gapMs`
 * apart (stopping when the gateway closes or answers), and collects what comes back until
 * the connection closes, `doneWhen(raw)` says so, or `timeoutMs`.
 */
export function rawExchange(port: number, head: string, o: {
  body?: Buffer; piece?: number; gapMs?: number; timeoutMs?: number; doneWhen?: (raw: string) => boolean;
} = {}): Promise<RawResult> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let raw = '';
    let settled = false;
    const finish = (closed: boolean, timedOut: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      s.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(raw);
      resolve({ raw, status: m ? Number(m[1]) : 0, closed, timedOut });
    };
    const t = setTimeout(() => finish(false, true), o.timeoutMs ?? 10_000);
    s.on('data', (c: Buffer) => {
      raw += c.toString('latin1');
      if (o.doneWhen?.(raw)) finish(false, false);
    });
    s.on('error', () => finish(true, false));
    s.on('close', () => finish(true, false));
    s.on('connect', () => {
      s.write(head);
      const body = o.body;
      if (!body) return;
      const piece = o.piece ?? 64 * 1024;
      let at = 0;
      const more = (): void => {
        while (at < body.length && !settled && raw === '') {
          const part = body.subarray(at, at + piece);
          at += part.length;
          if (!s.write(part)) { s.once('drain', more); return; }
          if (o.gapMs) { setTimeout(more, o.gapMs); return; }
        }
      };
      more();
    });
  });
}

/** GET/POST on a keep-alive agent; resolves with status and text (rejects on a transport error). */
export function agentRequest(agent: http.Agent, url: string, path: string, timeoutMs = 10_000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => { clearTimeout(t); resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('latin1') }); });
      res.on('error', (e) => { clearTimeout(t); reject(e); });
    });
    const t = setTimeout(() => req.destroy(new Error(`${path} timed out`)), timeoutMs);
    req.on('error', (e) => { clearTimeout(t); reject(e); });
    req.end();
  });
}

export type ClientKind = 'native' | 'undici';
export const CLIENTS: readonly ClientKind[] = ['native', 'undici'];
