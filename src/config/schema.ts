// The configuration contract (docs/configuration.md is generated from it) as one zod schema.
// It is the single source of truth: validation, the TypeScript types of the
// parsed config and native-config/portcullis.schema.json all come from here.
// Field names are what users write: extend, never rename.
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';
import { isReservedUpstreamHeader, RESERVED_HELP } from './reserved-headers.js';

/** Levenshtein distance, for "did you mean" hints on unknown keys. */
function distance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

export function didYouMean(word: string, candidates: readonly string[]): string {
  let best = '';
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) { bestD = d; best = c; }
  }
  return best && bestD <= Math.max(2, Math.floor(word.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

/** A strict object: unknown keys are errors that name the closest known field. */
function obj<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code !== 'unrecognized_keys') return undefined;
      return iss.keys
        .map((k) => `unknown field "${k}"${didYouMean(k, known)}; known fields: ${known.join(', ')}`)
        .join('; ');
    },
  });
}

const duration = (what = 'a duration') =>
  z
    .union([z.string(), z.number()])
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (Number.isNaN(ms)) {
        ctx.addIssue({ code: 'custom', message: `"${v}" is not ${what}; write e.g. 250ms, 1s, 5m, 1h or an integer of milliseconds` });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ description: 'Duration: 250ms, 1s, 5m, 1h, or integer milliseconds' });

/**
 * A duration uWS applies as a socket timer (server.limits.header_timeout,
 * keepalive_timeout): its 4 s tick may cut up to 4 s early, so below 5 s a
 * connection could be cut at once; uSockets wraps a timer past 240 ticks.
 */
const socketTimer = (name: string) =>
  duration().refine((ms) => ms >= 5000 && ms <= 15 * 60_000, `${name} must be between 5s and 15m: uWS applies it as a socket timer on a 4 s tick (a shorter value could cut a connection at once) that cannot run longer`);

const size = () =>
  z
    .union([z.string(), z.number()])
    .transform((v, ctx) => {
      const n = parseSize(v);
      if (Number.isNaN(n)) {
        ctx.addIssue({ code: 'custom', message: `"${v}" is not a size; write e.g. 512B, 16KiB, 1MiB or an integer of bytes` });
        return z.NEVER;
      }
      return n;
    })
    .meta({ description: 'Size: 512B, 16KiB, 1MiB, or integer bytes' });

const nonEmpty = z.string().min(1, 'must not be empty');
const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/i, 'must be an http:// or https:// URL');
const port = z.number().int().min(0).max(65535);

/** `NAME`, `NAME_file` and `NAME_env`: a secret inline, from a file, or from the environment. */
function secret<K extends string>(name: K) {
  return {
    [name]: z.string().optional(),
    [`${name}_file`]: z.string().optional(),
    [`${name}_env`]: z.string().optional(),
  } as { [P in K | `${K}_file` | `${K}_env`]: z.ZodOptional<z.ZodString> };
}

const tlsSchema = obj({
  cert: nonEmpty.meta({ description: 'PEM certificate chain file (relative to the config file)' }),
  key: nonEmpty.meta({ description: 'PEM private key file' }),
  ...secret('passphrase'),
  client_ca: nonEmpty.optional()
    .meta({ description: 'PEM file of the CA certificates client certificates must chain to (mutual TLS); a certificate from another CA fails the handshake' }),
  sni: z.array(obj({
    server_name: z.string().regex(/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i, 'must be a host name (api.example.com) or a wildcard of one label (*.example.org)'),
    cert: nonEmpty.meta({ description: 'PEM certificate chain for this name' }),
    key: nonEmpty.meta({ description: 'PEM private key' }),
    ...secret('passphrase'),
  })).default([])
    .meta({ description: 'more certificates chosen by the TLS server name (exact or *. wildcard); unknown names get cert/key; reloaded on SIGHUP without dropping connections' }),
  client_cert: z.enum(['required', 'optional']).optional()
    .meta({ description: "with client_ca: 'required' (default) answers 401 client_cert_required to every request without a certificate, before routing; 'optional' lets each route decide (type: mtls authenticators)" }),
});

const listenSchema = obj({
  host: z.string().default('0.0.0.0'),
  port,
  tls: tlsSchema.optional(),
  proxy_protocol: z
    .boolean()
    .default(false)
    .meta({ description: 'Read the client address from a PROXY protocol v2 header (from a trusted load balancer)' }),
});

const serverSchema = obj({
  listen: z.array(listenSchema).min(1, 'at least one listener is needed').default([{ host: '0.0.0.0', port: 8080, proxy_protocol: false }]),
  threads: z.union([z.number().int().min(1).max(256), z.literal('auto')]).default(1),
  trusted_proxies: z.array(z.string()).default([]),
  limits: obj({
    max_body: size().prefault('1MiB'),
    max_header_bytes: size()
      .refine((n) => n >= 1024 && n <= 16 * 1024, 'must be between 1KiB and 16KiB: uWebSockets.js caps a request head near 16 KiB whatever is asked')
      .prefault('16KiB'),
    request_timeout: duration().prefault('30s'),
    idle_timeout: duration().prefault('10s'),
    max_token_bytes: size().prefault('8KiB'),
    // uWS's own connection timers (src/server/socket-timers.ts).
    header_timeout: socketTimer('header_timeout').prefault('10s')
      .meta({ description: 'a connection must complete its request head within this (slowloris); also bounds the wait for the first request on a new connection' }),
    keepalive_timeout: socketTimer('keepalive_timeout').prefault('60s')
      .meta({ description: 'an idle keep-alive connection (its last response sent, no new request) is closed after this; a later request head on it must be complete within it too' }),
  }).prefault({}),
  shutdown_timeout: duration().prefault('10s'),
  rate_limit_capacity: z.number().int().min(1024).max(1 << 26).default(1 << 18)
    .meta({ description: 'keys the rate-limit table holds (about 80 bytes each); new keys beyond it share an overflow bucket per limit' }),
});

const adminSchema = obj({
  listen: obj({ host: z.string().default('127.0.0.1'), port }).prefault({ port: 9901 }),
  ...secret('token'),
});

const accessLogSchema = obj({
  path: z.string().optional().meta({ description: 'file to append JSON lines to (relative to the config file); stdout when absent' }),
  sample: z.number().min(0).max(1).default(1).meta({ description: 'fraction of requests logged' }),
  enabled: z.boolean().default(true),
});

/** An HTTP header name (RFC 9110 token): what the gateway writes upstream as it is. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_NAME_MSG = "not a valid header name: use letters, digits and !#$%&'*+-.^_`|~ (no spaces or colons)";
const headerName = z.string().regex(HEADER_NAME, HEADER_NAME_MSG);
/** A header value the gateway writes as bytes: no CR, LF, NUL or other controls, nothing above U+00FF. */
const headerValue = z.string().refine((v) => !/[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/.test(v),
  'a header value cannot contain CR, LF, NUL or other control characters, or characters above U+00FF');

/**
 * `allowed_upstream_headers` (Envoy ext_authz's name): the headers a called
 * service may set on the upstream request. Every one is removed from the
 * client's request on each route using that service, so a client can never
 * forge one; an answer header not listed is not forwarded. Absent = none.
 */
const allowedUpstreamHeaders = z
  .array(headerName)
  .superRefine((names, ctx) => {
    names.forEach((n, i) => {
      if (isReservedUpstreamHeader(n.toLowerCase())) {
        ctx.addIssue({ code: 'custom', path: [i], message: `"${n}" is a hop-by-hop header or one the gateway sets itself (${RESERVED_HELP}); no service may set it: remove it` });
      }
    });
  })
  .optional()
  .meta({ description: 'headers this service may add to the upstream request; each is removed from client requests on the routes using it; absent = none forwarded' });

const upstreamSchema = obj({
  targets: z.array(httpUrl).min(1, 'at least one target URL is needed'),
  connect_timeout: duration().prefault('2s'),
  timeout: duration().prefault('10s'),
  connections: z.number().int().min(1).max(65536).default(128),
  unhealthy_for: duration().prefault('5s'),
  client: z.enum(['native', 'undici']).default('native')
    .meta({ description: "HTTP/1.1 client for this upstream: 'native' (Portcullis' own strict keep-alive client, the fast path) or 'undici'" }),
  tls: obj({
    ca: nonEmpty.optional().meta({ description: "PEM file of the CAs the upstream's certificate must chain to; set = only these are trusted (not the system store)" }),
    cert: nonEmpty.optional().meta({ description: 'PEM client certificate the gateway presents (upstream mTLS); needs key' }),
    key: nonEmpty.optional().meta({ description: 'PEM private key of cert' }),
    ...secret('passphrase'),
    server_name: nonEmpty.optional().meta({ description: "SNI sent and the name verified in the upstream's certificate; default the target's host name" }),
  }).optional().meta({ description: 'TLS to https:// targets; a failed handshake answers 502 upstream_tls' }),
});

const fromSchema = z.union([
  obj({ header: nonEmpty, scheme: z.string().optional() }),
  obj({ cookie: nonEmpty }),
  obj({ query: nonEmpty }),
]);

const ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256', 'HS384', 'HS512',
] as const;

const jwtSchema = obj({
  type: z.literal('jwt'),
  from: fromSchema.optional(),
  issuer: z.union([z.string(), z.array(z.string())]).optional(),
  audience: z.union([z.string(), z.array(z.string())]).optional(),
  algorithms: z
    .array(z.string())
    .min(1, 'list the algorithms you accept, e.g. [RS256]')
    .superRefine((algs, ctx) => {
      algs.forEach((a, i) => {
        if (!(ALGORITHMS as readonly string[]).includes(a)) {
          ctx.addIssue({
            code: 'custom',
            path: [i],
            message: a.toLowerCase() === 'none'
              ? '"none" is never accepted: unsigned tokens prove nothing'
              : `unknown algorithm "${a}"${didYouMean(a, ALGORITHMS)}; one of ${ALGORITHMS.join(', ')}`,
          });
        }
      });
    }),
  jwks_uri: httpUrl.optional(),
  jwks_file: z.string().optional(),
  keys: z.array(z.union([z.string(), z.record(z.string(), z.unknown())])).optional(),
  ...secret('secret'),
  jwks_refresh: duration().prefault('10m'),
  jwks_timeout: duration().prefault('5s'),
  leeway: duration().prefault('30s'),
  required_claims: z.array(z.string()).default([]),
  forward_claims: z.record(z.string(), headerName).default({}),
  consumer_claim: z.string().default('sub'),
  max_token_bytes: size().optional(),
  cache: obj({ max_entries: z.number().int().min(0).default(100_000) }).prefault({}),
});

const basicSchema = obj({
  type: z.literal('basic'),
  realm: z.string().default('portcullis'),
  users_file: nonEmpty,
  cache: obj({ max_entries: z.number().int().min(0).default(10_000), ttl: duration().prefault('5m') }).prefault({}),
});

const apiKeySchema = obj({
  type: z.literal('api_key'),
  from: z.union([obj({ header: nonEmpty }), obj({ query: nonEmpty })]).default({ header: 'x-api-key' }),
  keys_file: nonEmpty,
});

const oidcSchema = obj({
  type: z.literal('oidc'),
  issuer: httpUrl,
  client_id: nonEmpty,
  ...secret('client_secret'),
  client_auth: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
  scopes: z.array(z.string()).default(['openid']),
  callback_path: z.string().startsWith('/').default('/oauth2/callback'),
  logout_path: z.string().startsWith('/').default('/oauth2/logout'),
  backchannel_logout_path: z.string().startsWith('/').optional().meta({
    description: 'OIDC Back-Channel Logout 1.0: where the provider POSTs logout tokens; register PUBLIC_URL + this path as the client\'s backchannel_logout_uri',
  }),
  post_logout_redirect: z.string().default('/'),
  public_url: httpUrl.optional().meta({ description: 'external base URL of the gateway, used for redirect_uri' }),
  allowed_hosts: z.array(z.string()).optional().meta({
    description: 'without public_url: the Host header values (host, host:port or *.suffix) a redirect_uri may be built from; any other Host is refused',
  }),
  session: obj({
    cookie: z.string().default('__Host-portcullis'),
    ...secret('secret'),
    ttl: duration().prefault('8h'),
    revocation_file: z.string().optional().meta({
      description: 'where logged-out sessions are kept across restarts (default: $STATE_DIRECTORY/oidc-NAME.revocations under systemd, else oidc-NAME.revocations beside the config file)',
    }),
  }).prefault({}),
  revocation: z.enum(['local', 'cluster']).default('local').meta({
    description: 'local: a logout ends the session in every thread of this process, across restarts; cluster: also on every gateway sharing cluster.redis',
  }),
  forward_claims: z.record(z.string(), headerName).default({}),
  consumer_claim: z.string().default('sub'),
  timeout: duration().prefault('5s'),
  failure_mode: z.enum(['deny', 'allow']).default('deny'),
});

const introspectionSchema = obj({
  type: z.literal('introspection'),
  endpoint: httpUrl,
  client_id: nonEmpty,
  ...secret('client_secret'),
  from: fromSchema.optional(),
  cache_ttl: duration().prefault('60s'),
  negative_cache_ttl: duration().prefault('5s'),
  timeout: duration().prefault('2s'),
  failure_mode: z.enum(['deny', 'allow']).default('deny'),
  forward_claims: z.record(z.string(), headerName).default({}),
});

const externalAuthnSchema = obj({
  type: z.literal('external'),
  url: httpUrl,
  timeout: duration().prefault('200ms'),
  failure_mode: z.enum(['deny', 'allow']).default('deny'),
  send: obj({
    headers: z.array(z.string()).default(['authorization']),
    request: z.boolean().default(true).meta({ description: 'send the request line: JSON `method`, `path`, `query`, `host` and x-forwarded-method / -uri / -host' }),
    ip: z.boolean().default(true).meta({ description: 'send the client address (JSON `ip`, X-Forwarded-For)' }),
  }).prefault({}),
  cache: obj({
    ttl: duration().prefault('0ms'),
    unkeyed: z.array(z.string()).default([])
      .meta({ description: 'inputs the service is sent but never decides on, left out of the answer cache key on purpose (e.g. [path, query]); the key is every input sent (method, path, query, host, ip, header:NAME for each send.headers) minus these' }),
  }).prefault({}),
  forward_claims: z.record(z.string(), headerName).default({}),
  allowed_upstream_headers: allowedUpstreamHeaders,
});

const FINGERPRINT = /^(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){31})$/;
const mtlsSchema = obj({
  type: z.literal('mtls'),
  consumer_from: z.enum(['san_uri', 'san_dns', 'subject_cn', 'fingerprint']).default('san_uri')
    .meta({ description: 'which name of the verified client certificate is the consumer: san_uri (e.g. a SPIFFE ID), san_dns, subject_cn or fingerprint (SHA-256)' }),
  allow: obj({
    san_uri_prefix: z.array(nonEmpty).optional().meta({ description: 'a SAN URI must start with one of these (e.g. spiffe://example.org/)' }),
    san_dns: z.array(nonEmpty).optional().meta({ description: 'a SAN DNS name must be one of these; "*.example.org" matches exactly one more label' }),
    subject_cn: z.array(nonEmpty).optional().meta({ description: 'the subject CN must be one of these' }),
  }).optional().meta({ description: 'every listed kind must match; absent = any certificate the listener verified' }),
  deny_fingerprints: z.array(z.string().regex(FINGERPRINT, 'must be a SHA-256 fingerprint: 64 hex digits, colons allowed (`openssl x509 -in CERT -noout -fingerprint -sha256`)'))
    .default([]).meta({ description: 'revoked certificates (SHA-256 of the DER); reloaded with the config' }),
  forward: obj({ header: headerName.default('x-forwarded-client-cert') }).optional()
    .meta({ description: "send the certificate's details upstream in Envoy's XFCC format (Hash=…;Subject=\"…\";URI=…;DNS=…); a client's copy of the header is always removed" }),
  forward_claims: z.record(z.string(), headerName).default({}),
  cache: obj({ max_entries: z.number().int().min(0).default(10_000) }).prefault({})
    .meta({ description: 'parsed certificates kept (a kept-alive connection presents the same one on every request)' }),
});

const authenticatorSchema = z.discriminatedUnion('type', [
  jwtSchema, basicSchema, apiKeySchema, oidcSchema, introspectionSchema, externalAuthnSchema, mtlsSchema,
]);

const authorizerSchema = obj({
  url: httpUrl,
  timeout: duration().prefault('150ms'),
  failure_mode: z.enum(['deny', 'allow']).default('deny'),
  send: obj({
    headers: z.array(z.string()).default([]),
    identity: z.boolean().default(true),
    ip: z.boolean().default(true).meta({ description: 'send the client address (JSON `ip`, X-Forwarded-For)' }),
  }).prefault({}),
  cache: obj({
    ttl: duration().prefault('0ms'),
    key: z.array(z.string()).optional()
      .meta({ description: 'decision cache key; default: every input the service is sent (method, path, query, host, ip, identity, header:NAME for each send.headers) minus cache.unkeyed; the route is always part of it' }),
    unkeyed: z.array(z.string()).default([])
      .meta({ description: 'inputs the service is sent but never decides on, left out of the cache key on purpose (e.g. [query, header:x-request-id])' }),
    max_entries: z.number().int().min(0).default(100_000),
  }).prefault({}),
  allowed_upstream_headers: allowedUpstreamHeaders,
});

const RATE_KEY_RE = /^(global|ip|consumer|claim:.+|header:.+)$/;
const rateLimitSchema = obj({
  key: z.string().regex(RATE_KEY_RE, 'key must be global, ip, consumer, claim:NAME or header:NAME'),
  rate: z.number().positive(),
  per: duration().prefault('1s'),
  burst: z.number().positive().optional(),
  scope: z.enum(['local', 'cluster']).default('local'),
});

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:26379');
const clusterSchema = obj({
  redis: z.union([
    z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL, { sentinels, name } or { cluster: [host:port, ...] }'),
    obj({ sentinels: z.array(hostPort).min(1), name: nonEmpty, db: z.number().int().min(0).optional(), ...secret('password') }),
    obj({ cluster: z.array(hostPort).min(1), ...secret('password') }),
  ]),
  sync_interval: duration().prefault('100ms'),
  failure_mode: z.enum(['local']).default('local'),
  key_prefix: z.string().default('portcullis:rl:'),
  revocation_prefix: z.string().default('portcullis:rv:').meta({ description: 'prefix of the Redis keys and channel of OIDC session revocations (revocation: cluster)' }),
});

const matchSchema = obj({
  hosts: z.array(z.string()).optional(),
  path: z.string().startsWith('/').optional(),
  path_prefix: z.string().startsWith('/').optional(),
  path_regex: z.string().optional(),
  methods: z.array(z.string()).optional(),
  headers: z.record(z.string(), z.string()).optional(),
});

const authorizeSchema = obj({
  scopes: z.array(z.string()).optional(),
  roles: z.array(z.string()).optional(),
  roles_claim: z.string().optional().meta({ description: 'claim holding roles; dotted path allowed (realm_access.roles); default "roles"' }),
  claims: z.record(z.string(), z.union([z.array(z.union([z.string(), z.number(), z.boolean()])), z.string()])).optional(),
  ip_allow: z.array(z.string()).optional(),
  ip_deny: z.array(z.string()).optional(),
  external: z.string().optional(),
});

const routeBySchema = z.union([
  obj({ claim: nonEmpty, map: z.record(z.string(), z.string()), otherwise: z.string().default('deny') }),
  obj({ header: nonEmpty, map: z.record(z.string(), z.string()), otherwise: z.string().default('deny') }),
]);

const respondSchema = obj({
  status: z.number().int().min(100).max(599),
  body: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
});

const corsSchema = obj({
  allow_origins: z.array(nonEmpty).min(1),
  allow_methods: z.array(nonEmpty).optional(),
  allow_headers: z.array(headerName).optional(),
  expose_headers: z.array(headerName).optional(),
  allow_credentials: z.boolean().default(false),
  max_age: duration().optional(),
});

const websocketSchema = obj({
  allow_origins: z.array(nonEmpty).min(1).optional(),
  max_message: size().prefault('64KiB'),
  idle_timeout: duration().prefault('5m'),
  close_on_expiry: z.boolean().default(true),
});

const routeSchema = obj({
  name: nonEmpty,
  match: matchSchema,
  authenticate: z.array(z.string()).optional(),
  anonymous: z.boolean().optional(),
  authorize: authorizeSchema.optional(),
  rate_limit: z.array(z.string()).optional(),
  route_by: routeBySchema.optional(),
  upstream: z.string().optional(),
  strip_prefix: z.boolean().default(false),
  // Request bodies with Transfer-Encoding: chunked are refused (411) unless a
  // route opts in: uWS's chunk decoder reads some framings unlike RFC 9112.
  chunked_uploads: z.boolean().default(false),
  request_headers: obj({
    // Keys checked here rather than by the record's key schema, whose error names no field.
    add: z.record(z.string(), headerValue).superRefine((o, ctx) => {
      for (const k of Object.keys(o)) if (!HEADER_NAME.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: HEADER_NAME_MSG });
    }).optional(),
    remove: z.array(headerName).optional(),
    // Forward the client's method/URL/client-address override headers
    // (X-HTTP-Method-Override, X-Original-URL, True-Client-IP…), dropped by default.
    pass_overrides: z.boolean().optional(),
  }).optional(),
  respond: respondSchema.optional(),
  timeout: duration().optional(),
  cors: corsSchema.optional(),
  websocket: websocketSchema.optional(),
  identity_assertion: z.boolean().default(false)
    .meta({ description: 'send the signed identity assertion (identity_assertion at the top level) to the upstream with each authenticated request' }),
});

const identityAssertionSchema = obj({
  header: headerName.default('x-portcullis-assertion')
    .meta({ description: "upstream header carrying the signed assertion; a client's copy is always removed" }),
  issuer: nonEmpty.meta({ description: 'iss of every assertion (e.g. https://gateway.example.com)' }),
  algorithm: z.enum(['ES256', 'EdDSA']).default('ES256'),
  keys_file: nonEmpty.meta({ description: 'private JWKS (JSON {"keys":[…]}), each key with a kid; the first signs, all are published (rotation)' }),
  ttl: duration().prefault('60s').meta({ description: "lifetime of an assertion (exp - iat), never past the identity's own expiry; a signed one is reused until half of it has passed" }),
  expose_jwks: z.boolean().default(false)
    .meta({ description: 'also answer GET /.well-known/portcullis/jwks.json on the public listeners (always on the admin listener)' }),
});

const workersSchema = obj({
  threads: z.union([z.number().int().min(1).max(64), z.literal('auto')]).default('auto'),
  max_queue: z.number().int().min(1).default(1024),
});

const tracingSchema = obj({
  otlp: httpUrl.default('http://127.0.0.1:4318/v1/traces')
    .meta({ description: 'OTLP/HTTP traces endpoint (JSON encoding); the default is a local OpenTelemetry Collector, as in the OpenTelemetry SDKs' }),
  sample: z.number().min(0).max(1).default(0.01)
    .meta({ description: 'head sampling: fraction of requests traced when the client sent no sampled traceparent' }),
  service_name: nonEmpty.default('portcullis'),
  trust_parent: z.boolean().default(true)
    .meta({ description: "honour a client's traceparent (its trace id, parent and sampled flag); false: start a new trace and drop the client's traceparent/tracestate" }),
});

export const configSchema = obj({
  server: serverSchema.prefault({}),
  admin: adminSchema.optional(),
  access_log: accessLogSchema.prefault({}),
  upstreams: z.record(z.string(), upstreamSchema).default({}),
  authenticators: z.record(z.string(), authenticatorSchema).default({}),
  authorizers: z.record(z.string(), authorizerSchema).default({}),
  rate_limits: z.record(z.string(), rateLimitSchema).default({}),
  cluster: clusterSchema.optional(),
  workers: workersSchema.prefault({}),
  identity_assertion: identityAssertionSchema.optional(),
  tracing: tracingSchema.optional(),
  routes: z.array(routeSchema).min(1, 'at least one route is needed'),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type ServerConfig = Config['server'];
export type ListenConfig = ServerConfig['listen'][number];
export type UpstreamConfig = z.output<typeof upstreamSchema>;
export type AuthenticatorConfig = z.output<typeof authenticatorSchema>;
export type JwtConfig = z.output<typeof jwtSchema>;
export type BasicConfig = z.output<typeof basicSchema>;
export type ApiKeyConfig = z.output<typeof apiKeySchema>;
export type OidcConfig = z.output<typeof oidcSchema>;
export type IntrospectionConfig = z.output<typeof introspectionSchema>;
export type ExternalAuthnConfig = z.output<typeof externalAuthnSchema>;
export type MtlsConfig = z.output<typeof mtlsSchema>;
export type AuthorizerConfig = z.output<typeof authorizerSchema>;
export type RateLimitConfig = z.output<typeof rateLimitSchema>;
export type ClusterConfig = z.output<typeof clusterSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
export type TracingConfig = z.output<typeof tracingSchema>;
export type MatchConfig = z.output<typeof matchSchema>;
export type AuthorizeConfig = z.output<typeof authorizeSchema>;
export type RouteByConfig = z.output<typeof routeBySchema>;
export type TokenSource = z.output<typeof fromSchema>;
export { ALGORITHMS };
export type CorsConfig = z.output<typeof corsSchema>;
export type WebSocketConfig = z.output<typeof websocketSchema>;
export type IdentityAssertionConfig = z.output<typeof identityAssertionSchema>;
