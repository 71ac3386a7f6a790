// A real HTTP service on 127.0.0.1 whose answers the test chooses: an
// external authorization (or authentication) service, plus modes a broken
// one shows (sleeping, protocol garbage).
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly json: Record<string, unknown> | null;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string | object;
  /** Wait this long before answering (ms). */
  delay?: number;
}

export type Handler = (req: SeenRequest) => Answer | 'garbage' | 'hang';

export interface AuthzService {
  readonly url: string;
  readonly seen: SeenRequest[];
  handler: Handler;
  close(): Promise<void>;
}

export async function startAuthzService(handler: Handler = () => ({ status: 200 })): Promise<AuthzService> {
  const seen: SeenRequest[] = [];
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const svc: AuthzService = {
    url: '',
    seen,
    handler,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, unknown> | null = null;
      try { json = JSON.parse(body) as Record<string, unknown>; } catch { /* not JSON */ }
      const r: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, json };
      seen.push(r);
      const a = svc.handler(r);
      if (a === 'hang') return;
      if (a === 'garbage') {
        req.socket.end('this is not HTTP at all\r\n\r\n', () => req.socket.destroy());
        return;
      }
      const send = () => {
        const text = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
        const h: Record<string, string> = { ...(typeof a.body === 'object' ? { 'content-type': 'application/json' } : {}), ...a.headers };
        res.writeHead(a.status, h);
        res.end(text);
      };
      if (a.delay) {
        const t = setTimeout(() => { timers.delete(t); send(); }, a.delay);
        timers.add(t);
      } else send();
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  (svc as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/authz`;
  return svc;
}

/** A port on 127.0.0.1 with nothing listening (connections are refused). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
