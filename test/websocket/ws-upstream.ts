// A real WebSocket upstream (`ws` server on 127.0.0.1:0) for the relay tests.
// By path: /…/echo echoes each message (same type); /…/flood?n=N&size=S sends
// N binary messages of S bytes as fast as its socket takes them and records
// how much it had to buffer; /…/close?code=C closes with C after the first message.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface SeenUpgrade {
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
}

export interface WsUpstream {
  readonly url: string;
  readonly upgrades: SeenUpgrade[];
  /** Close codes and reasons the upstream received, in order. */
  readonly closes: { code: number; reason: string }[];
  /** Largest bufferedAmount a flood socket reached (the gateway stopped reading). */
  floodMaxBuffered: number;
  floodSent: number;
  /** Sockets open on the upstream now. */
  open(): number;
  close(): Promise<void>;
}

/** `tls`: key and certificate files: a wss:// upstream. */
export async function startWsUpstream(tls?: { key: string; cert: string }): Promise<WsUpstream> {
  const notFound = (_req: http.IncomingMessage, res: http.ServerResponse): void => { res.writeHead(404).end(); };
  const server = tls
    ? https.createServer({ key: readFileSync(tls.key), cert: readFileSync(tls.cert) }, notFound)
    : http.createServer(notFound);
  const wss = new WebSocketServer({
    server,
    perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false),
  });
  const up: WsUpstream = {
    url: '',
    upgrades: [],
    closes: [],
    floodMaxBuffered: 0,
    floodSent: 0,
    open: () => wss.clients.size,
    close: () => new Promise((resolve) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => server.close(() => resolve()));
    }),
  };
  wss.on('connection', (ws: WebSocket, req) => {
    up.upgrades.push({ url: req.url ?? '', headers: req.headers });
    ws.on('close', (code, reason) => up.closes.push({ code, reason: reason.toString() }));
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname.endsWith('/echo')) {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    } else if (u.pathname.endsWith('/flood')) {
      const n = Number(u.searchParams.get('n') ?? '100');
      const payload = Buffer.alloc(Number(u.searchParams.get('size') ?? '65536'), 7);
      let sent = 0;
      // Bounded: n messages; past 1 MiB unsent it waits for its socket to drain, so the upstream itself stays small.
      const pump = (): void => {
        while (sent < n && ws.readyState === 1) {
          if (ws.bufferedAmount > 1024 * 1024) { setTimeout(pump, 10); return; }
          ws.send(payload, { binary: true });
          sent++;
          up.floodSent = sent;
          if (ws.bufferedAmount > up.floodMaxBuffered) up.floodMaxBuffered = ws.bufferedAmount;
        }
        if (sent < n) return;
        ws.send('done');
      };
      pump();
    } else if (u.pathname.endsWith('/close')) {
      const code = Number(u.searchParams.get('code') ?? '4000');
      ws.once('message', () => ws.close(code, 'upstream says bye'));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  (up as { url: string }).url = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return up;
}
