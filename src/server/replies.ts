// How a stage's answer is given. Inside the uWS handler: SyncReply (one per
// thread, reused), which writes a precomputed answer at once and allocates
// nothing in our code. After a wait: ExchangeReply, through the request's
// Exchange. The pipeline's stages after authentication are written once,
// against Reply, for both.
import { R, REASON_STATUS } from '../reasons.js';
import type { DirectResponse } from '../contracts.js';
import type { Exchange } from '../proxy/exchange.js';
import { writeDirect, writeRejection } from './respond.js';
import { assignRequestId } from './request-id.js';
import type { RequestParser } from './parse.js';
import type { CompiledRoute } from './runtime.js';
import type { CorsPolicy } from '../policy/cors.js';
import type { HttpRequest, HttpResponse } from './uws.js';
import type { DetachedView, LiveView } from './view.js';

/** What the pipeline reports when a request ends (metrics + access log). */
export interface ObserveSink {
  request(
    view: LiveView | DetachedView, status: number, reason: number, micros: number,
    upstream: number, bytesOut: number, bytesIn: number,
  ): void;
  upstream(index: number, micros: number, error: boolean): void;
}

export interface Reply {
  readonly view: LiveView | DetachedView;
  /** Already answered, or the client left: nothing more may be written. */
  readonly done: boolean;
  /** The gateway's refusal for `reason` (authz_dropped closes the connection instead). */
  reject(reason: number, extra: readonly string[]): void;
  respond(r: DirectResponse, reason: number): void;
  /** The Exchange to wait or proxy with. */
  exchange(): Exchange;
}

export interface SyncHost {
  readonly sink: ObserveSink;
  readonly parser: RequestParser;
  /** A new Exchange for the request in the handler (onAborted/onData registered). */
  openExchange(route: CompiledRoute | null): Exchange;
}

const EMPTY: readonly string[] = [];

export class SyncReply implements Reply {
  res: HttpResponse | null = null;
  req: HttpRequest | null = null;
  t0 = 0;
  /** The route once stage 2 found it (its request_timeout for an Exchange). */
  route: CompiledRoute | null = null;
  readonly done = false;

  constructor(readonly view: LiveView, private readonly host: SyncHost) {}

  begin(res: HttpResponse, req: HttpRequest, t0: number): void {
    this.res = res;
    this.req = req;
    this.t0 = t0;
    this.route = null;
  }

  exchange(): Exchange {
    return this.host.openExchange(this.route);
  }

  reject(reasonId: number, extra: readonly string[]): void {
    const v = this.view;
    const res = this.res!;
    if (this.host.parser.chunked && reasonId !== R.authz_dropped) return this.rejectDeferred(reasonId, extra);
    let bytes = 0;
    if (reasonId === R.authz_dropped) {
      res.close();
    } else {
      assignRequestId(v, v.peerTrusted ? this.req!.getHeader('x-request-id') : '');
      bytes = writeRejection(res, reasonId, extra, v.requestId, v.limitName, undefined, v.corsHeaders); // limitName: the 429 body names the limit
    }
    v.reason = reasonId;
    this.host.sink.request(v, REASON_STATUS[reasonId]!, reasonId, (performance.now() - this.t0) * 1000, -1, bytes, 0);
  }

  respond(r: DirectResponse, reasonId: number): void {
    const v = this.view;
    v.reason = reasonId;
    if (this.host.parser.chunked) return this.respondDeferred(r, reasonId);
    assignRequestId(v, v.peerTrusted ? this.req!.getHeader('x-request-id') : '');
    writeDirect(this.res!, r.status, r.headers, r.body, v.method === 'HEAD', false, v.corsHeaders, v.requestId);
    this.host.sink.request(v, r.status, reasonId, (performance.now() - this.t0) * 1000, -1, r.body.length, 0);
  }

  /**
   * A CORS preflight (OPTIONS + Origin + Access-Control-Request-Method) on a
   * route with `cors`, answered after its network rules and before
   * authentication: browsers send it without credentials. False when the
   * request is an ordinary OPTIONS.
   */
  preflight(cors: CorsPolicy): boolean {
    const v = this.view;
    const method = v.header('access-control-request-method');
    const origin = v.header('origin');
    if (method === '' || origin === '') return false;
    const h = cors.preflight(origin, method, v.header('access-control-request-headers'));
    if (h === null) this.reject(R.cors_denied, EMPTY);
    else if (this.host.parser.chunked) this.respondDeferred({ status: 204, headers: h, body: '' }, R.cors_preflight);
    else {
      writeDirect(this.res!, 204, h, '');
      v.reason = R.cors_preflight;
      this.host.sink.request(v, 204, R.cors_preflight, (performance.now() - this.t0) * 1000, -1, 0, 0);
    }
    return true;
  }

  /**
   * A refusal written on the next turn of the event loop, then the connection
   * closed: while the answer is pending, uWS closes the connection rather than
   * serve what it parsed after this request (see parse.ts).
   */
  rejectDeferred(reasonId: number, extra: readonly string[]): void {
    assignRequestId(this.view, this.req!.getHeader('x-request-id'));
    const ex = this.host.openExchange(null);
    ex.closeAfter = true;
    this.view.reason = reasonId;
    setImmediate(rejectLater, ex, reasonId, extra);
  }

  respondDeferred(r: DirectResponse, reasonId: number): void {
    assignRequestId(this.view, this.req!.getHeader('x-request-id'));
    const ex = this.host.openExchange(null);
    ex.closeAfter = true;
    setImmediate(respondLater, ex, r, reasonId);
  }
}

function rejectLater(ex: Exchange, reasonId: number, extra: readonly string[] = EMPTY): void {
  ex.reject(reasonId, extra);
}

/** ex.reject on the next turn (a refusal decided while the uWS handler may still be running). */
export function rejectNextTurn(ex: Exchange, reasonId: number): void {
  setImmediate(rejectLater, ex, reasonId, EMPTY);
}

function respondLater(ex: Exchange, r: DirectResponse, reasonId: number): void {
  ex.respond(r, reasonId);
}

/** The answer of a request that waited, through its Exchange. */
export class ExchangeReply implements Reply {
  constructor(readonly ex: Exchange) {}

  get view(): DetachedView {
    return this.ex.view;
  }

  get done(): boolean {
    return this.ex.done;
  }

  exchange(): Exchange {
    return this.ex;
  }

  reject(reasonId: number, extra: readonly string[]): void {
    if (reasonId === R.authz_dropped) return this.ex.drop(reasonId);
    const v = this.ex.view;
    v.reason = reasonId;
    assignRequestId(v, '');
    this.ex.reject(reasonId, extra);
  }

  respond(r: DirectResponse, reasonId: number): void {
    this.ex.view.reason = reasonId;
    this.ex.respond(r, reasonId);
  }
}
