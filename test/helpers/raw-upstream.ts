// A byte-recording upstream: a raw `net` server on 127.0.0.1:0 that keeps
// every byte the gateway sends on each connection, reads them with the strict
// RFC 9112 reader (test/helpers/strict-http.ts) and answers each complete
// request with 200 and a JSON body {conn, n, method, target, bodyBytes}.
// A connection whose bytes the strict reader refuses is recorded with the
// error and closed (a real upstream would have answered 400 or worse: read a
// different request than the gateway meant).
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { connTracker } from './conn-tracker.js';
import { readRequests, type StrictError, type StrictPartial, type StrictRequest } from './strict-http.js';

export interface RawConn {
  readonly id: number;
  /** Every byte received so far. */
  bytes: Buffer;
  /** Complete requests, in order. */
  readonly requests: StrictRequest[];
  /** Set when the strict reader refused the bytes. */
  error: StrictError | null;
  /** The request the bytes currently end in (its head may be complete). */
  partial: StrictPartial | null;
  closed: boolean;
}

export interface SeenHead {
  readonly conn: number;
  readonly method: string;
  readonly target: string;
  /** The whole request arrived (head and body). */
  readonly complete: boolean;
  readonly request: StrictRequest | null;
}

export interface RawUpstream {
  readonly port: number;
  readonly url: string;
  readonly conns: RawConn[];
  /** Every request whose head arrived, complete or not, in arrival order per connection. */
  heads(): SeenHead[];
  /** Complete requests across connections. */
  requests(): { conn: number; req: StrictRequest }[];
  /** Connections whose bytes the strict reader refused. */
  errors(): { conn: number; error: StrictError; bytes: Buffer }[];
  close(): Promise<void>;
}

export interface RawUpstreamOptions {
  /** Answer for a complete request; default 200 with a JSON echo. */
  respond?: (req: StrictRequest, conn: RawConn, n: number) => Buffer | string;
}

export async function startRawUpstream(opts: RawUpstreamOptions = {}): Promise<RawUpstream> {
  const conns: RawConn[] = [];
  const tracker = connTracker();
  let served = 0;
  const respond = opts.respond ?? ((req: StrictRequest, conn: RawConn, n: number) => {
    const body = JSON.stringify({ conn: conn.id, n, method: req.method, target: req.target, bodyBytes: req.body.length });
    return `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-up-n: ${n}\r\n\r\n${body}`;
  });
  const server = net.createServer((s) => {
    const id = tracker.track(s);
    const conn: RawConn = { id, bytes: Buffer.alloc(0), requests: [], error: null, partial: null, closed: false };
    conns.push(conn);
    let offset = 0;
    s.on('data', (d: Buffer) => {
      conn.bytes = Buffer.concat([conn.bytes, d]);
      if (conn.error) return;
      const r = readRequests(conn.bytes.subarray(offset));
      for (const q of r.requests) {
        const abs: StrictRequest = { ...q, start: q.start + offset, headEnd: q.headEnd + offset, end: q.end + offset };
        conn.requests.push(abs);
        const n = ++served;
        s.write(respond(abs, conn, n));
      }
      if (r.requests.length) offset += r.requests[r.requests.length - 1]!.end;
      conn.partial = r.partial;
      if (r.error) {
        conn.error = { ...r.error, offset: r.error.offset + offset };
        // An answer no gateway rule produces, so a test can tell it from the gateway's own refusals.
        const body = JSON.stringify({ error: 'upstream_strict_reader_refused', code: r.error.code });
        s.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
      }
    });
    s.on('close', () => { conn.closed = true; });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    conns,
    heads() {
      const out: SeenHead[] = [];
      for (const c of conns) {
        for (const q of c.requests) out.push({ conn: c.id, method: q.method, target: q.target, complete: true, request: q });
        const p = c.partial;
        if (p && p.headComplete) out.push({ conn: c.id, method: p.method!, target: p.target!, complete: false, request: null });
        const e = c.error;
        if (e && e.method !== undefined) out.push({ conn: c.id, method: e.method, target: e.target!, complete: false, request: null });
        else if (e) {
          // The request line itself is broken: name what it looks like, so a test can still tell whose it is.
          const from = c.requests.length ? c.requests[c.requests.length - 1]!.end : 0;
          const m = /^([^ \r\n]*) ([^ \r\n]*)/.exec(c.bytes.toString('latin1', from, from + 2048));
          if (m) out.push({ conn: c.id, method: m[1]!, target: m[2]!, complete: false, request: null });
        }
      }
      return out;
    },
    requests: () => conns.flatMap((c) => c.requests.map((req) => ({ conn: c.id, req }))),
    errors: () => conns.filter((c) => c.error).map((c) => ({ conn: c.id, error: c.error!, bytes: c.bytes })),
    close: () => tracker.closeServer(server),
  };
}
