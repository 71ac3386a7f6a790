// A real HTTP upstream (node:http) on 127.0.0.1:0 that records what reached it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  bodyBytes: number;
  body: Buffer;
}

export interface TestUpstream {
  readonly port: number;
  readonly url: string;
  readonly requests: SeenRequest[];
  /** TCP connections accepted so far (to prove keep-alive reuse). */
  connections(): number;
  close(): Promise<void>;
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => void;

/** Default: echoes what it saw as JSON. Bodies are counted, and kept when ≤ 1 MiB. */
export async function startUpstream(handler?: UpstreamHandler): Promise<TestUpstream> {
  const requests: SeenRequest[] = [];
  let conns = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => { n += c.length; if (n <= 1024 * 1024) chunks.push(c); });
    req.on('end', () => {
      const seen: SeenRequest = { method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: n, body: Buffer.concat(chunks) };
      requests.push(seen);
      if (handler) return handler(req, res, seen);
      const body = JSON.stringify({ method: seen.method, url: seen.url, headers: seen.headers, bodyBytes: n });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) => { conns++; sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port, url: `http://127.0.0.1:${port}`, requests,
    connections: () => conns,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}
