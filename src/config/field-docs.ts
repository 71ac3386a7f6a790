// What each config field does, for the JSON Schema editors show and for
// docs/configuration.md (both generated from src/config/schema.ts plus this
// table). Keyed by the field's path: `*` for a name the user chooses, `[]` for
// a list item, `<jwt>` for one authenticator type. A field the schema has and
// this table lacks fails test/config/reference.test.ts: describe new fields here.
// Types, defaults, enums and limits come from the schema itself, never from here.

export interface FieldDoc {
  readonly description: string;
  /** A value as a user would write it (YAML flow style), when the default is no example. */
  readonly example?: string;
}

const D = (description: string, example?: string): FieldDoc => ({ description, ...(example !== undefined ? { example } : {}) });

const SECRET = (what: string, name: string, file: string, env: string): Record<string, FieldDoc> => ({
  [name]: D(`${what}, inline. Prefer the _file or _env form: an inline secret ends up in backups and diffs. Give only one of the three.`),
  [`${name}_file`]: D(`${what}, read from this file (relative to the config file; surrounding whitespace trimmed). \`check\` reads it as \`start\` does.`, file),
  [`${name}_env`]: D(`${what}, read from this environment variable (set it in /etc/portcullis/portcullis.env for the systemd unit).`, env),
});

const FROM: Record<string, FieldDoc> = {
  from: D('Where the credential is read from: one of { header, scheme }, { cookie } or { query }.', '{ header: authorization, scheme: Bearer }'),
  'from.header': D('Request header holding the credential.', 'authorization'),
  'from.scheme': D('Scheme word before the token in the header (case-insensitive), e.g. Bearer; the whole value is the token when absent.', 'Bearer'),
  'from.cookie': D('Cookie holding the token (browsers; a SPA that keeps its token in a cookie).', 'access_token'),
  'from.query': D('Query parameter holding the token. URLs end up in logs and Referer headers: prefer a header; the gateway removes it before proxying.', 'access_token'),
};

const FORWARD = D('Claims copied to upstream request headers: { claim: header-name }. A client\'s own header of that name is always removed first, on every route, so it cannot be forged.', '{ sub: x-user-id, scope: x-user-scope }');
const FAILURE = D('What happens when the service cannot answer (timeout, connection error, 5xx): deny (fail closed: 503/401) or allow (let the request through; only for what is truly optional).');

export const FIELD_DOCS: Readonly<Record<string, FieldDoc>> = {
  server: D('Listeners, threads, trusted proxies and request limits.'),
  'server.listen': D('Public listeners. Each is { host, port } with optional tls and proxy_protocol.', '[{ host: 0.0.0.0, port: 8443, tls: { cert: tls/server.crt, key: tls/server.key } }]'),
  'server.listen[].host': D('Address to bind: 0.0.0.0 (all IPv4), :: (all IPv6 and IPv4), or one address.', '127.0.0.1'),
  'server.listen[].port': D('TCP port. 0 lets the kernel pick one (tests; only with server.threads: 1).', '8080'),
  'server.listen[].tls': D('Serve HTTPS on this listener. The key must belong to the certificate; `check` verifies it.'),
  'server.listen[].tls.cert': D('PEM certificate chain file (leaf first), relative to the config file.', 'tls/server.crt'),
  'server.listen[].tls.key': D('PEM private key file of the certificate.', 'tls/server.key'),
  ...prefixed('server.listen[].tls.', SECRET('Passphrase of an encrypted private key', 'passphrase', 'secrets/tls-passphrase', 'TLS_PASSPHRASE')),
  'server.listen[].proxy_protocol': D('Expect a PROXY protocol v2 header (HAProxy, AWS NLB) and take the client address from it. Only for ports reachable from those load balancers alone; list them in trusted_proxies.'),
  'server.threads': D('Event-loop threads sharing the listening ports (SO_REUSEPORT); "auto" is one per CPU core. Rate limits stay exact across threads.', 'auto'),
  'server.trusted_proxies': D('CIDRs of proxies whose X-Forwarded-For (and X-Request-Id) is believed; the client address is the first hop not in this list. Empty: the TCP peer is the client.', '[10.0.0.0/8]'),
  'server.limits': D('Per-request limits; exceeding one is answered by the gateway without touching an upstream.'),
  'server.limits.max_body': D('Largest request body; larger is 413 payload_too_large (also mid-stream, for bodies without Content-Length).'),
  'server.limits.max_header_bytes': D('Largest request head (request line and headers); larger is 431. Between 1KiB and 16KiB: uWebSockets.js caps a head near 16 KiB.'),
  'server.limits.request_timeout': D('Deadline of a whole request including the upstream; past it the client gets 504. A route\'s timeout overrides it.'),
  'server.limits.idle_timeout': D('A keep-alive connection idle this long is closed; slow clients are cut off.'),
  'server.limits.max_token_bytes': D('Largest bearer token accepted (401 token_too_large above); a JWT authenticator can set its own.'),
  'server.shutdown_timeout': D('On SIGTERM, how long in-flight requests may finish before they are cut (the unit\'s TimeoutStopSec must be longer). /readyz is 503 meanwhile.'),
  'server.rate_limit_capacity': D('Keys the rate-limit table holds (about 80 bytes each). New keys beyond it share one overflow bucket per limit, so a flood of new IPs cannot evict existing ones.'),

  admin: D('The admin listener: /healthz, /readyz (no token needed; for load balancers), /metrics, /config, POST /reload, the dashboard. Never on a public listener. Absent: no admin listener.'),
  'admin.listen': D('Where the admin API listens; keep it on loopback or a management network.'),
  'admin.listen.host': D('Address to bind. Not loopback without a token is logged as a warning.'),
  'admin.listen.port': D('TCP port of the admin API.', '9901'),
  ...prefixed('admin.', SECRET('Bearer token for /metrics, /config, /reload and the dashboard data (not /healthz and /readyz)', 'token', 'admin-token', 'PORTCULLIS_ADMIN_TOKEN')),

  access_log: D('One JSON line per request: time, request id, method, path, route, status, reason, bytes, duration, consumer. Never secrets.'),
  'access_log.path': D('File to append to (relative to the config file); stdout (the journal under systemd) when absent. Reopened on SIGUSR1 (logrotate).', '/var/log/portcullis/access.log'),
  'access_log.sample': D('Fraction of requests logged, 0 to 1. Rejections under a flood are sampled too.'),
  'access_log.enabled': D('Turn the access log off entirely (metrics still count every request).'),

  upstreams: D('Named upstream services that routes proxy to.', '{ orders: { targets: [http://10.0.0.5:9001] } }'),
  'upstreams.*.targets': D('Base URLs (http:// or https://) of the service\'s instances; several are used round robin, an unhealthy one skipped.', '[http://10.0.0.5:9001, http://10.0.0.6:9001]'),
  'upstreams.*.connect_timeout': D('Deadline to open a connection to a target; past it the next target is tried, else 502.'),
  'upstreams.*.timeout': D('Deadline for the upstream\'s response head after the request was sent (504 upstream_timeout).'),
  'upstreams.*.connections': D('Keep-alive connections kept per target.'),
  'upstreams.*.unhealthy_for': D('A target that failed to connect is skipped this long.'),
  'upstreams.*.client': D('HTTP/1.1 client: native (Portcullis\' own strict keep-alive client, the fast path) or undici.'),

  authenticators: D('Named authenticators that routes list in authenticate; each has a type. Only those a route uses are loaded.'),
  'authenticators.*.type': D('The kind: jwt, basic, api_key, oidc, introspection or external.'),

  ...prefixed('authenticators.*<jwt>.', {
    ...FROM,
    issuer: D('Accepted iss claim (one, or a list); tokens from other issuers are 401 bad_issuer. Recommended.', 'https://idp.example.com/'),
    audience: D('Accepted aud claim (one, or a list; any match). Recommended: tokens minted for another API are refused.', '[orders-api]'),
    algorithms: D('Allowed signing algorithms (an allow-list; "none" is never accepted). Do not mix HS* with public-key algorithms in one authenticator.', '[RS256]'),
    jwks_uri: D('JWKS URL of the identity provider; fetched at start, refreshed every jwks_refresh and (rate limited) on an unknown kid.', 'https://idp.example.com/.well-known/jwks.json'),
    jwks_file: D('Local JWKS file (relative to the config file), read at start and reload.', 'keys/jwks.json'),
    keys: D('Inline public keys: PEM strings or JWK objects.'),
    ...SECRET('HMAC secret for HS256/384/512 (at least 32 bytes)', 'secret', 'secrets/jwt-hs256', 'JWT_SECRET'),
    jwks_refresh: D('How often the JWKS is refetched.'),
    jwks_timeout: D('Deadline of a JWKS fetch.'),
    leeway: D('Clock skew allowed on exp, nbf and iat.'),
    required_claims: D('Claims every token must carry.', '[sub, exp]'),
    forward_claims: FORWARD,
    consumer_claim: D('Claim naming the consumer: the access log, per-consumer rate limits and x-portcullis-consumer.'),
    max_token_bytes: D('Largest token for this authenticator (default: server.limits.max_token_bytes).', '16KiB'),
    cache: D('Verified-token cache: a repeat token costs no crypto. Entries never outlive the token\'s exp.'),
    'cache.max_entries': D('Tokens kept; 0 turns the cache off.'),
  }),
  ...prefixed('authenticators.*<basic>.', {
    realm: D('Realm in the WWW-Authenticate challenge.'),
    users_file: D('name:hash lines: bcrypt ($2y$/$2b$, from htpasswd -B) or scrypt (from portcullis hash-password). Relative to the config file.', 'users.htpasswd'),
    cache: D('Cache of successful checks (by a hash of the credential), so a repeat request costs no bcrypt.'),
    'cache.max_entries': D('Credentials kept; 0 turns the cache off.'),
    'cache.ttl': D('How long a successful check is reused.'),
  }),
  ...prefixed('authenticators.*<api_key>.', {
    from: D('Where the key is read from: { header } or { query }. Removed before proxying.'),
    'from.header': D('Request header holding the key.', 'x-api-key'),
    'from.query': D('Query parameter holding the key.', 'api_key'),
    keys_file: D('YAML list of { consumer, key_sha256, metadata }: keys are stored hashed. Relative to the config file.', 'api-keys.yaml'),
  }),
  ...prefixed('authenticators.*<oidc>.', {
    issuer: D('OpenID provider; its /.well-known/openid-configuration is read at start.', 'https://accounts.example.com'),
    client_id: D('Client id registered at the provider.', 'portcullis'),
    ...SECRET('Client secret registered at the provider', 'client_secret', 'secrets/oidc-client', 'OIDC_CLIENT_SECRET'),
    client_auth: D('How the client secret is sent to the token endpoint.'),
    scopes: D('Scopes requested at login (openid is needed).', '[openid, email, profile]'),
    callback_path: D('Path the provider redirects back to (register PUBLIC_URL + this as the redirect URI). Handled by the gateway.'),
    logout_path: D('Path that ends the session (and redirects to post_logout_redirect).'),
    post_logout_redirect: D('Where the browser goes after logout.'),
    public_url: D('External base URL of the gateway, for the redirect_uri; the request\'s Host when absent.', 'https://app.example.com'),
    session: D('The sealed session cookie set after login.'),
    'session.cookie': D('Cookie name; the __Host- prefix pins it to this host, HTTPS and path /.'),
    ...prefixed('session.', SECRET('Key that seals session cookies (at least 32 bytes; shared by every gateway behind one load balancer)', 'secret', 'secrets/session', 'OIDC_SESSION_SECRET')),
    'session.ttl': D('Session lifetime; the user logs in again after it.'),
    forward_claims: FORWARD,
    consumer_claim: D('ID token claim naming the consumer.'),
    timeout: D('Deadline of calls to the provider (discovery, token exchange).'),
    failure_mode: FAILURE,
  }),
  ...prefixed('authenticators.*<introspection>.', {
    endpoint: D('RFC 7662 introspection endpoint.', 'https://idp.example.com/oauth2/introspect'),
    client_id: D('Client id the gateway authenticates with.', 'gateway'),
    ...SECRET('Client secret for the introspection endpoint', 'client_secret', 'secrets/introspection', 'INTROSPECT_SECRET'),
    ...FROM,
    cache_ttl: D('How long an active answer is reused (never past the token\'s exp).'),
    negative_cache_ttl: D('How long an inactive answer is reused.'),
    timeout: D('Deadline of one introspection call.'),
    failure_mode: FAILURE,
    forward_claims: FORWARD,
  }),
  ...prefixed('authenticators.*<external>.', {
    url: D('Service asked for each request (on a cache miss): 200 with a JSON identity accepts, 401/403 refuses.', 'http://127.0.0.1:7000/authn'),
    timeout: D('Deadline of one call.'),
    failure_mode: FAILURE,
    send: D('What the service is sent.'),
    'send.headers': D('Request headers passed to the service.', '[authorization, cookie]'),
    cache: D('Reuse of answers by a hash of the sent headers.'),
    'cache.ttl': D('How long an answer is reused; 0ms: not cached.'),
    forward_claims: FORWARD,
  }),

  authorizers: D('Named external authorization services that routes reference in authorize.external.'),
  'authorizers.*.url': D('Service asked after authentication: 200 forwards (a JSON body may add upstream headers or pick an upstream), 401/403/other is returned, 3xx redirects, {"action":"drop"} closes.', 'http://127.0.0.1:7001/authz'),
  'authorizers.*.timeout': D('Deadline of one call.'),
  'authorizers.*.failure_mode': FAILURE,
  'authorizers.*.send': D('What the service is sent.'),
  'authorizers.*.send.headers': D('Request headers passed to the service.', '[authorization, x-request-id]'),
  'authorizers.*.send.identity': D('Send the authenticated identity (consumer, claims).'),
  'authorizers.*.cache': D('Decision cache.'),
  'authorizers.*.cache.ttl': D('How long a decision is reused; 0ms: not cached.', '30s'),
  'authorizers.*.cache.key': D('What a cached decision is keyed by: identity, method, route, path, header:NAME. Leave out only what the service does not decide on (check warns).'),
  'authorizers.*.cache.max_entries': D('Decisions kept.'),

  rate_limits: D('Named token-bucket limits that routes list in rate_limit. Over the limit: 429 with Retry-After and RateLimit headers.', '{ per-ip: { key: ip, rate: 50, per: 1s, burst: 100 } }'),
  'rate_limits.*.key': D('What is counted: global, ip, consumer, claim:NAME or header:NAME. ip/global/header limits run before authentication.', 'ip'),
  'rate_limits.*.rate': D('Tokens added per `per`.', '50'),
  'rate_limits.*.per': D('The period of rate.'),
  'rate_limits.*.burst': D('Bucket size: requests allowed at once (default: rate).', '100'),
  'rate_limits.*.scope': D('local: exact across this process\'s threads; cluster: shared through cluster.redis (each gateway still decides locally).'),

  cluster: D('Redis for rate limits with scope: cluster. A Redis outage degrades to local limits, never to an outage.'),
  'cluster.redis': D('redis:// or rediss:// URL.', 'redis://127.0.0.1:6379'),
  'cluster.sync_interval': D('How often local counts are pushed and the cluster\'s read.'),
  'cluster.failure_mode': D('When Redis is away: local (keep limiting locally).'),
  'cluster.key_prefix': D('Prefix of the Redis keys.'),

  workers: D('The worker pool for slow decisions (OIDC code exchange, introspection, external calls).'),
  'workers.threads': D('Worker threads; "auto" sizes from the CPU count.'),
  'workers.max_queue': D('Tasks waiting for a worker; beyond it requests get 503.'),

  routes: D('The route table, first match wins. A request matching none is 404 from the gateway.'),
  'routes[].name': D('Unique name: in logs, metrics and route_by.', 'orders'),
  'routes[].match': D('What the request must look like. All given parts must match.'),
  'routes[].match.hosts': D('Host names (exact, or *.example.com); any host when absent.', '[api.example.com]'),
  'routes[].match.path': D('Exact path (after normalisation). Give one of path, path_prefix, path_regex.', '/ping'),
  'routes[].match.path_prefix': D('Path prefix on segment boundaries (/orders matches /orders and /orders/1, not /ordersX).', '/orders'),
  'routes[].match.path_regex': D('JavaScript regular expression on the normalised path; tried after the others.', '^/v[0-9]+/orders'),
  'routes[].match.methods': D('Methods; any when absent. A path that matches with another method is 405 with Allow.', '[GET, POST]'),
  'routes[].match.headers': D('Exact header values required (a repeated header is refused).', '{ x-api-version: "2" }'),
  'routes[].authenticate': D('Authenticators tried in order; the first that finds its credential decides (none found: 401).', '[corp-jwt]'),
  'routes[].anonymous': D('The route is public on purpose. A route needs authenticate or anonymous: true (or respond): nothing is public by accident.', 'true'),
  'routes[].authorize': D('Rules after authentication; any failing rule is 403.'),
  'routes[].authorize.scopes': D('Scopes all required (space-separated scope claim, or an scp array).', '[orders:read]'),
  'routes[].authorize.roles': D('Roles, any of (from roles_claim).', '[admin]'),
  'routes[].authorize.roles_claim': D('Claim holding the roles; a dotted path reaches nested claims (Keycloak: realm_access.roles). Default: roles.', 'realm_access.roles'),
  'routes[].authorize.claims': D('Claim values required: { claim: allowed value or list }.', '{ tenant: [acme, globex] }'),
  'routes[].authorize.ip_allow': D('Client networks allowed (CIDRs); others 403 ip_denied. Checked before authentication.', '[203.0.113.0/24]'),
  'routes[].authorize.ip_deny': D('Client networks refused (CIDRs).', '[198.51.100.7/32]'),
  'routes[].authorize.external': D('An authorizers entry asked last.', 'geo-policy'),
  'routes[].rate_limit': D('rate_limits applied, in order.', '[per-ip, per-user]'),
  'routes[].route_by': D('Choose the upstream by a claim or header value (authorization by destination). Give claim or header.'),
  'routes[].route_by.claim': D('Claim whose value picks the upstream.', 'region'),
  'routes[].route_by.header': D('Request header whose value picks the upstream.', 'x-tenant'),
  'routes[].route_by.map': D('{ value: upstream name }.', '{ eu: orders-eu, us: orders-us }'),
  'routes[].route_by.otherwise': D('Upstream for any other value, or deny (403).'),
  'routes[].upstream': D('The upstream proxied to (when no route_by, no respond).', 'orders'),
  'routes[].strip_prefix': D('Remove match.path_prefix from the path sent upstream.'),
  'routes[].chunked_uploads': D('Accept request bodies with Transfer-Encoding: chunked (refused with 411 by default; see docs/security.md for the risk).'),
  'routes[].request_headers': D('Changes to the headers sent upstream.'),
  'routes[].request_headers.add': D('Headers set on the upstream request (replacing a client\'s).', '{ x-gateway: portcullis }'),
  'routes[].request_headers.remove': D('Client headers not forwarded.', '[cookie]'),
  'routes[].request_headers.pass_overrides': D('Forward the client\'s override headers (X-HTTP-Method-Override, X-Original-URL, True-Client-IP, …), dropped by default.', 'true'),
  'routes[].respond': D('Answer from the gateway itself (no upstream).', '{ status: 403, body: forbidden }'),
  'routes[].respond.status': D('HTTP status.', '200'),
  'routes[].respond.body': D('Body (text/plain unless headers say otherwise).', 'pong'),
  'routes[].respond.headers': D('Response headers.', '{ content-type: application/json }'),
  'routes[].timeout': D('Deadline of this route\'s requests, instead of server.limits.request_timeout.', '60s'),
};

function prefixed(prefix: string, docs: Record<string, FieldDoc>): Record<string, FieldDoc> {
  return Object.fromEntries(Object.entries(docs).map(([k, v]) => [`${prefix}${k}`, v]));
}
