// The compiled form of a Plan that the pipeline runs on: everything a request
// needs is decided here at load, as plain objects and arrays indexed by route.
import type { Plan } from '../config/load.js';
import type {
  AuthResult, BodyEndpoint, ExternalAuthorizer, RequestView, RoutePolicy, RouteRateLimit,
} from '../contracts.js';
import type { HeaderPolicy } from '../proxy/headers.js';
import type { OwnCookieNames } from '../lib/own-cookies.js';
import type { UpstreamGroup } from '../proxy/upstreams.js';
import type { ClientIpResolver } from '../policy/client-ip.js';
import type { CorsPolicy } from '../policy/cors.js';
import type { AssertionSigner } from '../proxy/assertion/index.js';
import type { Tracing } from '../trace/index.js';
import type { WebSocketRoute } from '../websocket/route.js';

export interface AuthChainFace {
  run(view: RequestView): number | Promise<AuthResult>;
  challenges(view: RequestView, reason: number): readonly string[];
  /** POST endpoints answered from the body (OIDC back-channel logout), by path; null: none. */
  readonly endpoints: ReadonlyMap<string, BodyEndpoint> | null;
}

export interface CompiledRoute {
  readonly index: number;
  readonly name: string;
  /** Static answer (respond routes), headers flat. */
  readonly respond: { readonly status: number; readonly headers: readonly string[]; readonly body: string } | null;
  readonly chain: AuthChainFace | null;
  readonly policy: RoutePolicy | null;
  readonly rateLimit: RouteRateLimit | null;
  readonly external: ExternalAuthorizer | null;
  /** Upstream index when the route has no route_by (-1 otherwise). */
  readonly upstream: number;
  /** path_prefix to strip before forwarding ('' = none). */
  readonly stripPrefix: string;
  /** Accepts request bodies with Transfer-Encoding: chunked (routes[].chunked_uploads). */
  readonly chunkedUploads: boolean;
  /** routes[].cors, or null. */
  readonly cors: CorsPolicy | null;
  readonly headers: HeaderPolicy;
  /**
   * The gateway's own cookies (OIDC session, chunks, login state) to remove
   * from the Cookie header sent upstream (stripOwnCookies); null when the
   * config has no OIDC authenticator.
   */
  readonly ownCookies: OwnCookieNames | null;
  /** request_timeout for this route (ms). */
  readonly timeout: number;
  /** routes[].identity_assertion: authenticated requests carry the signed assertion upstream. */
  readonly identityAssertion: boolean;
  /** routes[].websocket, or null (upgrades refused: 426 websocket_not_allowed). */
  readonly websocket: WebSocketRoute | null;
}


/** Where an authenticator found a credential that must not go upstream ('' = not there). */
export interface ConsumedCredential {
  readonly header: string;
  readonly query: string;
}

export interface Runtime {
  readonly plan: Plan;
  readonly routes: readonly CompiledRoute[];
  readonly routeNames: readonly string[];
  readonly match: (method: string, host: string, path: string, header: (n: string) => string) => number;
  /** For a miss only: methods that would have matched, as an Allow value ('' = 404). */
  readonly allowedMethods: (host: string, path: string, header: (n: string) => string) => string;
  readonly normalize: (raw: string) => string | null;
  readonly clientIp: ClientIpResolver;
  readonly upstreams: readonly UpstreamGroup[];
  readonly maxBody: number;
  readonly idleTimeout: number;
  /** Promises to await before the runtime serves (initial JWKS fetches…). */
  readonly ready: Promise<void>;
  /** By authenticator name: the credential it consumed, removed before proxying. */
  readonly credentials: ReadonlyMap<string, ConsumedCredential>;
  /** Headers refused when repeated (name → slot), see inspectRequestHeaders. */
  readonly singletons: ReadonlyMap<string, number>;
  /** identity_assertion: the signer (and the JWKS it publishes), or null. */
  readonly assertion: AssertionSigner | null;
  /** tracing: sampling and spans, or null when the config has no tracing section. */
  readonly tracing: Tracing | null;
  /** Some route has cors: OPTIONS requests are checked for a preflight. */
  readonly hasCors: boolean;
  /** Named readiness checks (key sets loaded, pool started). */
  readonly readiness: () => Record<string, boolean>;
  /** Extra Prometheus text from stages (rate limits, caches, pool). */
  readonly collectors: readonly (() => string)[];
  close(): Promise<void>;
}

/** Per-listener facts the pipeline needs (scheme for X-Forwarded-Proto, PROXY protocol). */
export interface ListenerInfo {
  readonly proto: 'http' | 'https';
  readonly proxyProtocol: boolean;
  /** tls.client_cert of a listener with tls.client_ca; absent = no client certificates read. */
  readonly clientCert?: 'required' | 'optional';
}
