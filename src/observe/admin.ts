// The admin listener: its own uWS app, never one of the public listeners.
//   GET  /healthz    process is up (never needs the token)
//   GET  /readyz     plan loaded, key sets fetched, pool up, not draining (503
//                    otherwise); no token needed (load balancers), checks named
//                    only for a token holder
//   GET  /metrics    Prometheus text
//   GET  /config     effective config, secrets redacted
//   POST /reload     validate and swap the config (old plan kept on error)
//   GET  /           the dashboard page (static; its data comes over /live)
//   WS   /live       a snapshot every second; GET /live.json for one
// With a token, every data endpoint needs `Authorization: Bearer TOKEN`; the
// browser's WebSocket cannot send headers, so /live also accepts the token as
// a `bearer.<base64url(token)>` subprotocol. Without a token, requests must
// name the admin by IP or localhost (DNS-rebinding guard), and a browser
// Origin must match the Host (cross-site WebSocket / form-POST guard).
import { createHash, timingSafeEqual } from 'node:crypto';
// uWS is loaded only through src/server/uws.ts: it must be configured (header size) before it loads.
import { loadUws, type HttpRequest, type HttpResponse, type ListenSocket, type TemplatedApp } from '../server/uws.js';
import { redactConfig } from './redact.js';
import { DASHBOARD_CSP, DASHBOARD_HTML } from './dashboard-page.js';
import { log } from './log.js';

export interface ReloadResult {
  readonly ok: boolean;
  readonly issues: readonly string[];
}

export interface ReadyResult {
  readonly ok: boolean;
  readonly checks: Readonly<Record<string, boolean>>;
}

export interface AdminOptions {
  readonly host: string;
  readonly port: number;
  /** Bearer token for everything but /healthz, /readyz (and the static page). */
  readonly token?: string;
  /** Full Prometheus exposition (metrics.renderPrometheus(collectors)). */
  readonly metrics: () => string;
  /** The effective config; redacted here before it is shown. */
  readonly config: () => unknown;
  readonly reload: () => Promise<ReloadResult>;
  readonly ready: () => ReadyResult;
  /** The dashboard snapshot (live.snapshot). */
  readonly live: () => unknown;
  /** Push interval of the live feed (default 1000 ms). */
  readonly pushIntervalMs?: number;
  /** The identity-assertion JWKS (public keys), or null when identity_assertion is not configured. */
  readonly jwks?: () => string | null;
}

export interface AdminServer {
  readonly port: number;
  close(): void;
}

const SUBPROTOCOL = 'portcullis.live';
const TOPIC = 'live';

const COMMON_HEADERS = ['cache-control', 'no-store', 'x-content-type-options', 'nosniff', 'referrer-policy', 'no-referrer'];

function send(res: HttpResponse, status: string, type: string, body: string, extra: readonly string[] = []): void {
  res.writeStatus(status);
  for (let i = 0; i < COMMON_HEADERS.length; i += 2) res.writeHeader(COMMON_HEADERS[i]!, COMMON_HEADERS[i + 1]!);
  for (let i = 0; i < extra.length; i += 2) res.writeHeader(extra[i]!, extra[i + 1]!);
  res.writeHeader('content-type', type);
  res.end(body);
}

const JSON_TYPE = 'application/json; charset=utf-8';
const jsonBody = (v: unknown) => JSON.stringify(v, null, 2) + '\n';

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}

/** Host header without port; IP literals and localhost are what a loopback admin is reached by. */
function hostAllowed(hostHeader: string): boolean {
  let h = hostHeader.toLowerCase();
  if (h.startsWith('[')) return /^\[[0-9a-f:.]+\](:\d+)?$/.test(h);
  const colon = h.lastIndexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  return h === 'localhost' || /^\d{1,3}(\.\d{1,3}){3}$/.test(h);
}

function originMatches(origin: string, host: string): boolean {
  if (origin === '') return true;
  return origin === `http://${host}` || origin === `https://${host}`;
}

export async function startAdmin(opts: AdminOptions): Promise<AdminServer> {
  const tokenDigest = opts.token ? digest(opts.token) : null;
  if (!tokenDigest && !isLoopback(opts.host)) {
    log.warn('admin listener is not on loopback and has no token: anyone who can reach it can read metrics and config and trigger reloads', {
      host: opts.host, fix: 'set admin.token_file, or listen on 127.0.0.1',
    });
  }

  const tokenOk = (presented: string): boolean => tokenDigest !== null && timingSafeEqual(digest(presented), tokenDigest);

  /** Reads what the checks need from req (valid only during the handler). */
  function denied(req: HttpRequest, needToken: boolean): { status: string; body: string; headers: readonly string[] } | null {
    const host = req.getHeader('host');
    const origin = req.getHeader('origin');
    if (!originMatches(origin, host)) return { status: '403 Forbidden', body: 'cross-origin request refused\n', headers: [] };
    if (!tokenDigest) {
      if (!hostAllowed(host)) {
        return { status: '421 Misdirected Request', body: 'address the admin listener by IP or localhost (or set admin.token_file)\n', headers: [] };
      }
      return null;
    }
    if (!needToken) return null;
    const auth = req.getHeader('authorization');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m && tokenOk(m[1]!)) return null;
    return { status: '401 Unauthorized', body: 'admin token required: send Authorization: Bearer TOKEN\n', headers: ['www-authenticate', 'Bearer realm="portcullis-admin"'] };
  }

  function guard(res: HttpResponse, req: HttpRequest, needToken = true): boolean {
    const d = denied(req, needToken);
    if (!d) return true;
    send(res, d.status, 'text/plain; charset=utf-8', d.body, d.headers);
    return false;
  }

  /** Runs a sync producer; a throwing callback answers 500 instead of taking the listener down. */
  function answer(res: HttpResponse, produce: () => { status: string; type: string; body: string }): void {
    let r: { status: string; type: string; body: string };
    try {
      r = produce();
    } catch (err) {
      log.error('admin handler failed', { error: (err as Error).message });
      r = { status: '500 Internal Server Error', type: 'text/plain; charset=utf-8', body: 'internal error; see the gateway log\n' };
    }
    send(res, r.status, r.type, r.body);
  }

  const uWS = await loadUws(16 * 1024);
  const app: TemplatedApp = uWS.App();
  let reloading: Promise<ReloadResult> | null = null;

  app.get('/healthz', (res, req) => {
    if (!guard(res, req, false)) return;
    send(res, '200 OK', 'text/plain; charset=utf-8', 'ok\n');
  });

  // A load balancer cannot send the admin token: readiness answers without it
  // and then says only ok or not; the named checks are for token holders.
  app.get('/readyz', (res, req) => {
    if (!guard(res, req, false)) return;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.getHeader('authorization'));
    const detail = !tokenDigest || (m !== null && tokenOk(m[1]!));
    answer(res, () => {
      const r = opts.ready();
      return { status: r.ok ? '200 OK' : '503 Service Unavailable', type: JSON_TYPE, body: jsonBody(detail ? { ok: r.ok, checks: r.checks } : { ok: r.ok }) };
    });
  });

  // Public keys: what upstreams verify assertions with. No token (nothing secret; upstreams fetch it).
  app.get('/.well-known/portcullis/jwks.json', (res, req) => {
    if (!guard(res, req, false)) return;
    const body = opts.jwks?.() ?? null;
    if (body === null) send(res, '404 Not Found', JSON_TYPE, '{"error":"not_found","reason":"identity_assertion is not configured"}');
    else send(res, '200 OK', 'application/jwk-set+json', body);
  });

  app.get('/metrics', (res, req) => {
    if (!guard(res, req)) return;
    answer(res, () => ({ status: '200 OK', type: 'text/plain; version=0.0.4; charset=utf-8', body: opts.metrics() }));
  });

  app.get('/config', (res, req) => {
    if (!guard(res, req)) return;
    answer(res, () => ({ status: '200 OK', type: JSON_TYPE, body: jsonBody(redactConfig(opts.config())) }));
  });

  app.get('/live.json', (res, req) => {
    if (!guard(res, req)) return;
    answer(res, () => ({ status: '200 OK', type: JSON_TYPE, body: JSON.stringify(opts.live()) }));
  });

  app.post('/reload', (res, req) => {
    if (!guard(res, req)) return;
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    // Concurrent POSTs share one reload.
    const p = reloading ?? (reloading = Promise.resolve().then(() => opts.reload()).finally(() => { reloading = null; }));
    p.then(
      (r) => ({ status: r.ok ? '200 OK' : '422 Unprocessable Entity', body: jsonBody({ ok: r.ok, issues: r.issues }) }),
      (err: unknown) => {
        log.error('reload failed', { error: (err as Error)?.message ?? String(err) });
        return { status: '500 Internal Server Error', body: jsonBody({ ok: false, issues: [(err as Error)?.message ?? String(err)] }) };
      },
    ).then((r) => {
      if (aborted) return;
      res.cork(() => send(res, r.status, JSON_TYPE, r.body));
    });
  });

  app.get('/', (res, req) => {
    if (!guard(res, req, false)) return;
    send(res, '200 OK', 'text/html; charset=utf-8', DASHBOARD_HTML, ['content-security-policy', DASHBOARD_CSP, 'x-frame-options', 'DENY']);
  });

  app.ws<Record<string, never>>('/live', {
    compression: uWS.DISABLED,
    maxPayloadLength: 1024,
    maxBackpressure: 1024 * 1024,
    idleTimeout: 60,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const key = req.getHeader('sec-websocket-key');
      const protocols = req.getHeader('sec-websocket-protocol').split(',').map((s) => s.trim()).filter(Boolean);
      const extensions = req.getHeader('sec-websocket-extensions');
      let d = denied(req, false);
      if (!d && tokenDigest) {
        const header = /^Bearer\s+(\S+)\s*$/i.exec(req.getHeader('authorization'));
        const fromProto = protocols.find((p) => p.startsWith('bearer.'));
        let presented = header ? header[1]! : '';
        if (!presented && fromProto) presented = Buffer.from(fromProto.slice(7), 'base64url').toString('utf8');
        if (!presented || !tokenOk(presented)) d = { status: '401 Unauthorized', body: 'admin token required\n', headers: [] };
      }
      if (d) {
        send(res, d.status, 'text/plain; charset=utf-8', d.body, d.headers);
        return;
      }
      // Echo our protocol name, never the bearer entry.
      res.upgrade({}, key, protocols.includes(SUBPROTOCOL) ? SUBPROTOCOL : '', extensions, context);
    },
    open: (ws) => {
      ws.subscribe(TOPIC);
      try {
        ws.send(JSON.stringify(opts.live()));
      } catch (err) {
        log.error('admin live snapshot failed', { error: (err as Error).message });
      }
    },
  });

  app.any('/*', (res) => {
    send(res, '404 Not Found', 'text/plain; charset=utf-8', 'not found: try /, /healthz, /readyz, /metrics, /config, POST /reload\n');
  });

  return new Promise((resolve, reject) => {
    app.listen(opts.host, opts.port, (ls: ListenSocket | false) => {
      if (!ls) {
        reject(new Error(`admin: cannot listen on ${opts.host}:${opts.port} (address in use or not permitted); change admin.listen in the config`));
        return;
      }
      const port = uWS.us_socket_local_port(ls as unknown as Parameters<typeof uWS.us_socket_local_port>[0]);
      const timer = setInterval(() => {
        if (app.numSubscribers(TOPIC) === 0) return;
        try {
          app.publish(TOPIC, JSON.stringify(opts.live()));
        } catch (err) {
          log.error('admin live snapshot failed', { error: (err as Error).message });
        }
      }, opts.pushIntervalMs ?? 1000);
      timer.unref();
      let closed = false;
      resolve({
        port,
        close: () => {
          if (closed) return;
          closed = true;
          clearInterval(timer);
          uWS.us_listen_socket_close(ls);
          app.close();
        },
      });
    });
  });
}
