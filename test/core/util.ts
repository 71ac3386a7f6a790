// Small clients for the core integration tests: a raw-socket HTTP/1.1 client
// (for bytes no well-behaved client would send), a node:http client on a fresh
// connection per request, and config builders. Only 127.0.0.1.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

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

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A port that was free a moment ago (bind 0, read, close). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
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
