// The request's way (docs/architecture.md), stage by stage:
//   1 parse+limits → 2 route → 3 network policy + rate-limit peek →
//   4 authenticate → 5 rate limit (all keys) → 6 authorize (rules, route_by) →
//   7 slow decisions (external authz) → 8 proxy.
// Stages 1–6 run synchronously on one reused LiveView; a rejection there writes
// a precomputed answer and allocates nothing in our code. Only a request that
// must wait or be proxied gets an Exchange (src/proxy/exchange.ts), which owns
// the uWS response from then on and registered onAborted in its constructor.
import {
  AUTH_OK, AUTH_REJECT, AUTH_RESPOND, AUTHZ_DROP, AUTHZ_FORWARD,
  type AuthResult, type AuthzDecision, type DirectResponse,
} from '../contracts.js';
import { R, REASON_STATUS } from '../reasons.js';
import { Exchange, type ExchangeHost } from '../proxy/exchange.js';
import { compileForwardHeaders, withoutQueryParam } from '../proxy/forward-headers.js';
import { inspectRequestHeaders, type Framing } from '../proxy/headers.js';
import { upstreamTarget } from '../proxy/request-target.js';
import { acceptableMethod } from '../lib/http-syntax.js';
import { NO_CORS } from '../policy/cors.js';
import { writeDirect, writeRejection } from './respond.js';
import { assignRequestId } from './request-id.js';
import type { CompiledRoute, Runtime } from './runtime.js';
import { clientCertificate, type HttpRequest, type HttpResponse } from './uws.js';
import { DetachedView, LiveView } from './view.js';
import { Inflight } from './inflight.js';
import { formatIp16, ip16FromBytes } from '../policy/ip.js';
import { log } from '../observe/log.js';
import { clockNow } from '../lib/clock.js';

/** What the pipeline reports when a request ends (metrics + access log). */
export interface ObserveSink {
  request(
    view: LiveView | DetachedView, status: number, reason: number, micros: number,
    upstream: number, bytesOut: number, bytesIn: number,
  ): void;
  upstream(index: number, micros: number, error: boolean): void;
}

const EMPTY: readonly string[] = [];
const NEXT = -1;
const ASYNC = -2;
const RESPONDED = -3;

/** Per-listener facts the pipeline needs (scheme for X-Forwarded-Proto, PROXY protocol). */
export interface ListenerInfo {
  readonly proto: 'http' | 'https';
  readonly proxyProtocol: boolean;
  /** tls.client_cert of a listener with tls.client_ca; absent = no client certificates read. */
  readonly clientCert?: 'required' | 'optional';
}


export class Pipeline implements ExchangeHost {
  private readonly view = new LiveView();
  private readonly peer16 = new Uint8Array(16);
  private readonly framing: Framing = { contentLength: -1, chunked: false, connectionDrop: null, xff: '', xfp: '', requestId: '' };
  private readonly headerFn = (n: string): string => this.view.header(n);
  readonly inflight = new Inflight<Exchange>();
  draining = false;
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(public rt: Runtime, private readonly sink: ObserveSink) {
    this.sweepTimer = setInterval(this.sweep, 250);
    this.sweepTimer.unref();
  }

  get maxBody(): number {
    return this.rt.maxBody;
  }

  /** uWS handler factory for one listener. */
  handlerFor(l: ListenerInfo): (res: HttpResponse, req: HttpRequest) => void {
    return (res, req) => {
      try {
        this.handle(res, req, l);
      } catch (e) {
        this.handlerFailed(res, e);
      }
    };
  }

  /**
   * A bug in a stage must cost one request, not the process (every other
   * client's requests die with it). Answer 500 when the response is still ours.
   */
  private handlerFailed(res: HttpResponse, e: unknown): void {
    const v = this.view;
    log.error('request handler failed; answered 500', { error: (e as Error)?.stack ?? String(e), route: v.routeIndex, path: v.path });
    try {
      writeRejection(res, R.internal_error);
    } catch {
      // Already answered or taken over by an Exchange: nothing more to send.
    }
  }

  handle(res: HttpResponse, req: HttpRequest, l: ListenerInfo): void {
    const rt = this.rt;
    const v = this.view;
    const t0 = performance.now();
    v.req = req;
    v.identity = null;
    v.reason = 0;
    v.retryAfter = 0;
    v.limitName = '';
    v.routeIndex = -1;
    v.requestId = '';
    v.upstream = -1;
    v.authzHeaders = EMPTY;
    v.rateHeaders = EMPTY;
    v.corsHeaders = EMPTY;
    v.proto = l.proto;
    // Listeners without client_ca never call uWS for a certificate (nothing to read, nothing allocated).
    v.clientCert = l.clientCert !== undefined ? clientCertificate(res) : '';

    // 1. parse + limits
    this.resolveClient(res, req, v, l);
    v.method = req.getCaseSensitiveMethod();
    v.query = req.getQuery() ?? '';
    v.host = normHost(req.getHeader('host'));
    // Framing first, for every request (proxied or not): uWS takes the first of
    // several Content-Length headers and reads any Transfer-Encoding as chunked,
    // so a front proxy that reads them otherwise would disagree with us about
    // where this request ends. Only requests that declare a body pay for the scan.
    const cl = req.getHeader('content-length');
    const te = req.getHeader('transfer-encoding');
    this.bodyDeclared = (cl !== '' && cl !== '0') || te !== '';
    this.chunked = te !== '';
    if ((cl !== '' || te !== '') && !this.framingOk(req)) {
      v.path = req.getUrl();
      return this.rejectFraming(res, req, v, t0);
    }
    if (!acceptableMethod(v.method)) {
      v.path = req.getUrl();
      return this.rejectDeferred(res, req, v, R.bad_method, EMPTY, t0);
    }
    const path = rt.normalize(req.getUrl());
    if (path === null) { v.path = req.getUrl(); return this.rejectDeferred(res, req, v, R.bad_path, EMPTY, t0); }
    v.path = path;
    if (this.draining) return this.rejectNow(res, v, R.shutting_down, EMPTY, t0);
    if (cl !== '' && Number(cl) > rt.maxBody) return this.rejectNow(res, v, R.body_too_large, EMPTY, t0);
    // tls.client_cert: required: uWS completes a handshake without a certificate; no route is ever reached without one.
    if (v.clientCert === '' && l.clientCert === 'required') return this.rejectNow(res, v, R.client_cert_required, EMPTY, t0);

    // 2. route (a CORS preflight asks about the method it names)
    if (rt.hasCors && v.method === 'OPTIONS') {
      const pre = this.preflight(res, req, v, path, t0);
      if (pre) return;
    }
    const idx = rt.match(v.method, v.host, path, this.headerFn);
    if (idx < 0) {
      const allow = rt.allowedMethods(v.host, path, this.headerFn);
      return allow === ''
        ? this.rejectNow(res, v, R.route_not_found, EMPTY, t0)
        : this.rejectNow(res, v, R.method_not_allowed, ['allow', allow], t0);
    }
    v.routeIndex = idx;
    const route = rt.routes[idx]!;
    if (this.chunked && !route.chunkedUploads) return this.rejectNow(res, v, R.length_required, EMPTY, t0);
    if (route.cors !== null) {
      const origin = req.getHeader('origin');
      v.corsHeaders = (origin !== '' ? route.cors.actualHeaders(origin) : null) ?? NO_CORS;
    }

    // 3. network rules and a peek at pre-auth rate limits: floods are cut before any crypto
    if (route.policy !== null) {
      const r = route.policy.checkNetwork(v);
      if (r !== 0) return this.rejectNow(res, v, r, EMPTY, t0);
    }
    if (route.rateLimit !== null) {
      const li = route.rateLimit.precheck(v);
      if (li >= 0) return this.rejectNow(res, v, R.rate_limited, route.rateLimit.headers(v, li), t0);
    }

    // 4. authenticate
    if (route.chain !== null) {
      const a = route.chain.run(v);
      if (typeof a !== 'number') {
        const ex = this.exchangeFor(res, req, v, route, t0);
        a.then((r) => this.afterAsyncAuth(ex, route, r), (e: unknown) => this.internalError(ex, e));
        return;
      }
      if (a !== AUTH_OK) {
        if (route.rateLimit !== null) route.rateLimit.chargeRefused(v);
        return this.rejectNow(res, v, v.reason || R.no_credentials, challengeHeaders(route.chain.challenges(v, v.reason)), t0);
      }
    }

    // 5–7
    const d = this.decide(v, route);
    if (d === ASYNC) {
      const ex = this.exchangeFor(res, req, v, route, t0);
      const pending = this.pendingAuthz!;
      this.pendingAuthz = null;
      pending.then((dec) => this.afterAsyncAuthz(ex, route, dec), (e: unknown) => this.internalError(ex, e));
      return;
    }
    if (d >= 0) return this.rejectNow(res, v, d, d === R.rate_limited ? this.limitHeaders(v, route) : EMPTY, t0);
    if (d === RESPONDED) {
      this.respondNow(res, v, this.pendingResponse!, t0);
      return;
    }
    if (route.respond !== null) {
      const rr = route.respond;
      if (this.chunked) return this.respondDeferred(res, req, v, rr, R.respond, t0);
      assignRequestId(v, v.peerTrusted ? req.getHeader('x-request-id') : '');
      writeDirect(res, rr.status, rr.headers, rr.body, v.method === 'HEAD', false, v.corsHeaders, v.requestId);
      this.sink.request(v, rr.status, R.respond, (performance.now() - t0) * 1000, -1, rr.body.length, 0);
      return;
    }

    // 8. proxy
    const ex = this.exchangeFor(res, req, v, route, t0);
    this.forward(ex, route);
  }

  /**
   * A CORS preflight (OPTIONS + Origin + Access-Control-Request-Method) for a
   * route with `cors` is answered here, after that route's network rules and
   * before authentication: browsers send it without credentials. Returns
   * false when the request is not one (it is then an ordinary OPTIONS).
   */
  private preflight(res: HttpResponse, req: HttpRequest, v: LiveView, path: string, t0: number): boolean {
    const method = req.getHeader('access-control-request-method');
    if (method === '') return false;
    const origin = req.getHeader('origin');
    if (origin === '') return false;
    // The route the browser asks about; failing that, the CORS route this OPTIONS
    // itself matches (whose preflight then refuses the method).
    let idx = this.rt.match(method, v.host, path, this.headerFn);
    if (idx < 0 || this.rt.routes[idx]!.cors === null) idx = this.rt.match('OPTIONS', v.host, path, this.headerFn);
    const route = idx >= 0 ? this.rt.routes[idx]! : null;
    if (route === null || route.cors === null) return false;
    v.routeIndex = idx;
    if (route.policy !== null) {
      const r = route.policy.checkNetwork(v);
      if (r !== 0) { this.rejectNow(res, v, r, EMPTY, t0); return true; }
    }
    if (route.rateLimit !== null) {
      const li = route.rateLimit.precheck(v);
      if (li >= 0) { this.rejectNow(res, v, R.rate_limited, route.rateLimit.headers(v, li), t0); return true; }
    }
    const h = route.cors.preflight(origin, method, req.getHeader('access-control-request-headers'));
    if (h === null) { this.rejectNow(res, v, R.cors_denied, EMPTY, t0); return true; }
    if (this.chunked) { this.respondDeferred(res, req, v, { status: 204, headers: h, body: '' }, R.cors_preflight, t0); return true; }
    writeDirect(res, 204, h, '');
    v.reason = R.cors_preflight;
    this.sink.request(v, 204, R.cors_preflight, (performance.now() - t0) * 1000, -1, 0, 0);
    return true;
  }

  /** Peer address (or PROXY v2 source), then X-Forwarded-For when the peer is a trusted proxy. */
  private resolveClient(res: HttpResponse, req: HttpRequest, v: LiveView, l: ListenerInfo): void {
    // Binary address (one getpeername), formatted canonically: uWS's own text form of IPv6 is uncompressed.
    const p16 = this.peer16;
    if (!ip16FromBytes(new Uint8Array(res.getRemoteAddress()), p16)) p16.fill(0);
    if (l.proxyProtocol) this.fromProxyHeader(res, p16);
    const peerText = this.peerTextOf(p16);
    v.peerTrusted = false;
    const cip = this.rt.clientIp;
    if (cip.trustsAny && cip.trusted.has(p16)) {
      v.peerTrusted = true;
      const xff = allXff(req);
      v.clientIp = this.rt.clientIp.resolve(p16, peerText, xff, v.clientIp16);
    } else {
      v.clientIp16.set(p16);
      v.clientIp = peerText;
    }
    v.peerIp = peerText;
    const b = v.clientIp16;
    v.clientIsV4 = b[10] === 0xff && b[11] === 0xff && b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0 && b[4] === 0 && b[5] === 0 && b[6] === 0 && b[7] === 0 && b[8] === 0 && b[9] === 0;
  }

  private readonly lastPeer16 = new Uint8Array(16);
  private lastPeerText = '';
  /** Text of a peer address; the previous request's string is reused when the address repeats (keep-alive clients). */
  private peerTextOf(p16: Uint8Array): string {
    const last = this.lastPeer16;
    let same = this.lastPeerText !== '';
    for (let i = 15; same && i >= 0; i--) if (last[i] !== p16[i]) same = false;
    if (!same) {
      last.set(p16);
      this.lastPeerText = formatIp16(p16);
    }
    return this.lastPeerText;
  }

  /**
   * PROXY protocol v2: the source address the load balancer wrote replaces the
   * socket peer. Without a header, the peer stays. With trusted_proxies set,
   * only a trusted peer's header is believed (anyone could send one).
   */
  private fromProxyHeader(res: HttpResponse, p16: Uint8Array): void {
    const cip = this.rt.clientIp;
    if (cip.trustsAny && !cip.trusted.has(p16)) return;
    const px = res.getProxiedRemoteAddress();
    if (px.byteLength > 0) ip16FromBytes(new Uint8Array(px), p16);
  }

  /** The request in the handler declared a body (Content-Length > 0 or Transfer-Encoding), read once by handle(). */
  private bodyDeclared = false;
  /**
   * The request in the handler has Transfer-Encoding (chunked). Every answer
   * to it is given outside the uWS handler, on a connection that is then
   * closed: uWS parses the chunked body after the handler returns and reads
   * some framings unlike RFC 9112 (a trailer section as a next request,
   * `5;a=b`, `1G`, bare LF…). With our answer still pending, uWS closes the
   * connection instead of serving anything it parsed after the body.
   */
  private chunked = false;
  private pendingAuthz: Promise<AuthzDecision> | null = null;
  private pendingResponse: DirectResponse | null = null;

  /** Stages 5–7 on an authenticated (or anonymous) request. NEXT, ASYNC, RESPONDED, or a reason id. */
  private decide(v: LiveView | DetachedView, route: CompiledRoute): number {
    if (route.rateLimit !== null) {
      const li = route.rateLimit.take(v);
      // The header values describe this request's buckets: read them now, not after an await.
      v.rateHeaders = route.rateLimit.headers(v, li);
      if (li >= 0) { v.limitIndex = li; return R.rate_limited; }
    }
    if (route.policy !== null) {
      const r = route.policy.checkIdentity(v);
      if (r !== 0) return r;
      v.upstream = route.respond !== null ? -1 : route.policy.chooseUpstream(v);
      if (v.upstream < 0 && route.respond === null) return R.route_denied;
    } else {
      v.upstream = route.upstream;
    }
    if (route.external !== null) {
      const d = route.external.authorize(v);
      if (d instanceof Promise) { this.pendingAuthz = d; return ASYNC; }
      return this.applyAuthz(v, d);
    }
    return NEXT;
  }

  private applyAuthz(v: LiveView | DetachedView, d: AuthzDecision): number {
    if (d.action === AUTHZ_FORWARD) {
      v.authzHeaders = d.headers;
      if (d.upstream >= 0) v.upstream = d.upstream;
      return NEXT;
    }
    if (d.action === AUTHZ_DROP) return R.authz_dropped;
    if (d.response !== null) { this.pendingResponse = d.response; v.reason = d.reason; return RESPONDED; }
    return d.reason || R.authz_denied;
  }

  private limitHeaders(v: LiveView | DetachedView, route: CompiledRoute): readonly string[] {
    return route.rateLimit !== null ? v.rateHeaders : EMPTY;
  }

  // --- framing -------------------------------------------------------------------

  private clCount = 0;
  private teCount = 0;
  private teBad = false;
  private readonly framingScan = (k: string, val: string): void => {
    if (k === 'content-length') this.clCount++;
    else if (k === 'transfer-encoding') {
      this.teCount++;
      if (!isChunked(val)) this.teBad = true;
    }
  };

  /** One Content-Length at most, one Transfer-Encoding at most and only `chunked` (uWS already refuses CL together with TE). */
  private framingOk(req: HttpRequest): boolean {
    this.clCount = 0;
    this.teCount = 0;
    this.teBad = false;
    req.forEach(this.framingScan);
    return this.clCount <= 1 && this.teCount <= 1 && !this.teBad && !(this.clCount > 0 && this.teCount > 0);
  }

  /**
   * 400 for framing the gateway refuses, answered on the next turn of the event
   * loop, never inside the uWS handler. uWS keeps parsing the same bytes after
   * the handler returns: had we answered at once, the rest of the "body" (a
   * smuggled request) would be parsed and served as the next request on the
   * connection — Connection: close is only honoured after that. While our
   * response is still pending, uWS closes the connection instead of serving a
   * pipelined request, so the smuggled bytes are never routed.
   */
  private rejectFraming(res: HttpResponse, req: HttpRequest, v: LiveView, t0: number): void {
    this.rejectDeferred(res, req, v, R.bad_header, EMPTY, t0);
  }

  /** A rejection written on the next turn of the event loop, then the connection closed (see rejectFraming). */
  private rejectDeferred(res: HttpResponse, req: HttpRequest, v: LiveView, reasonId: number, extra: readonly string[], t0: number): void {
    assignRequestId(v, req.getHeader('x-request-id'));
    const ex = this.exchangeFor(res, req, v, null, t0);
    ex.closeAfter = true;
    v.reason = reasonId;
    setImmediate(this.rejectLater, ex, reasonId, extra);
  }

  private respondDeferred(res: HttpResponse, req: HttpRequest, v: LiveView, r: DirectResponse, reasonId: number, t0: number): void {
    assignRequestId(v, req.getHeader('x-request-id'));
    const ex = this.exchangeFor(res, req, v, null, t0);
    ex.closeAfter = true;
    setImmediate(this.respondLater, ex, r, reasonId);
  }

  private readonly rejectLater = (ex: Exchange, reasonId: number, extra: readonly string[] = EMPTY): void => {
    ex.reject(reasonId, extra);
  };

  private readonly respondLater = (ex: Exchange, r: DirectResponse, reasonId: number): void => {
    ex.respond(r, reasonId);
  };

  // --- synchronous answers ----------------------------------------------------

  private rejectNow(res: HttpResponse, v: LiveView, reasonId: number, extra: readonly string[], t0: number): void {
    if (this.chunked && reasonId !== R.authz_dropped) return this.rejectDeferred(res, v.req!, v, reasonId, extra, t0);
    let bytes = 0;
    if (reasonId === R.authz_dropped) {
      res.close();
    } else {
      assignRequestId(v, v.peerTrusted ? v.req!.getHeader('x-request-id') : '');
      bytes = writeRejection(res, reasonId, extra, v.requestId, v.limitName, undefined, v.corsHeaders); // limitName: the 429 body names the limit
    }
    v.reason = reasonId;
    this.sink.request(v, REASON_STATUS[reasonId]!, reasonId, (performance.now() - t0) * 1000, -1, bytes, 0);
  }

  private respondNow(res: HttpResponse, v: LiveView, r: DirectResponse, t0: number): void {
    this.pendingResponse = null;
    if (this.chunked) return this.respondDeferred(res, v.req!, v, r, v.reason, t0);
    assignRequestId(v, v.peerTrusted ? v.req!.getHeader('x-request-id') : '');
    writeDirect(res, r.status, r.headers, r.body, v.method === 'HEAD', false, v.corsHeaders, v.requestId);
    this.sink.request(v, r.status, v.reason, (performance.now() - t0) * 1000, -1, r.body.length, 0);
  }

  // --- the async part ------------------------------------------------------------

  private exchangeFor(res: HttpResponse, req: HttpRequest, v: LiveView, route: CompiledRoute | null, t0: number): Exchange {
    const headers = v.collectHeaders();
    const d = v.detach(headers);
    d.startedAt = t0;
    const expectBody = this.bodyDeclared;
    const timeout = route !== null ? route.timeout : this.rt.plan.config.server.limits.request_timeout;
    const ex = new Exchange(res, d, this, v.method === 'HEAD', expectBody, timeout, clockNow());
    if (this.chunked) ex.closeAfter = true;
    this.inflight.add(ex);
    return ex;
  }

  private afterAsyncAuth(ex: Exchange, route: CompiledRoute, r: AuthResult): void {
    if (ex.done) return;
    const v = ex.view;
    if (r.outcome === AUTH_RESPOND && r.response) return ex.respond(r.response, r.reason || R.login_required);
    if (r.outcome !== AUTH_OK) {
      v.reason = r.reason || R.no_credentials;
      if (route.rateLimit !== null) route.rateLimit.chargeRefused(v);
      assignRequestId(v, '');
      return ex.reject(v.reason, challengeHeaders(route.chain!.challenges(v, v.reason)));
    }
    v.identity = r.identity;
    const d = this.decide(v, route);
    if (d === ASYNC) {
      const pending = this.pendingAuthz!;
      this.pendingAuthz = null;
      pending.then((dec) => this.afterAsyncAuthz(ex, route, dec), (e: unknown) => this.internalError(ex, e));
      return;
    }
    this.continueAsync(ex, route, d);
  }

  private afterAsyncAuthz(ex: Exchange, route: CompiledRoute, dec: AuthzDecision): void {
    if (ex.done) return;
    this.continueAsync(ex, route, this.applyAuthz(ex.view, dec));
  }

  private continueAsync(ex: Exchange, route: CompiledRoute, d: number): void {
    const v = ex.view;
    if (d === RESPONDED) {
      const r = this.pendingResponse!;
      this.pendingResponse = null;
      return ex.respond(r, v.reason);
    }
    if (d === R.authz_dropped) return ex.drop(d);
    if (d >= 0) { assignRequestId(v, ''); return ex.reject(d, d === R.rate_limited ? this.limitHeaders(v, route) : EMPTY); }
    if (route.respond !== null) {
      const rr = route.respond;
      return ex.respond({ status: rr.status, headers: rr.headers, body: rr.body }, R.respond);
    }
    this.forward(ex, route);
  }

  private forward(ex: Exchange, route: CompiledRoute): void {
    const v = ex.view;
    const f = this.framing;
    const bad = inspectRequestHeaders(v.headers, f, this.rt.singletons);
    // Deferred like rejectFraming: forward() may run inside the uWS handler.
    if (bad !== 0) { setImmediate(this.rejectLater, ex, bad); return; }
    if (f.contentLength > this.rt.maxBody) return ex.reject(R.body_too_large);
    const group = this.rt.upstreams[v.upstream];
    if (group === undefined) return ex.reject(R.route_denied);
    if (route.rateLimit !== null) ex.responseHeaders = v.rateHeaders;
    const cred = v.identity !== null ? this.rt.credentials.get(v.identity.authenticator) : undefined;
    const headers = compileForwardHeaders(v, f, route, cred !== undefined ? cred.header : '');
    if (route.identityAssertion && v.identity !== null) headers.push(this.rt.assertion!.header, this.rt.assertion!.token(v.identity, v.upstream));
    if (cred !== undefined && cred.query !== '') v.query = withoutQueryParam(v.query, cred.query);
    let path = v.path;
    if (route.stripPrefix !== '') {
      path = path.length === route.stripPrefix.length ? '/' : path.slice(route.stripPrefix.length);
      if (path.charCodeAt(0) !== 47) path = '/' + path;
    }
    const target0 = group.targets[0]!;
    if (target0.basePath !== '') path = target0.basePath + path;
    if (v.query !== '') path = `${path}?${v.query}`;
    ex.forward(group, upstreamTarget(path), v.method, headers, f.chunked ? -1 : f.contentLength);
  }

  private internalError(ex: Exchange, e: unknown): void {
    log.error('stage failed; answered 500', { error: (e as Error)?.stack ?? String(e), route: ex.view.routeIndex });
    ex.fail(R.internal_error);
  }

  // --- ExchangeHost -------------------------------------------------------------

  finished(ex: Exchange): void {
    this.inflight.delete(ex);
    const v = ex.view;
    this.sink.request(v, ex.status, ex.reason, (performance.now() - v.startedAt) * 1000, ex.upstreamIndex, ex.bytesOut, ex.bytesIn);
  }

  upstreamResult(index: number, micros: number, error: boolean): void {
    this.sink.upstream(index, micros, error);
  }

  /** Cuts requests past request_timeout and bodies idle past idle_timeout. */
  private readonly sweep = (): void => {
    if (this.inflight.size === 0) return;
    const now = Date.now();
    const idle = this.rt.idleTimeout;
    this.inflight.forEach((ex) => {
      if (now > ex.deadline) ex.fail(R.gateway_timeout);
      else if (ex.expectBody && !ex.bodyComplete && now - ex.lastClientData > idle) ex.fail(R.request_timeout, true);
    });
  };

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }
}

/** Host header lower-cased with the port removed; allocation only when it has either. */
function normHost(h: string): string {
  if (h === '') return h;
  let end = h.length;
  if (h.charCodeAt(0) === 91) { // [v6]:port
    const close = h.indexOf(']');
    end = close > 0 ? close + 1 : end;
  } else {
    const colon = h.lastIndexOf(':');
    if (colon >= 0) end = colon;
  }
  let lower = true;
  for (let i = 0; i < end; i++) {
    const c = h.charCodeAt(i);
    if (c >= 65 && c <= 90) { lower = false; break; }
  }
  const s = end === h.length ? h : h.slice(0, end);
  return lower ? s : s.toLowerCase();
}

/** Every X-Forwarded-For line joined with ", " (only for trusted peers: it allocates). */
function allXff(req: HttpRequest): string {
  let out = '';
  req.forEach((k, val) => {
    if (k === 'x-forwarded-for') out = out === '' ? val : `${out}, ${val}`;
  });
  return out;
}

/** Transfer-Encoding value is exactly `chunked` (case-insensitive, surrounding blanks allowed). */
function isChunked(val: string): boolean {
  let a = 0;
  let b = val.length;
  while (a < b && (val.charCodeAt(a) === 32 || val.charCodeAt(a) === 9)) a++;
  while (b > a && (val.charCodeAt(b - 1) === 32 || val.charCodeAt(b - 1) === 9)) b--;
  if (b - a !== 7) return false;
  const CHUNKED = 'chunked';
  for (let i = 0; i < 7; i++) {
    let c = val.charCodeAt(a + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== CHUNKED.charCodeAt(i)) return false;
  }
  return true;
}

const challengeCache = new WeakMap<readonly string[], readonly string[]>();
/** WWW-Authenticate values → flat header pairs; cached per (frozen, reused) list so a 401 allocates nothing. */
function challengeHeaders(values: readonly string[]): readonly string[] {
  let h = challengeCache.get(values);
  if (h === undefined) {
    const out: string[] = [];
    for (const v of values) out.push('www-authenticate', v);
    h = Object.freeze(out);
    challengeCache.set(values, h);
  }
  return h;
}
