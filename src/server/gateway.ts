// One event-loop thread's gateway: its uWS apps (one per listener), the
// pipeline, and the current Runtime. Reload swaps the Runtime atomically (the
// next request sees the new plan; in-flight requests finish on the old one);
// shutdown stops accepting, lets in-flight requests finish, then closes.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import type { Plan } from '../config/load.js';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import { resolveSecret } from '../config/secrets.js';
import type { ListenConfig } from '../config/schema.js';
import { log } from '../observe/log.js';
import { buildRuntime } from './build.js';
import { JWKS_PATH } from '../proxy/assertion/index.js';
import { Pipeline, type ObserveSink } from './pipeline.js';
import type { Runtime } from './runtime.js';
import type { SharedState } from './stages.js';
import { applySocketTimers } from './socket-timers.js';
import { maxMessageCeiling, websocketBehavior, type RelayData } from './websocket-upgrade.js';
import type { WebSocketBehavior } from './uws.js';
import { loadUws, removeServerName, setServerName, type HttpRequest, type HttpResponse, type ListenSocket, type TemplatedApp, type TlsFiles, type UwsModule } from './uws.js';

export interface BoundListener {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

export class Gateway {
  private apps: TemplatedApp[] = [];
  /** Per app: its index in server.listen (listeners cannot change on reload; their SNI certificates can). */
  private appListener: number[] = [];
  /** Per TLS app: the tls.sni server names it serves now. */
  private readonly sniNames = new Map<TemplatedApp, Set<string>>();
  /** Per app: the pipeline's handler for its listener (attached under each SNI name too). */
  private readonly handlers = new Map<TemplatedApp, (res: HttpResponse, req: HttpRequest) => void>();
  /** Per app: its JWKS answer (identity_assertion.expose_jwks), served under every SNI name too. */
  private readonly jwksHandlers = new Map<TemplatedApp, (res: HttpResponse, req: HttpRequest) => void>();
  /** Per app: its ws() behavior (attached under each SNI name too). */
  private readonly wsBehaviors = new Map<TemplatedApp, WebSocketBehavior<RelayData>>();
  /** Per TLS app: a digest of what its default context was made of (tls.cert, key, client_ca, passphrase). */
  private readonly tlsSignature = new Map<TemplatedApp, string>();
  private readonly openConnections = new Map<TemplatedApp, number>();
  /** Apps replaced by a certificate swap, still serving the connections they hold. */
  private readonly retired = new Set<TemplatedApp>();
  private sockets: ListenSocket[] = [];
  readonly listeners: BoundListener[] = [];
  /** uWS's message size limit, fixed per listener at start: the largest routes[].websocket.max_message then. */
  private readonly wsCeiling: number;
  private constructor(
    readonly pipeline: Pipeline,
    private runtime: Runtime,
    private readonly shared: SharedState,
  ) {
    this.wsCeiling = maxMessageCeiling(runtime.plan.config.routes);
  }

  static async start(plan: Plan, shared: SharedState, sink: ObserveSink): Promise<Gateway> {
    const uWS = await loadUws(plan.config.server.limits.max_header_bytes);
    const rt = await buildRuntime(plan, shared);
    await rt.ready;
    const gw = new Gateway(new Pipeline(rt, sink), rt, shared);
    try {
      const ls = plan.config.server.listen;
      for (let i = 0; i < ls.length; i++) {
        const l = ls[i]!;
        // The main thread makes sure nobody else serves the port (extra threads then share it on purpose).
        if (!shared.listenPorts && l.port !== 0) await assertPortFree(l.host, l.port);
        await gw.listen(uWS, shared.listenPorts ? { ...l, port: shared.listenPorts[i] ?? l.port } : l, plan);
      }
    } catch (e) {
      gw.closeNow();
      await rt.close();
      throw e;
    }
    return gw;
  }

  private async listen(uWS: UwsModule, l: ListenConfig, plan: Plan): Promise<void> {
    const app = this.makeApp(uWS, l, plan);
    const sock = await new Promise<ListenSocket | false>((resolve) => app.listen(l.host, l.port, resolve));
    if (!sock) {
      throw new Error(`cannot listen on ${l.host}:${l.port}: the address is in use, not local, or needs privileges (ports < 1024 need CAP_NET_BIND_SERVICE)`);
    }
    const port = uWS.us_socket_local_port(sock as never);
    this.apps.push(app);
    this.appListener.push(this.listeners.length);
    this.sockets.push(sock);
    this.listeners.push({ host: l.host, port, tls: !!l.tls });
  }

  /** One listener's uWS app: its default TLS context (tls.cert, key, client_ca), routes, and SNI names. */
  private makeApp(uWS: UwsModule, l: ListenConfig, plan: Plan): TemplatedApp {
    let app: TemplatedApp;
    if (l.tls) {
      const files = defaultTlsFiles(plan, l);
      const created = uWS.SSLApp(files);
      app = created;
      this.tlsSignature.set(app, tlsSignature(files));
      // Open connections per TLS app, so an app retired by a certificate swap is closed once its last one ends.
      this.openConnections.set(app, 0);
      app.filter((_res, count) => this.connectionCounted(created, Number(count)));
    } else {
      app = uWS.App();
    }
    applySocketTimers(app, plan.config.server.limits);
    const clientCert = l.tls?.client_ca !== undefined ? l.tls.client_cert ?? 'required' : undefined;
    const info = { proto: l.tls ? 'https' : 'http', proxyProtocol: l.proxy_protocol, clientCert } as const;
    const handler = this.pipeline.handlerFor(info);
    app.any('/*', handler);
    // Every listener takes WebSocket upgrades, so that one to a route without websocket is refused (426).
    const ws = websocketBehavior(this.pipeline.upgradeHandlerFor(info), this.wsCeiling);
    app.ws('/*', ws);
    this.wsBehaviors.set(app, ws);
    // identity_assertion.expose_jwks: the public keys on this listener too; otherwise routed like any path.
    const jwks = (res: HttpResponse, req: HttpRequest): void => {
      const a = this.runtime.assertion;
      if (a === null || !a.exposeJwks) return handler(res, req);
      res.cork(() => {
        res.writeStatus('200 OK').writeHeader('content-type', 'application/jwk-set+json').writeHeader('cache-control', 'max-age=60').end(a.jwksJson);
      });
    };
    app.get(JWKS_PATH, jwks);
    this.handlers.set(app, handler);
    this.jwksHandlers.set(app, jwks);
    if (l.tls) this.sniNames.set(app, this.applySni(app, plan, l, new Set()));
    return app;
  }

  private connectionCounted(app: TemplatedApp, delta: number): void {
    const n = (this.openConnections.get(app) ?? 0) + delta;
    this.openConnections.set(app, n);
    if (n <= 0 && this.retired.has(app)) setImmediate(() => this.closeRetired(app));
  }

  /** A replaced app keeps serving the connections it holds; it is closed when the last one ends (or at shutdown). */
  private retire(app: TemplatedApp): void {
    this.retired.add(app);
    if ((this.openConnections.get(app) ?? 0) <= 0) setImmediate(() => this.closeRetired(app));
  }

  private closeRetired(app: TemplatedApp): void {
    if (!this.retired.has(app) || (this.openConnections.get(app) ?? 0) > 0) return;
    this.retired.delete(app);
    this.forget(app);
    app.close();
  }

  /** An app made for a swap that did not happen. */
  private discard(app: TemplatedApp): void {
    this.forget(app);
    app.close();
  }

  private forget(app: TemplatedApp): void {
    this.openConnections.delete(app);
    this.tlsSignature.delete(app);
    this.sniNames.delete(app);
    this.handlers.delete(app);
    this.jwksHandlers.delete(app);
  }

  /**
   * SIGHUP, per TLS listener: when tls.cert, key, client_ca or the passphrase
   * changed, a new app with the new default context listens on the same port
   * (uWS binds with SO_REUSEPORT) and the old listening socket closes; the old
   * app keeps its open connections until they end. uWS cannot swap the
   * default context of a running app, and clients that send no server name
   * (or an unknown one) get it. Otherwise only the tls.sni names are re-read.
   */
  private async reloadTls(plan: Plan): Promise<void> {
    const ls = plan.config.server.listen;
    for (let i = 0; i < this.apps.length; i++) {
      const app = this.apps[i]!;
      const l = ls[this.appListener[i]!];
      if (l === undefined || !l.tls || !this.tlsSignature.has(app)) continue;
      const at = `${l.host}:${this.listeners[this.appListener[i]!]!.port}`;
      let next: TemplatedApp | null = null;
      try {
        if (tlsSignature(defaultTlsFiles(plan, l)) === this.tlsSignature.get(app)) {
          this.sniNames.set(app, this.applySni(app, plan, l, this.sniNames.get(app) ?? new Set()));
          continue;
        }
        const uWS = await loadUws(0);
        next = this.makeApp(uWS, l, plan);
        const port = this.listeners[this.appListener[i]!]!.port;
        const bound = next;
        const sock = await new Promise<ListenSocket | false>((resolve) => bound.listen(l.host, port, resolve));
        if (!sock) {
          this.discard(next);
          log.error('the listener certificate changed but a second socket cannot be bound on its port; the previous certificate stays until a restart', {
            listener: at, fix: l.port === 0 ? 'give the listener a fixed port (a port the kernel chose cannot be shared)' : 'restart the gateway',
          });
          continue;
        }
        uWS.us_listen_socket_close(this.sockets[i]! as never);
        this.apps[i] = next;
        this.sockets[i] = sock;
        this.retire(app);
        log.info('listener certificate reloaded', { listener: at });
      } catch (e) {
        if (next !== null && this.apps[i] !== next) this.discard(next);
        log.error('reloading the listener certificates failed; the previous ones stay', { listener: at, error: String(e) });
      }
    }
  }

  /**
   * tls.sni: each name gets its own context (certificate, key, and the
   * listener's client_ca so client certificates are asked for under every
   * name). Returns the names now served; names in `before` not in the plan are removed.
   */
  private applySni(app: TemplatedApp, plan: Plan, l: ListenConfig, before: ReadonlySet<string>): Set<string> {
    const now = new Set<string>();
    const t = l.tls;
    if (!t) return now;
    t.sni.forEach((e, j) => {
      const issues: ConfigIssue[] = [];
      const passphrase = resolveSecret(e as unknown as Record<string, unknown>, 'passphrase', `server.listen.tls.sni[${j}]`, plan.baseDir, issues, false);
      if (issues.length) throw new ConfigError(plan.file || '<config>', issues);
      const files = { ...sslFiles(plan, { ...t, cert: e.cert, key: e.key }), passphrase: passphrase ?? '' };
      const name = e.server_name.toLowerCase();
      setServerName(app, name, files, before.has(name), this.handlers.get(app)!, [[JWKS_PATH, this.jwksHandlers.get(app)!]], this.wsBehaviors.get(app) as WebSocketBehavior<never> | undefined);
      now.add(name);
    });
    for (const n of before) if (!now.has(n)) removeServerName(app, n);
    return now;
  }

  get current(): Runtime {
    return this.runtime;
  }

  /** Builds the new plan's runtime first; on any error the old one keeps serving. */
  async reload(plan: Plan): Promise<void> {
    const next = await buildRuntime(plan, this.shared);
    await next.ready;
    const old = this.runtime;
    this.runtime = next;
    this.pipeline.rt = next;
    for (const a of this.apps) applySocketTimers(a, plan.config.server.limits);
    await this.reloadTls(plan);
    const over = plan.config.routes.filter((r) => r.websocket !== undefined && r.websocket.max_message > this.wsCeiling).map((r) => r.name);
    if (over.length) log.warn('routes[].websocket.max_message above the largest at start applies after a restart; uWS refuses larger messages until then', { routes: over, limit: this.wsCeiling });
    // WebSockets opened on the old config (its routes, rules, credentials) are closed with 1001 after shutdown_timeout: clients reconnect through the new one.
    const ws = this.pipeline.websockets;
    setTimeout(() => ws.closeAll('configuration reloaded', old), plan.config.server.shutdown_timeout).unref();
    // In-flight requests still hold the old upstream pools; close them once those are done.
    const grace = old.plan.config.server.limits.request_timeout + 1000;
    setTimeout(() => void old.close().catch((e: unknown) => log.warn('closing the previous runtime failed', { error: String(e) })), grace).unref();
  }

  /** Stops accepting; waits for in-flight requests up to `deadlineMs`; closes everything. */
  async shutdown(deadlineMs: number): Promise<void> {
    const uWS = await loadUws(0);
    for (const s of this.sockets) uWS.us_listen_socket_close(s as never);
    this.sockets = [];
    this.pipeline.draining = true;
    const until = Date.now() + deadlineMs;
    const ws = this.pipeline.websockets;
    while ((this.pipeline.inflight.size > 0 || ws.size > 0) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const left = this.pipeline.inflight.size;
    if (left > 0) log.warn('shutdown deadline reached; cutting in-flight requests', { in_flight: left });
    // WebSockets never finish by themselves: at the deadline they are told the gateway goes away (1001).
    const sockets = ws.closeAll('gateway shutting down');
    if (sockets > 0) {
      log.info('shutdown: WebSockets closed with 1001', { sockets });
      await new Promise((r) => setTimeout(r, 100)); // let the close frames leave before the apps close
    }
    this.closeNow();
    this.pipeline.stop();
    await this.runtime.close();
  }

  private closeNow(): void {
    for (const a of this.apps) a.close();
    for (const a of this.retired) a.close();
    this.retired.clear();
    this.apps = [];
    this.appListener = [];
  }
}

/**
 * uWS listens with SO_REUSEPORT (so event-loop threads can share a port), so a
 * port another process already serves was bound silently: a second gateway
 * started by mistake (or an old one left running) split connections with it
 * through the kernel, each on its own config (test/core/lifecycle.test.ts).
 * A plain bind without SO_REUSEPORT fails with EADDRINUSE in that case.
 */
/** uWS binds with SO_REUSEPORT: a second process on a fixed port would silently share it. */
export function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') {
        reject(new Error(`cannot listen on ${host}:${port}: the address is in use (is another portcullis or server running on it?)`));
      } else {
        resolve(); // other errors (privileges…) are reported by uWS's own listen
      }
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * uWS's file options for one listener. With client_ca, uWS asks every client
 * for a certificate and fails a handshake whose certificate does not chain to
 * those CAs; a client sending none still gets through (see pipeline: required).
 */
function sslFiles(plan: Plan, t: Pick<NonNullable<ListenConfig['tls']>, 'cert' | 'key' | 'client_ca'>): { cert_file_name: string; key_file_name: string; ca_file_name?: string } {
  const out: { cert_file_name: string; key_file_name: string; ca_file_name?: string } = { cert_file_name: planPath(plan, t.cert), key_file_name: planPath(plan, t.key) };
  if (t.client_ca !== undefined) out.ca_file_name = planPath(plan, t.client_ca);
  return out;
}

/** The listener's default context files (checked to exist) and its passphrase. */
function defaultTlsFiles(plan: Plan, l: ListenConfig): TlsFiles {
  const t = l.tls!;
  const files = sslFiles(plan, t);
  const named: [string, string | undefined][] = [['cert', files.cert_file_name], ['key', files.key_file_name], ['client_ca', files.ca_file_name]];
  for (const [what, p] of named) {
    if (p !== undefined && !existsSync(p)) throw new Error(`server.listen ${l.host}:${l.port}: tls.${what} file not found: ${p}`);
  }
  const issues: ConfigIssue[] = [];
  const passphrase = resolveSecret(t as unknown as Record<string, unknown>, 'passphrase', 'server.listen.tls', plan.baseDir, issues, false);
  if (issues.length) throw new ConfigError(plan.file || '<config>', issues);
  return { ...files, passphrase: passphrase ?? '' };
}

/** What a TLS context is made of, as one digest: a reload rebuilds the context only when it differs. */
function tlsSignature(f: TlsFiles): string {
  const h = createHash('sha256');
  for (const p of [f.cert_file_name, f.key_file_name, f.ca_file_name]) h.update(p === undefined ? '-' : readFileSync(p)).update('\0');
  return h.update(f.passphrase).digest('hex');
}

function planPath(plan: Plan, p: string): string {
  return p.startsWith('/') ? p : `${plan.baseDir}/${p}`;
}
