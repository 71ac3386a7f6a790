// The request's way (docs/architecture.md), one stage after the other:
//   parse → route → screen (network rules, pre-auth limits) → authenticate →
//   limit → authorize → decideSlow (external authz) → respond | forward.
// Up to authentication everything runs synchronously on one reused LiveView;
// a refusal there is a precomputed answer and allocates nothing in our code.
// A request that must wait (an authenticator or authorizer on the worker
// pool) or be proxied gets an Exchange (src/proxy/exchange.ts), which owns the
// uWS response from then on. The stages after authentication take a Reply
// (replies.ts) and so are the same code for the synchronous and the waited
// request.
import { AUTH_OK, AUTH_RESPOND, AUTHZ_DROP, AUTHZ_FORWARD, type AuthResult, type AuthzDecision, type BodyEndpoint } from '../contracts.js';
import { R } from '../reasons.js';
import { Exchange, type ExchangeHost } from '../proxy/exchange.js';
import type { Framing } from '../proxy/headers.js';
import { forwardRequest } from './forward.js';
import { NO_CORS } from '../policy/cors.js';
import { ClientAddress } from '../policy/client-ip.js';
import { writeRejection } from './respond.js';
import { allXff, RequestParser } from './parse.js';
import { ExchangeReply, SyncReply, type ObserveSink, type Reply } from './replies.js';
import type { CompiledRoute, ListenerInfo, Runtime } from './runtime.js';
import { clientCertificate, type HttpRequest, type HttpResponse, type SocketContext } from './uws.js';
import { WebSocketHub } from '../websocket/hub.js';
import { upgradeRefusal } from '../websocket/upgrade.js';
import { LiveView } from './view.js';
import { Inflight, sweepInflight } from './inflight.js';
import { challengeHeaders } from '../auth/challenge.js';
import { log } from '../observe/log.js';
import { clockNow } from '../lib/clock.js';
import { withTraces } from './trace-sink.js';

export type { ObserveSink, UpstreamLeg } from './replies.js';
export type { ListenerInfo } from './runtime.js';

const EMPTY: readonly string[] = [];

export class Pipeline implements ExchangeHost {
  private readonly view = new LiveView();
  readonly parser = new RequestParser();
  private readonly client = new ClientAddress();
  private readonly sync: SyncReply;
  private readonly framing: Framing = { contentLength: -1, chunked: false, connectionDrop: null, xff: '', xfp: '', requestId: '' };
  private readonly headerFn = (n: string): string => this.view.header(n);
  private readonly xffFn = (): string => allXff(this.view.req!);
  readonly inflight = new Inflight<Exchange>();
  /** This thread's open WebSockets (routes[].websocket). */
  readonly websockets = new WebSocketHub();
  draining = false;
  /** While handle() runs for uWS's ws() upgrade handler: the socket context to upgrade into. */
  private upgrade: SocketContext | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;

  readonly sink: ObserveSink;

  constructor(public rt: Runtime, sink: ObserveSink) {
    this.sink = withTraces(sink); // tracing: a sampled request's span ends where the request is reported
    this.sync = new SyncReply(this.view, this);
    this.sweepTimer = setInterval(this.sweep, 250);
    this.sweepTimer.unref();
  }

  get maxBody(): number {
    return this.rt.maxBody;
  }

  /** uWS handler factory for one listener. A bug in a stage costs one request (500), never the process. */
  handlerFor(l: ListenerInfo): (res: HttpResponse, req: HttpRequest) => void {
    return (res, req) => this.guarded(res, req, l);
  }

  /** uWS's WebSocket upgrade handler: the same stages; an accepted upgrade ends in openWebSocket(). */
  upgradeHandlerFor(l: ListenerInfo): (res: HttpResponse, req: HttpRequest, context: SocketContext) => void {
    return (res, req, context) => {
      this.upgrade = context;
      try { this.guarded(res, req, l); } finally { this.upgrade = null; }
    };
  }

  private guarded(res: HttpResponse, req: HttpRequest, l: ListenerInfo): void {
    try {
      this.handle(res, req, l);
    } catch (e) {
      log.error('request handler failed; answered 500', { error: (e as Error)?.stack ?? String(e), route: this.view.routeIndex, path: this.view.path });
      try { writeRejection(res, R.internal_error); } catch { /* already answered, or an Exchange owns it */ }
    }
  }

  handle(res: HttpResponse, req: HttpRequest, l: ListenerInfo): void {
    const v = this.view;
    const rt = this.rt;
    const t0 = performance.now();
    v.reset(req, l.proto);
    this.sync.begin(res, req, t0);
    // Listeners without client_ca never call uWS for a certificate (nothing to read, nothing allocated).
    v.clientCert = l.clientCert !== undefined ? clientCertificate(res) : '';
    this.client.resolve(v, rt.clientIp, res, l.proxyProtocol, this.xffFn);

    // 1. parse
    const bad = this.parser.parse(req, v, rt.normalize);
    if (bad !== 0) return this.sync.rejectDeferred(bad, EMPTY);
    if (rt.tracing !== null) rt.tracing.begin(v, t0); // tracing: sampling decided, no SDK call when unsampled
    if (this.draining) return this.sync.reject(R.shutting_down, EMPTY);
    const cl = this.parser.contentLength;
    if (cl !== '' && Number(cl) > rt.maxBody) return this.sync.reject(R.body_too_large, EMPTY);
    // tls.client_cert: required: uWS completes a handshake without a certificate; no route is ever reached without one.
    if (v.clientCert === '' && l.clientCert === 'required') return this.sync.reject(R.client_cert_required, EMPTY);

    // 2. route (a CORS preflight is answered here) and 3. screen
    const route = this.route(v);
    if (route === null || this.screen(route)) return;
    if (route.cors !== null && v.method === 'OPTIONS' && this.sync.preflight(route.cors)) return;

    this.authenticate(route);
  }

  /** Stage 4: the route's authenticators (or a POST one of them answers from its body), then on to 5. */
  private authenticate(route: CompiledRoute): void {
    const v = this.view;
    const chain = route.chain;
    if (chain === null) return this.limit(this.sync, route);
    if (chain.endpoints !== null && v.method === 'POST') {
      const ep = chain.endpoints.get(v.path);
      if (ep !== undefined) return this.bodyEndpoint(ep);
    }
    const a = chain.run(v);
    if (typeof a !== 'number') {
      const reply = new ExchangeReply(this.sync.exchange());
      a.then((r) => this.authenticated(reply, route, r), (e: unknown) => this.internalError(reply.ex, e));
      return;
    }
    if (a !== AUTH_OK) return this.refuse(this.sync, route, v.reason);
    this.limit(this.sync, route);
  }

  /** Stage 2: the route, or null when the request was answered (404/405, a CORS preflight). */
  private route(v: LiveView): CompiledRoute | null {
    const rt = this.rt;
    const path = v.path;
    // A CORS preflight asks about the method it names, not OPTIONS.
    const asked = rt.hasCors && v.method === 'OPTIONS' ? this.view.header('access-control-request-method') : '';
    let idx = -1;
    if (asked !== '' && this.view.header('origin') !== '') {
      idx = rt.match(asked, v.host, path, this.headerFn);
      if (idx >= 0 && rt.routes[idx]!.cors === null) idx = -1;
    }
    if (idx < 0) idx = rt.match(v.method, v.host, path, this.headerFn);
    if (idx < 0) {
      const allow = rt.allowedMethods(v.host, path, this.headerFn);
      this.sync.reject(allow === '' ? R.route_not_found : R.method_not_allowed, allow === '' ? EMPTY : ['allow', allow]);
      return null;
    }
    v.routeIndex = idx;
    const route = rt.routes[idx]!;
    this.sync.route = route;
    // A preflight's own answers (and its refusals) carry no CORS headers.
    const preflight = asked !== '' && route.cors !== null && v.header('origin') !== '';
    if (preflight) return route;
    if (this.parser.chunked && !route.chunkedUploads) { this.sync.reject(R.length_required, EMPTY); return null; }
    if (route.cors !== null) {
      const origin = v.header('origin');
      v.corsHeaders = (origin !== '' ? route.cors.actualHeaders(origin) : null) ?? NO_CORS;
    }
    return route;
  }

  /** Stage 3: network rules and a peek at pre-auth rate limits, so floods are cut before any crypto. True when answered. */
  private screen(route: CompiledRoute): boolean {
    const v = this.view;
    if (route.policy !== null) {
      const r = route.policy.checkNetwork(v);
      if (r !== 0) { this.sync.reject(r, EMPTY); return true; }
    }
    if (route.rateLimit !== null) {
      const li = route.rateLimit.precheck(v);
      if (li >= 0) { this.sync.reject(R.rate_limited, route.rateLimit.headers(v, li)); return true; }
    }
    // A WebSocket upgrade: only to a websocket route, from an allowed Origin (before any crypto).
    if (this.upgrade !== null) {
      const r = upgradeRefusal(route.websocket, v.header('sec-websocket-version'), v.header('origin'), v.header('host'), this.parser.bodyDeclared);
      if (r !== 0) { this.sync.reject(r, EMPTY); return true; }
    }
    return false;
  }

  /** Stage 4 for an endpoint an authenticator answers from the POST body (bounded by it); nothing goes upstream. */
  private bodyEndpoint(ep: BodyEndpoint): void {
    const cl = this.parser.contentLength;
    if (cl !== '' && Number(cl) > ep.maxBytes) return this.sync.reject(R.body_too_large, EMPTY);
    const contentType = this.view.header('content-type');
    const ex = this.sync.exchange();
    ex.readBody(ep.maxBytes)
      .then((body) => ep.handle(body, contentType))
      .then((r) => ex.respond(r, ep.reason), (e: unknown) => this.internalError(ex, e));
  }

  /** Stage 4 ended after a wait. */
  private authenticated(reply: ExchangeReply, route: CompiledRoute, r: AuthResult): void {
    if (reply.done) return;
    if (r.outcome === AUTH_RESPOND && r.response) return reply.respond(r.response, r.reason || R.login_required);
    if (r.outcome !== AUTH_OK) return this.refuse(reply, route, r.reason);
    reply.view.identity = r.identity;
    this.limit(reply, route);
  }

  /** Authentication said no: 401 with the chain's challenges; the refusal still spends pre-auth tokens. */
  private refuse(reply: Reply, route: CompiledRoute, reason: number): void {
    const v = reply.view;
    const why = reason || R.no_credentials;
    if (route.rateLimit !== null) route.rateLimit.chargeRefused(v);
    reply.reject(why, challengeHeaders(route.chain!.challenges(v, why)));
  }

  /** Stage 5: every limit of the route, all-or-nothing. */
  private limit(reply: Reply, route: CompiledRoute): void {
    const v = reply.view;
    if (route.rateLimit !== null) {
      const li = route.rateLimit.take(v);
      // The header values describe this request's buckets: read them now, not after an await.
      v.rateHeaders = route.rateLimit.headers(v, li);
      if (li >= 0) return reply.reject(R.rate_limited, v.rateHeaders);
    }
    this.authorize(reply, route);
  }

  /** Stage 6: identity rules and route_by, then 7: the external authorizer. */
  private authorize(reply: Reply, route: CompiledRoute): void {
    const v = reply.view;
    if (route.policy !== null) {
      const r = route.policy.checkIdentity(v);
      if (r !== 0) return reply.reject(r, EMPTY);
      v.upstream = route.respond !== null ? -1 : route.policy.chooseUpstream(v);
      if (v.upstream < 0 && route.respond === null) return reply.reject(R.route_denied, EMPTY);
    } else {
      v.upstream = route.upstream;
    }
    if (route.external === null) return this.deliver(reply, route);
    const d = route.external.authorize(v);
    if (!(d instanceof Promise)) return this.decideSlow(reply, route, d);
    const waited = reply instanceof ExchangeReply ? reply : new ExchangeReply(reply.exchange());
    d.then((dec) => { if (!waited.done) this.decideSlow(waited, route, dec); }, (e: unknown) => this.internalError(waited.ex, e));
  }

  /** Stage 7: what the external authorizer decided. */
  private decideSlow(reply: Reply, route: CompiledRoute, d: AuthzDecision): void {
    const v = reply.view;
    if (d.action === AUTHZ_FORWARD) {
      v.authzHeaders = d.headers;
      if (d.upstream >= 0) v.upstream = d.upstream;
      return this.deliver(reply, route);
    }
    if (d.action === AUTHZ_DROP) return reply.reject(R.authz_dropped, EMPTY);
    if (d.response !== null) return reply.respond(d.response, d.reason);
    reply.reject(d.reason || R.authz_denied, EMPTY);
  }

  /** A respond route's static answer, or stage 8. */
  private deliver(reply: Reply, route: CompiledRoute): void {
    if (route.respond !== null) return reply.respond(route.respond, R.respond);
    this.forward(reply.exchange(), route);
  }

  /** Stage 8 (server/forward.ts). */
  private forward(ex: Exchange, route: CompiledRoute): void {
    forwardRequest(this, this.framing, ex, route);
  }

  private internalError(ex: Exchange, e: unknown): void {
    log.error('stage failed; answered 500', { error: (e as Error)?.stack ?? String(e), route: ex.view.routeIndex });
    ex.fail(R.internal_error);
  }

  // --- the Exchange's host ------------------------------------------------------

  openExchange(route: CompiledRoute | null): Exchange {
    const v = this.view;
    const d = v.detach(v.collectHeaders());
    d.startedAt = this.sync.t0;
    const timeout = route !== null ? route.timeout : this.rt.plan.config.server.limits.request_timeout;
    const ex = new Exchange(this.sync.res!, d, this, v.method === 'HEAD', this.parser.bodyDeclared, timeout, clockNow());
    if (this.parser.chunked) ex.closeAfter = true;
    ex.upgradeContext = this.upgrade;
    this.inflight.add(ex);
    return ex;
  }

  finished(ex: Exchange): void {
    this.inflight.delete(ex);
    const v = ex.view;
    this.sink.request(v, ex.status, ex.reason, (performance.now() - v.startedAt) * 1000, ex.upstreamIndex, ex.bytesOut, ex.bytesIn, ex);
  }

  upstreamResult(index: number, micros: number, error: boolean): void {
    this.sink.upstream(index, micros, error);
  }

  /** Cuts requests past request_timeout and bodies idle past idle_timeout. */
  private readonly sweep = (): void => {
    if (this.inflight.size > 0) sweepInflight(this.inflight, Date.now(), this.rt.idleTimeout, R.gateway_timeout, R.request_timeout);
  };

  stop(): void {
    this.websockets.stop();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }
}
