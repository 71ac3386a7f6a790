// The RequestView the stages see (src/contracts.ts). While the uWS handler runs
// synchronously, one LiveView per thread is reused for every request and reads
// headers straight from uWS (no copies). When the request must wait (slow
// path, proxy), detach() copies what is needed into a DetachedView that the
// async code may keep: uWS's HttpRequest is invalid after the handler returns.
import type { Identity, RequestView } from '../contracts.js';
import type { HttpRequest } from './uws.js';
import { findCookie } from '../auth/cookie-header.js';
import type { GatewayTrace } from '../trace/index.js';

/** Shared empty header list: a view allocates none until a stage sets one. */
const NO_HEADERS: readonly string[] = Object.freeze([]);

abstract class BaseView implements RequestView {
  method = '';
  path = '';
  query = '';
  host = '';
  clientIp = '';
  clientIp16 = new Uint8Array(16);
  clientIsV4 = true;
  routeIndex = -1;
  identity: Identity | null = null;
  reason = 0;
  retryAfter = 0;
  limitName = '';
  /** x-request-id sent upstream and in the access log. */
  requestId = '';
  /** Upstream index chosen by stage 6/7 (-1 = none). */
  upstream = -1;
  /** Headers an external authorizer asked to add upstream, flat. */
  authzHeaders: readonly string[] = NO_HEADERS;
  /** Scheme of the listener the request came in on. */
  proto: 'http' | 'https' = 'http';
  /** The socket peer (or PROXY v2 source) is in trusted_proxies. */
  peerTrusted = false;
  /** The socket peer's address as text. */
  peerIp = '';
  /** CORS headers for every answer to this request (routes[].cors, allowed Origin), flat. */
  corsHeaders: readonly string[] = NO_HEADERS;
  /** RateLimit headers computed right after this request's take(), flat. */
  rateHeaders: readonly string[] = NO_HEADERS;
  /** Index (in the route's list) of the rate limit that rejected. */
  limitIndex = -1;
  /** performance.now() when the request arrived. */
  startedAt = 0;
  /** PEM of the verified client certificate ('' without one, or on a listener without tls.client_ca). */
  clientCert = '';
  /** tracing: the sampled request's trace, else null. */
  trace: GatewayTrace | null = null;
  /** The W3C trace id this request belongs to (ours when sampled, else a valid client traceparent's); '' when none. */
  traceId = '';
  abstract header(lowerName: string): string;
  abstract queryParam(name: string): string | undefined;
  cookie(name: string): string | undefined {
    const h = this.header('cookie');
    return h ? findCookie(h, name) : undefined;
  }
}

export class LiveView extends BaseView {
  req: HttpRequest | null = null;

  /** For the next request in the handler: what the previous one's stages set goes back to the defaults. */
  reset(req: HttpRequest, proto: 'http' | 'https'): void {
    this.req = req;
    this.identity = null;
    this.reason = 0;
    this.retryAfter = 0;
    this.limitName = '';
    this.routeIndex = -1;
    this.requestId = '';
    this.upstream = -1;
    this.authzHeaders = NO_HEADERS;
    this.rateHeaders = NO_HEADERS;
    this.corsHeaders = NO_HEADERS;
    this.trace = null; // tracing
    this.traceId = '';
    this.proto = proto;
  }

  header(lowerName: string): string {
    return this.req!.getHeader(lowerName);
  }

  queryParam(name: string): string | undefined {
    return this.req!.getQuery(name);
  }

  private static readonly NONE: string[] = [];
  private collecting: string[] = LiveView.NONE;
  private readonly collectOne = (k: string, v: string): void => { this.collecting.push(k, v); };

  /** Every header, flat [name, value…] in arrival order (names lower-case as uWS gives them). */
  collectHeaders(): string[] {
    const out: string[] = [];
    this.collecting = out;
    this.req!.forEach(this.collectOne);
    this.collecting = LiveView.NONE;
    return out;
  }

  /** For the auth chain: a copy to continue with after an async authenticator found nothing. */
  detachView(): DetachedView {
    return this.detach(this.collectHeaders());
  }

  /** A copy that outlives the uWS handler. */
  detach(headers: string[]): DetachedView {
    const d = new DetachedView(headers);
    d.method = this.method;
    d.path = this.path;
    d.query = this.query;
    d.host = this.host;
    d.clientIp = this.clientIp;
    d.clientIp16.set(this.clientIp16); // its own array (the base class made one): the live one is reused
    d.clientIsV4 = this.clientIsV4;
    d.routeIndex = this.routeIndex;
    d.identity = this.identity;
    d.reason = this.reason;
    d.retryAfter = this.retryAfter;
    d.limitName = this.limitName;
    d.requestId = this.requestId;
    d.upstream = this.upstream;
    d.authzHeaders = this.authzHeaders;
    d.proto = this.proto;
    d.peerTrusted = this.peerTrusted;
    d.peerIp = this.peerIp;
    d.limitIndex = this.limitIndex;
    d.rateHeaders = this.rateHeaders;
    d.corsHeaders = this.corsHeaders;
    d.startedAt = this.startedAt;
    d.clientCert = this.clientCert;
    d.trace = this.trace;
    d.traceId = this.traceId;
    return d;
  }
}

export class DetachedView extends BaseView {
  private params: URLSearchParams | null = null;
  constructor(readonly headers: string[]) {
    super();
  }

  header(lowerName: string): string {
    const h = this.headers;
    for (let i = 0; i < h.length; i += 2) if (h[i] === lowerName) return h[i + 1]!;
    return '';
  }

  queryParam(name: string): string | undefined {
    if (!this.query) return undefined;
    this.params ??= new URLSearchParams(this.query);
    return this.params.get(name) ?? undefined;
  }
}
