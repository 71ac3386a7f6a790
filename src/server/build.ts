// Plan → Runtime: every stage compiled once into the objects the pipeline
// calls. Problems found while compiling (bad CIDR, unreadable key file…) are
// collected with the config path and thrown together as a ConfigError, so
// `portcullis check` reports them exactly like schema errors.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { makeCompileContext, type CompileContext, type Plan } from '../config/load.js';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import { checkServiceHeaderOwners } from '../config/service-header-owners.js';
import { locateIssues } from '../config/locate.js';
import { checkFilesStartReads } from './start-files.js';
import { compileRouter, normalizePath } from '../router/index.js';
import { compileClientIp } from '../policy/client-ip.js';
import { compileRoutePolicy } from '../policy/rules.js';
import { compileCors } from '../policy/cors.js';
import { compileWebSocketRoute } from '../websocket/route.js';
import { compileHeaderPolicy, singletonIndex } from '../proxy/headers.js';
import { UpstreamGroup } from '../proxy/upstreams.js';
import { compileUpstreamTls } from '../proxy/upstream-tls.js';
import { compileAssertion } from '../proxy/assertion/index.js';
import type { CompiledRoute, ConsumedCredential, Runtime } from './runtime.js';
import { buildStages, type SharedState } from './stages.js';
import { compileTracing } from '../trace/index.js';
import { traceCollector } from './trace-sink.js';

export async function buildRuntime(plan: Plan, shared: SharedState): Promise<Runtime> {
  const issues: ConfigIssue[] = [];
  const ctx = makeCompileContext(plan, issues);
  const c = plan.config;

  checkTls(c.server.listen, ctx);
  // Beside the stages' own compile problems (cache keys…), so `check` lists them in one run.
  checkServiceHeaderOwners(c, (p, msg) => ctx.issue(p, msg));
  checkFilesStartReads(c, ctx);
  const upstreamNames = Object.keys(c.upstreams);
  const upstreamIndex = new Map(upstreamNames.map((n, i) => [n, i]));
  const upstreams = upstreamNames.map((n, i) => new UpstreamGroup(n, i, c.upstreams[n]!, compileUpstreamTls(c.upstreams[n]!, `upstreams.${n}`, ctx)));
  const clientIp = compileClientIp(c.server.trusted_proxies, ctx);
  const stages = buildStages(plan, ctx, shared, upstreamIndex);

  // Every header any authenticator may set from claims is removed from client requests on every route.
  // So is an mtls authenticator's forward.header (x-forwarded-client-cert, like every x-forwarded-*
  // name, is dropped on every route anyway: only the gateway vouches for a client certificate).
  const claimHeaders = new Set<string>();
  for (const a of Object.values(c.authenticators)) {
    const fc = (a as { forward_claims?: Record<string, string> }).forward_claims;
    if (fc) for (const h of Object.values(fc)) claimHeaders.add(h.toLowerCase());
    if (a.type === 'mtls' && a.forward) claimHeaders.add(a.forward.header.toLowerCase());
  }
  // Only the gateway signs an identity assertion: a client's copy never passes, on any route.
  if (c.identity_assertion) claimHeaders.add(c.identity_assertion.header.toLowerCase());
  // tracing.trust_parent: false — the gateway starts every trace; a client's trace headers never reach an upstream.
  if (c.tracing && !c.tracing.trust_parent) claimHeaders.add('traceparent').add('tracestate');
  const assertion = compileAssertion(c, upstreamNames, ctx);

  const routes: CompiledRoute[] = c.routes.map((r, i) => {
    const at = `routes[${i}]`;
    const a = r.authorize;
    // Headers a called service on this route may set are the service's alone: the client's copies never go upstream.
    const drop = new Set([...claimHeaders, ...serviceHeaderNames(c, r)]);
    const needsPolicy = !!(a && (a.ip_allow || a.ip_deny || a.scopes || a.roles || a.claims)) || !!r.route_by;
    const respond = r.respond
      ? {
          status: r.respond.status,
          headers: flatHeaders({ 'content-type': 'text/plain; charset=utf-8', ...(r.respond.headers ?? {}) }),
          body: r.respond.body ?? '',
        }
      : null;
    return {
      index: i,
      name: r.name,
      respond,
      chain: r.authenticate && r.authenticate.length ? stages.chain(r.authenticate, `${at}.authenticate`) : null,
      policy: needsPolicy ? compileRoutePolicy(r, at, upstreamIndex, ctx) : null,
      rateLimit: r.rate_limit && r.rate_limit.length ? stages.rateLimit(r.rate_limit, `${at}.rate_limit`) : null,
      external: a?.external ? stages.authorizer(a.external, `${at}.authorize.external`) : null,
      upstream: r.upstream !== undefined ? upstreamIndex.get(r.upstream) ?? -1 : -1,
      stripPrefix: r.strip_prefix && r.match.path_prefix && r.match.path_prefix !== '/' ? r.match.path_prefix.replace(/\/$/, '') : '',
      chunkedUploads: r.chunked_uploads,
      cors: r.cors ? compileCors(r.cors, `${at}.cors`, ctx) : null,
      headers: compileHeaderPolicy(drop, r.request_headers?.remove ?? [], r.request_headers?.add ?? {}, r.request_headers?.pass_overrides ?? false),
      // On every route, not only the OIDC ones: a browser sends the session cookie to every path of the site.
      ownCookies: stages.ownCookies,
      timeout: r.timeout ?? c.server.limits.request_timeout,
      identityAssertion: r.identity_assertion && assertion !== null,
      websocket: r.websocket ? compileWebSocket(r, at, ctx) : null,
    } satisfies CompiledRoute;
  });

  if (issues.length) {
    await Promise.all(upstreams.map((u) => u.close()));
    await stages.close();
    throw new ConfigError(plan.file || '<config>', locateIssues(issues, plan.locate));
  }

  const router = compileRouter(c.routes);
  const routeNames = routes.map((r) => r.name);
  const tracing = compileTracing(c.tracing, routeNames, shared.checkOnly === true);
  return {
    plan,
    routes,
    routeNames,
    match: (m, h, p, hdr) => router.match(m, h, p, hdr),
    allowedMethods: (h, p, hdr) => router.allowedMethods(h, p, hdr),
    normalize: normalizePath,
    clientIp,
    upstreams,
    maxBody: c.server.limits.max_body,
    idleTimeout: c.server.limits.idle_timeout,
    ready: stages.ready(),
    credentials: consumedCredentials(c),
    singletons: singletonIndex(decidingHeaders(c)),
    hasCors: routes.some((r) => r.cors !== null),
    assertion,
    readiness: () => stages.readiness(),
    collectors: tracing !== null ? [...stages.collectors, traceCollector] : stages.collectors,
    tracing,
    async close() {
      await Promise.all(upstreams.map((u) => u.close()));
      await stages.close();
    },
  };
}

/**
 * Credentials the gateway consumed and the upstream never sees (Kong's
 * hide_credentials): Basic passwords and API keys. Bearer tokens stay: the
 * upstream may verify or use them.
 */
function consumedCredentials(c: Plan['config']): Map<string, ConsumedCredential> {
  const out = new Map<string, ConsumedCredential>();
  for (const [name, a] of Object.entries(c.authenticators)) {
    if (a.type === 'basic') out.set(name, { header: 'authorization', query: '' });
    else if (a.type === 'api_key') out.set(name, 'header' in a.from ? { header: a.from.header.toLowerCase(), query: '' } : { header: '', query: a.from.query });
  }
  return out;
}

/** Lower-case names the external authenticators and the external authorizer of route `r` may set upstream (allowed_upstream_headers). */
function serviceHeaderNames(c: Plan['config'], r: Plan['config']['routes'][number]): string[] {
  const out: string[] = [];
  for (const n of r.authenticate ?? []) {
    const a = c.authenticators[n];
    if (a?.type === 'external') for (const h of a.allowed_upstream_headers ?? []) out.push(h.toLowerCase());
  }
  const z = r.authorize?.external !== undefined ? c.authorizers[r.authorize.external] : undefined;
  for (const h of z?.allowed_upstream_headers ?? []) out.push(h.toLowerCase());
  return out;
}

/** Every request header the config decides on: a repeated one is refused before proxying. */
function decidingHeaders(c: Plan['config']): string[] {
  const out: string[] = [];
  for (const r of c.routes) {
    out.push(...Object.keys(r.match.headers ?? {}));
    if (r.route_by && 'header' in r.route_by) out.push(r.route_by.header);
  }
  for (const l of Object.values(c.rate_limits)) if (l.key.startsWith('header:')) out.push(l.key.slice(7));
  for (const a of Object.values(c.authenticators)) {
    const from = (a as { from?: { header?: string } }).from;
    if (from?.header) out.push(from.header);
    // An external authenticator judged one value; the upstream would see both.
    if (a.type === 'external') out.push(...a.send.headers);
  }
  for (const z of Object.values(c.authorizers)) {
    // What the service is sent is what it decides on (and, by default, the cache key).
    out.push(...z.send.headers);
    for (const k of z.cache.key ?? []) if (k.startsWith('header:')) out.push(k.slice(7));
  }
  return out;
}

/** TLS files exist, parse, and the key belongs to the certificate — found by `check`, not at the first handshake. */
function checkTls(listen: Plan['config']['server']['listen'], ctx: ReturnType<typeof makeCompileContext>): void {
  listen.forEach((l, i) => {
    if (!l.tls) return;
    const at = `server.listen[${i}].tls`;
    checkCertKey(l.tls, at, ctx);
    const seen = new Set<string>();
    l.tls.sni.forEach((e, j) => {
      const name = e.server_name.toLowerCase();
      if (seen.has(name)) ctx.issue(`${at}.sni[${j}].server_name`, `"${e.server_name}" is listed twice; keep one entry per name`);
      seen.add(name);
      checkCertKey(e, `${at}.sni[${j}]`, ctx);
    });
    if (l.tls.client_ca !== undefined) checkClientCa(ctx.resolvePath(l.tls.client_ca), `${at}.client_ca`, ctx);
    else if (l.tls.client_cert !== undefined) ctx.issue(`${at}.client_cert`, 'client_cert needs tls.client_ca: set client_ca to the PEM file of the CAs that sign your clients\' certificates, or remove client_cert');
  });
}

/** One certificate/key pair: files exist, parse, and belong together. */
function checkCertKey(t: { cert: string; key: string }, at: string, ctx: ReturnType<typeof makeCompileContext>): void {
  let cert: X509Certificate | null = null;
  try {
    cert = new X509Certificate(readFileSync(ctx.resolvePath(t.cert)));
  } catch (e) {
    ctx.issue(`${at}.cert`, `${ctx.resolvePath(t.cert)}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'not a PEM certificate'}`);
  }
  try {
    const passphrase = ctx.secret(t, 'passphrase', at, false);
    const key = createPrivateKey({ key: readFileSync(ctx.resolvePath(t.key)), passphrase });
    if (cert && !cert.checkPrivateKey(key)) ctx.issue(`${at}.key`, 'this private key does not belong to the certificate in tls.cert');
  } catch (e) {
    ctx.issue(`${at}.key`, `${ctx.resolvePath(t.key)}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'not a readable PEM private key (encrypted? set tls.passphrase_file)'}`);
  }
}

/** The client CA file holds at least one PEM certificate and nothing unreadable (a bad file would fail every handshake). */
function checkClientCa(file: string, at: string, ctx: ReturnType<typeof makeCompileContext>): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    ctx.issue(at, `${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'cannot be read'}`);
    return;
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) { ctx.issue(at, `${file}: no PEM certificate in it; give the CA certificate(s) (-----BEGIN CERTIFICATE-----)`); return; }
  for (const b of blocks) {
    try {
      const c = new X509Certificate(b);
      if (!c.ca) ctx.issue(at, `${file}: "${c.subject.replace(/\n/g, ', ')}" is not a CA certificate (basicConstraints CA:TRUE); give the CA that signed your clients' certificates, not a client certificate`);
    } catch {
      ctx.issue(at, `${file}: a certificate in it is not valid PEM`);
    }
  }
}

function flatHeaders(h: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(h)) out.push(k.toLowerCase(), v);
  return out;
}

/** routes[].websocket relays to an upstream: a respond route has none to relay to. */
function compileWebSocket(r: Plan['config']['routes'][number], at: string, ctx: CompileContext): ReturnType<typeof compileWebSocketRoute> {
  if (r.respond) ctx.issue(`${at}.websocket`, 'a respond route has no upstream to relay a WebSocket to: remove websocket or respond, and give upstream (or route_by)');
  return compileWebSocketRoute(r.websocket!, `${at}.websocket`, ctx);
}
