// WebSocket series: open sockets by route, messages and bytes each way, closes
// by code. Counters live in one small object per route name, looked up once
// when a socket opens, so a relayed message costs two increments. They are
// this thread's (like the other stage collectors): with server.threads > 1,
// /metrics shows the main thread's sockets.
import { family, type Collector, type Sample } from './prom.js';

/** Close codes counted under their own label; 3000–3999 and 4000–4999 as "3xxx"/"4xxx", anything else as "other". */
function codeLabel(code: number): string {
  if (code >= 1000 && code <= 1015) return String(code);
  if (code >= 3000 && code <= 3999) return '3xxx';
  if (code >= 4000 && code <= 4999) return '4xxx';
  return 'other';
}

export class RouteSocketStats {
  open = 0;
  messagesToUpstream = 0;
  messagesToClient = 0;
  bytesToUpstream = 0;
  bytesToClient = 0;
  /** By codeLabel(): a bounded set of keys. */
  readonly closes = new Map<string, number>();
  constructor(readonly route: string) {}

  closed(code: number): void {
    this.open--;
    const k = codeLabel(code);
    this.closes.set(k, (this.closes.get(k) ?? 0) + 1);
  }
}

export class WebSocketMetrics {
  private readonly routes = new Map<string, RouteSocketStats>();

  /** The counters of one route (created on its first socket; kept across reloads). */
  route(name: string): RouteSocketStats {
    let s = this.routes.get(name);
    if (s === undefined) {
      s = new RouteSocketStats(name);
      this.routes.set(name, s);
    }
    return s;
  }

  /** Open sockets over all routes (the dashboard's figure). */
  get open(): number {
    let n = 0;
    for (const s of this.routes.values()) n += s.open;
    return n;
  }

  readonly collector: Collector = () => {
    const open: Sample[] = [];
    const msgs: Sample[] = [];
    const bytes: Sample[] = [];
    const closes: Sample[] = [];
    for (const s of this.routes.values()) {
      open.push([{ route: s.route }, s.open]);
      msgs.push([{ route: s.route, direction: 'to_upstream' }, s.messagesToUpstream], [{ route: s.route, direction: 'to_client' }, s.messagesToClient]);
      bytes.push([{ route: s.route, direction: 'to_upstream' }, s.bytesToUpstream], [{ route: s.route, direction: 'to_client' }, s.bytesToClient]);
      for (const [code, n] of s.closes) closes.push([{ route: s.route, code }, n]);
    }
    return family('portcullis_websocket_open', 'gauge', 'WebSockets open now, by route.', open) +
      family('portcullis_websocket_messages_total', 'counter', 'WebSocket messages relayed, by route and direction (to_upstream, to_client).', msgs) +
      family('portcullis_websocket_bytes_total', 'counter', 'WebSocket message payload bytes relayed, by route and direction.', bytes) +
      family('portcullis_websocket_closes_total', 'counter', 'WebSockets closed, by route and the close code the client saw or sent (1006: connection lost).', closes);
  };
}
