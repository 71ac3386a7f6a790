// The faces the pipeline (src/server/pipeline.ts) sees of each stage. Every
// stage is compiled once from config into an object implementing one of these;
// the pipeline knows these interfaces, never a stage's internals.
//
// Hot-path rule: the synchronous methods here run on the event-loop thread for
// every request. They must not allocate in our code, throw, build closures or
// return promises, except where an interface says a Promise may be returned
// (the slow path, which is then the stage's own business to cache).

/**
 * The request as the stages see it during the synchronous part of the
 * pipeline. One instance per thread is reused for every request while it is
 * synchronous (`detached === false`): do not keep a reference to it. When the
 * pipeline must wait (slow path, proxy), it clones the view with `detach()`;
 * a detached view owns copies of everything and may be kept.
 */
export interface RequestView {
  /** Upper-case method as sent (GET, POST…). */
  readonly method: string;
  /** Normalised path (no query); the one used for routing, policy and forwarding. */
  readonly path: string;
  /** Raw query string without the leading "?" ('' when none). */
  readonly query: string;
  /** Host header, lower-cased, port removed ('' when absent). */
  readonly host: string;
  /** Client address as text (IPv4 dotted or IPv6), after trusted-proxy resolution. */
  readonly clientIp: string;
  /** Client address as 16 bytes (IPv4 as ::ffff:a.b.c.d). Reused buffer: copy if kept. */
  readonly clientIp16: Uint8Array;
  /** True when the client address is IPv4 (or IPv4-mapped). */
  readonly clientIsV4: boolean;
  /** Scheme of the listener the request arrived on (absent in test doubles: treat as unknown). */
  readonly proto?: 'http' | 'https';
  /** The socket peer is in server.trusted_proxies: its X-Forwarded-* may be believed. */
  readonly peerTrusted?: boolean;
  /** Index of the matched route in the plan. */
  readonly routeIndex: number;
  /**
   * PEM of the client certificate the handshake verified against the
   * listener's tls.client_ca ('' or absent: none). The same string object for
   * every read of one request: authenticators may key caches on it.
   */
  readonly clientCert?: string;
  /** The request's trace when it is sampled (tracing), else null (absent in test doubles). */
  readonly trace?: RequestTrace | null;
  /** Request header value by lower-case name, '' when absent (first occurrence). */
  header(lowerName: string): string;
  /** Value of one query parameter (raw, percent-decoded), undefined when absent. */
  queryParam(name: string): string | undefined;
  /** Value of one cookie, undefined when absent. */
  cookie(name: string): string | undefined;
  /** Identity set by the authentication stage (null before, or when anonymous). */
  identity: Identity | null;
  /** Reason id (src/reasons.ts) of the last rejection decided by a stage. */
  reason: number;
  /** Seconds until the rejecting rate limit has a token (set with a 429). */
  retryAfter: number;
  /** Name of the limit that rejected (set with a 429). */
  limitName: string;
}

/** A sampled request's trace (src/trace/): the calls it makes become its child spans. */
export interface RequestTrace {
  readonly traceId: string;
  /** Starts a client span for one outgoing call to `url`; send `traceparent` with the call. */
  call(name: string, url: string): TraceCall;
}

export interface TraceCall {
  /** The W3C traceparent the called service is sent (this call's span as parent). */
  readonly traceparent: string;
  /** Ends the span: the answer's status (0 = none) and whether the call failed. */
  end(status: number, error: boolean): void;
}

/** Who made the request, as an authenticator established it. Immutable once built. */
export interface Identity {
  /** Authenticator name (config key) that accepted the request. */
  readonly authenticator: string;
  /** Stable consumer name: JWT `sub` (or consumer_claim), basic user, API-key consumer. */
  readonly consumer: string;
  /** Claims (JWT payload, introspection answer, key metadata…). */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Scopes from `scope` (space-separated) and `scp` (array), computed once. */
  readonly scopes: ReadonlySet<string>;
  /** Upstream headers from `forward_claims`, flat: [name, value, name, value…]. */
  readonly forwardHeaders: readonly string[];
  /** Epoch ms after which this identity must not be used (Infinity when unbounded). */
  readonly expiresAt: number;
}

export const AUTH_ABSENT = 0; // no credential of this authenticator's kind in the request
export const AUTH_OK = 1; // accepted: view.identity is set
export const AUTH_REJECT = 2; // credential present but invalid: view.reason is set
export const AUTH_RESPOND = 3; // the authenticator answers itself (OIDC redirect/callback)

/** An answer a stage gives the client directly (redirects, callbacks, external authz). */
export interface DirectResponse {
  readonly status: number;
  /** Flat [name, value, name, value…]; Set-Cookie may repeat. */
  readonly headers: readonly string[];
  readonly body: string;
}

/** The result of an authenticator that had to wait (slow path). */
export interface AuthResult {
  readonly outcome: number; // AUTH_*
  readonly identity: Identity | null;
  readonly reason: number;
  readonly response?: DirectResponse;
}

export interface Authenticator {
  readonly name: string;
  /** `WWW-Authenticate` value offered in a 401 when this authenticator found nothing. */
  readonly challenge: string;
  /**
   * Decide synchronously when possible (cache hit, Basic/API key, garbage
   * token → AUTH_*). Otherwise read everything needed from `view` *now* and
   * return a Promise: `view` may not be touched after returning.
   */
  authenticate(view: RequestView): number | Promise<AuthResult>;
  /** `WWW-Authenticate` value for a rejection with this reason (RFC 6750 error=…). */
  challengeFor(reason: number): string;
  /** A path this authenticator answers itself from a POST body (OIDC back-channel logout). */
  readonly bodyEndpoint?: BodyEndpoint;
  /** Stop timers and sockets (reload, shutdown). */
  close?(): void;
}

/**
 * A POST the gateway answers itself after reading its body: the pipeline
 * reads at most `maxBytes` (more is 413) and hands the body over; the
 * request never reaches authentication or the upstream.
 */
export interface BodyEndpoint {
  readonly path: string;
  readonly maxBytes: number;
  /** Reason id recorded for the answer (metrics, access log). */
  readonly reason: number;
  handle(body: Buffer, contentType: string): Promise<DirectResponse>;
}

/** Per-route authorization rules compiled into checks. 0 = pass, else a reason id (403). */
export interface RoutePolicy {
  /** Network rules (ip_allow / ip_deny). Runs before authentication. */
  checkNetwork(view: RequestView): number;
  /** Identity rules (scopes, roles, claims). Runs after authentication. */
  checkIdentity(view: RequestView): number;
  /** Upstream index chosen by route_by (or the route's upstream); -1 = denied (route_denied). */
  chooseUpstream(view: RequestView): number;
}

/** External authorization decision. */
export const AUTHZ_FORWARD = 0;
export const AUTHZ_RESPOND = 1;
export const AUTHZ_DROP = 2;
export interface AuthzDecision {
  readonly action: number; // AUTHZ_*
  /** For FORWARD: extra upstream headers, flat [name, value…]. */
  readonly headers: readonly string[];
  /** For FORWARD: upstream index picked by the service, or -1. */
  readonly upstream: number;
  /** For RESPOND: what to answer. */
  readonly response: DirectResponse | null;
  readonly reason: number;
}
export interface ExternalAuthorizer {
  readonly name: string;
  /** Cached decision when there is one; otherwise a Promise (read view synchronously first). */
  authorize(view: RequestView): AuthzDecision | Promise<AuthzDecision>;
  close?(): void;
}

/** A route's rate limits. */
export interface RouteRateLimit {
  /** Pre-authentication peek at limits keyed by global/ip/header (takes nothing). -1 = ok, else limit index (sets view.retryAfter/limitName). */
  precheck(view: RequestView): number;
  /** All limits at once, all-or-nothing: takes one token from each, or none. -1 = admitted, else limit index. */
  take(view: RequestView): number;
  /** Headers for the answer (RateLimit-Policy, RateLimit, and Retry-After on 429), flat [name, value…]. Call right after take(). */
  headers(view: RequestView, rejectedIndex: number): readonly string[];
  /**
   * A request refused by authentication still spends one token of the limits
   * that do not need an identity (global, ip, header): per-IP limits exist to
   * slow credential stuffing, which is all 401s.
   */
  chargeRefused(view: RequestView): void;
}
