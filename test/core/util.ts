// Small clients for the core integration tests: a raw-socket HTTP/1.1 client
// (for bytes no well-behaved client would send), a node:http client on a fresh
// connection per request, and config builders. Only 127.0.0.1.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { freePort } from '../helpers/ports.js';
export { freePort } from '../helpers/ports.js';
import { sleep } from '../helpers/time.js';
export { sleep };

export interface RawResponse {
  /** Status of the first response on the socket (0 when none arrived). */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything received, as latin1. */
  raw: string;
  /** The server closed the connection (or we timed out waiting). */
  closed: boolean;
  timedOut: boolean;
}

/** Parses the first HTTP/1.1 response in `raw`; `complete` says whether its body is all there. */
export function parseFirstResponse(raw: string): { status: number; headers: Record<string, string>; body: string; complete: boolean } {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: '', complete: false };
  const lines = raw.slice(0, end).split('\r\n');
  const status = Number(lines[0]!.split(' ')[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
  }
  const rest = raw.slice(end + 4);
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    return { status, headers, body: rest.slice(0, n), complete: rest.length >= n };
  }
  if ((headers['transfer-encoding'] ?? '').includes('chunked')) {
    let body = '';
    let i = 0;
    for (;;) {
      const nl = rest.indexOf('\r\n', i);
      if (nl < 0) return { status, headers, body, complete: false };
      const size = parseInt(rest.slice(i, nl), 16);
      if (size === 0) return { status, headers, body, complete: true };
      if (rest.length < nl + 2 + size + 2) return { status, headers, body, complete: false };
      body += rest.slice(nl + 2, nl + 2 + size);
      i = nl + 2 + size + 2;
    }
  }
  // 204/304 or no framing: complete when headers are.
  return { status, headers, body: rest, complete: status === 204 || status === 304 || status < 200 };
}

/**
 * Writes `data` on a new connection to 127.0.0.1:port and resolves with the
 * first response once it is complete, the connection closes, or `timeoutMs`.
 * `parts` are written one after another with `gapMs` between them.
 */
export function rawRequest(
  port: number,
  data: string | Buffer | (string | Buffer)[],
  opts: { timeoutMs?: number; gapMs?: number; waitClose?: boolean } = {},
): Promise<RawResponse> {
  const parts = Array.isArray(data) ? data : [data];
  const timeoutMs = opts.timeoutMs ?? 3000;
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let raw = '';
    let settled = false;
    const finish = (closed: boolean, timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      const p = parseFirstResponse(raw);
      resolve({ status: p.status, headers: p.headers, body: p.body, raw, closed, timedOut });
    };
    const timer = setTimeout(() => finish(false, true), timeoutMs);
    sock.on('data', (c: Buffer) => {
      raw += c.toString('latin1');
      if (!opts.waitClose && parseFirstResponse(raw).complete) finish(false, false);
    });
    sock.on('error', () => finish(true, false));
    sock.on('close', () => finish(true, false));
    sock.on('connect', async () => {
      for (let i = 0; i < parts.length; i++) {
        if (settled) return;
        sock.write(parts[i]!);
        if (i + 1 < parts.length && opts.gapMs) await sleep(opts.gapMs);
      }
    });
  });
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

/** One request on its own connection (agent: false) to the gateway. */
export function request(
  url: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(t);
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, body, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    const t = setTimeout(() => req.destroy(new Error(`request to ${url} timed out`)), opts.timeoutMs ?? 10_000);
    req.on('error', (e) => { clearTimeout(t); reject(e); });
    req.end(opts.body);
  });
}


/** A port with nothing listening on it (for connection-refused upstreams). */
export const deadPort = freePort;

export const LISTEN = [{ host: '127.0.0.1', port: 0 }];

/** A config with one listener on an ephemeral port. */
export function gatewayConfig(
  upstreams: Record<string, string | Record<string, unknown>>,
  routes: Record<string, unknown>[],
  server: Record<string, unknown> = {},
): Record<string, unknown> {
  const ups: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(upstreams)) ups[k] = typeof v === 'string' ? { targets: [v] } : v;
  return {
    server: { listen: LISTEN, ...server },
    upstreams: ups,
    routes: routes.map((r) => ({ anonymous: true, ...r })),
  };
}

/** Reads a /proc/PID/status field in kB (VmRSS, VmHWM…); -1 when unreadable. */
export async function procStatusKb(pid: number, field: string): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  try {
    const s = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(s);
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}

export interface LabUpstream {
  readonly port: number;
  readonly url: string;
  /** Requests fully received, in order. */
  readonly seen: { method: string; url: string; headers: http.IncomingHttpHeaders; rawHeaders: string[]; bytes: number; sha256: string }[];
  /** TCP connections accepted so far. */
  connections(): number;
  /** Sockets that closed while a request on them was still unanswered. */
  abortedRequests(): number;
  /** Requests that arrived (headers) so far, answered or not. */
  arrived(): number;
  /** URL of every request that arrived (headers), complete or not. */
  readonly arrivedUrls: string[];
  /** Requests neither answered nor closed right now (still held open toward us). */
  open(): number;
  close(): Promise<void>;
}

/** A deterministic byte pattern: chunk i of any stream is the same 64 KiB block. */
export const BLOCK = Buffer.alloc(64 * 1024, 0);
for (let i = 0; i < BLOCK.length; i++) BLOCK[i] = (i * 31 + 7) & 0xff;

/**
 * An upstream for proxy tests. Every request body is hashed while streaming
 * (never buffered). Paths:
 *   /download?bytes=N[&chunked=1]  N bytes of BLOCK pattern, with write backpressure
 *   /status/NNN                    that status (204/304 without body), ETag set
 *   /slow?ms=N                     answers after N ms (the request may be aborted before)
 *   /hang                          never answers
 *   /stall-body                    announces 1000 bytes, sends 100, stalls
 *   anything else                  JSON {method,url,headers,bytes,sha256}
 */
export async function startLabUpstream(): Promise<LabUpstream> {
  const { createHash } = await import('node:crypto');
  const seen: LabUpstream['seen'] = [];
  let conns = 0;
  let aborted = 0;
  let arrived = 0;
  let open = 0;
  const sockets = new Set<net.Socket>();
  const arrivedUrls: string[] = [];
  const server = http.createServer((req, res) => {
    arrived++;
    arrivedUrls.push(req.url!);
    const h = createHash('sha256');
    let bytes = 0;
    let answered = false;
    open++;
    const onClose = () => { if (!answered) { aborted++; open--; } };
    res.on('finish', () => { answered = true; open--; req.socket.off('close', onClose); });
    req.socket.once('close', onClose);
    req.on('data', (c: Buffer) => { bytes += c.length; h.update(c); });
    req.on('end', () => {
      const sha256 = h.digest('hex');
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, bytes, sha256 });
      const u = new URL(req.url!, 'http://x');
      if (u.pathname === '/download') {
        const total = Number(u.searchParams.get('bytes'));
        const chunked = u.searchParams.get('chunked') === '1';
        res.writeHead(200, chunked ? { 'content-type': 'application/octet-stream' } : { 'content-type': 'application/octet-stream', 'content-length': total });
        let sent = 0;
        const pump = () => {
          while (sent < total) {
            const n = Math.min(BLOCK.length, total - sent);
            sent += n;
            if (!res.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) { res.once('drain', pump); return; }
          }
          res.end();
        };
        pump();
        return;
      }
      if (u.pathname.startsWith('/status/')) {
        const s = Number(u.pathname.slice(8));
        res.writeHead(s, { etag: '"v1"', 'x-upstream': 'lab' });
        res.end(s === 204 || s === 304 ? undefined : 'status body');
        return;
      }
      if (u.pathname === '/slow') {
        setTimeout(() => { if (!res.destroyed) res.end('slow done'); }, Number(u.searchParams.get('ms') ?? 1000)).unref();
        return;
      }
      if (u.pathname === '/hang') return;
      if (u.pathname === '/stall-body') {
        // Announces 1000 bytes, sends 100, then stalls forever.
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 1000 });
        res.write('x'.repeat(100));
        return;
      }
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bytes, sha256 });
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1234, 'x-upstream': 'lab' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-upstream': 'lab', 'set-cookie': ['a=1', 'b=2'] });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) => { conns++; sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port, url: `http://127.0.0.1:${port}`, seen, arrivedUrls,
    connections: () => conns,
    abortedRequests: () => aborted,
    arrived: () => arrived,
    open: () => open,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}
