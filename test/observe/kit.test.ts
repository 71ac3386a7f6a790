// The operator's kit against a live gateway: a real process with JWT (JWKS),
// an external authenticator, an external authorizer (worker pool), a rate
// limit, a respond route and an upstream. Its /metrics must pass
// `promtool check metrics`; every metric the shipped Grafana dashboard and
// alert rules name must be a family in that scrape; the rules must pass
// `promtool check rules`; and the access log carries each new field.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ROOT, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startAuthzService, type AuthzService } from '../helpers/authz-service.js';
import { JwksServer } from '../auth/jwks-server.js';
import { AUDIENCE, ISSUER, baseServer, bearer, request, rsaKey, sign, sleep, type SigningKey } from '../e2e/util.js';
import { HAVE_PROMTOOL, MUST_HAVE_PROMTOOL, promtool, requirePromtool } from './promtool.js';
import { parseProm } from './prom-parse.js';

const KIT = path.join(ROOT, 'native-config/observability');
const DASHBOARD = path.join(KIT, 'grafana-dashboard.json');
const RULES = path.join(KIT, 'prometheus-alerts.yaml');
const TOKEN_IN_QUERY = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2VjcmV0LXNpZ25hdHVyZQ';
// Skipped only outside CI when promtool is absent; in CI its absence fails the suite.
const withPromtool = HAVE_PROMTOOL || MUST_HAVE_PROMTOOL ? it : it.skip;

let up: TestUpstream, svc: AuthzService, jwks: JwksServer, gw: RunningGateway, key: SigningKey;
let admin = '';
let scrape = '';

/** Metric names an expression refers to (identifiers followed by a selector, a range or an operator, not label names). */
function metricNames(expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const noLabels = noStrings.replace(/\{[^}]*\}/g, '{}').replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const out = new Set<string>();
  for (const m of noLabels.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)) {
    const n = m[1]!;
    if (/^(and|or|unless|offset|bool|le|inf|nan|e\d*)$/i.test(n) || /^\d/.test(n)) continue;
    if (n.startsWith('$') || n.startsWith('__')) continue;
    out.add(n);
  }
  return [...out];
}

/** Family names in a scrape, with the series names a histogram adds. */
function families(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)/.exec(line);
    if (!m) continue;
    names.add(m[1]!);
    if (m[2] === 'histogram' || m[2] === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(m[1]! + s);
  }
  return names;
}

function dashboardExprs(): string[] {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[]; templating: { list: { query?: unknown }[] } };
  const exprs = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  for (const v of d.templating.list) {
    const q = typeof v.query === 'object' && v.query !== null ? (v.query as { query: string }).query : '';
    const m = /label_values\((\w+)/.exec(q);
    if (m) exprs.push(m[1]!);
  }
  return exprs;
}

function ruleExprs(): string[] {
  const r = parseYaml(readFileSync(RULES, 'utf8')) as { groups: { rules: { expr: string }[] }[] };
  return r.groups.flatMap((g) => g.rules.map((x) => x.expr));
}

/** fn's value once it stops throwing (bounded: 40 tries, 250 ms apart). */
async function until<T>(fn: () => Promise<T> | T): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 40; i++) {
    try { return await fn(); } catch (e) { last = e; }
    await sleep(250);
  }
  throw last;
}

async function metrics(): Promise<string> {
  const r = await request(admin, '/metrics');
  expect(r.status).toBe(200);
  return r.body;
}

beforeAll(async () => {
  key = await rsaKey('kit-1');
  jwks = await new JwksServer().start();
  jwks.keys = [key.jwk];
  up = await startUpstream();
  svc = await startAuthzService((r) => (r.url.startsWith('/authn')
    ? (((r.json?.headers ?? {}) as Record<string, string>)['x-session'] === 'good' ? { status: 200, body: { consumer: 'legacy-user' } } : { status: 401 })
    : { status: 200 }));
  gw = await startGateway({
    // One event-loop thread: component figures (caches, calls, JWKS) are those of the thread answering the scrape.
    server: baseServer({ threads: 1 }),
    admin: { listen: { host: '127.0.0.1', port: 0 } },
    access_log: { enabled: true, path: 'access.log' },
    upstreams: { app: { targets: [up.url] } },
    authenticators: {
      idp: { type: 'jwt', issuer: ISSUER, audience: [AUDIENCE], algorithms: ['RS256'], jwks_uri: jwks.url },
      legacy: { type: 'external', url: new URL('/authn', svc.url).href, timeout: '2s', send: { headers: ['x-session'] }, allowed_upstream_headers: [] },
    },
    authorizers: { az: { url: svc.url, timeout: '2s', allowed_upstream_headers: [] } },
    rate_limits: { tight: { key: 'ip', rate: 1, per: '1h', burst: 2 } },
    routes: [
      { name: 'api', match: { path_prefix: '/api' }, authenticate: ['idp'], authorize: { external: 'az' }, upstream: 'app' },
      { name: 'legacy', match: { path_prefix: '/legacy' }, authenticate: ['legacy'], upstream: 'app' },
      { name: 'limited', match: { path_prefix: '/limited' }, anonymous: true, rate_limit: ['tight'], upstream: 'app' },
      { name: 'closed', match: { path_prefix: '/closed' }, anonymous: true, respond: { status: 403, body: 'closed' } },
    ],
  });
  admin = String((JSON.parse(await gw.waitForLog(/portcullis listening/)) as { admin: string }).admin);

  // A reload first: it rebuilds the authenticators, whose figures then start from zero (a counter reset, as rate() expects).
  expect((await request(admin, '/reload', { method: 'POST' })).status).toBe(200);
  const token = await sign(key, { sub: 'alice' });
  const ua = { 'user-agent': 'kit-test/1.0 (+https://example.test)' };
  expect((await request(gw.url, `/api/orders?access_token=${TOKEN_IN_QUERY}`, { headers: { ...bearer(token), ...ua } })).status).toBe(200);
  expect((await request(gw.url, '/api/orders', { method: 'POST', headers: { ...bearer(token), ...ua, 'content-type': 'text/plain' }, body: 'x'.repeat(123) })).status).toBe(200);
  expect((await request(gw.url, '/api/orders', { headers: bearer('not-a-token') })).status).toBe(401);
  const legacy = await request(gw.url, '/legacy/x', { headers: { 'x-session': 'good' } });
  expect(legacy.status, legacy.body + gw.logs.slice(-5).join('\n')).toBe(200);
  expect((await request(gw.url, '/legacy/x', { headers: { 'x-session': 'bad' } })).status).toBe(401);
  for (let i = 0; i < 4; i++) await request(gw.url, '/limited/x', { headers: ua });
  expect((await request(gw.url, '/closed', { headers: ua })).status).toBe(403);
  // The scrape that every check below reads (after the pool answered and the reload counted).
  scrape = await until(async () => {
    const t = await metrics();
    if (!/portcullis_config_reloads_total\{result="success"\} 1/.test(t) || !/portcullis_worker_pool_completed_total/.test(t)) throw new Error('not yet');
    return t;
  });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await jwks?.stop();
  await up?.close();
  await svc?.close();
});

describe('metrics a Prometheus lint accepts', () => {
  withPromtool('passes promtool check metrics on a live scrape', () => {
    requirePromtool();
    const r = promtool(['check', 'metrics'], scrape);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('exports the named figures, build info, reloads and rejections', () => {
    const p = parseProm(scrape);
    const info = p.samples.find((s) => s.name === 'portcullis_build_info')!;
    expect(info.labels).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+/), node: process.versions.node, uws: expect.stringMatching(/^\d+\.\d+/) });
    expect(p.get('portcullis_config_reloads_total', { result: 'success' })).toBe(1);
    expect(p.get('portcullis_config_reloads_total', { result: 'failure' })).toBe(0);
    expect(p.get('portcullis_jwks_fetches_total', { authenticator: 'idp', result: 'success' })).toBeGreaterThanOrEqual(1);
    expect(p.get('portcullis_jwks_keys', { authenticator: 'idp' })).toBe(1);
    expect(p.get('portcullis_jwks_age_seconds', { authenticator: 'idp' })).toBeGreaterThanOrEqual(0);
    expect(p.get('portcullis_jwks_age_seconds', { authenticator: 'idp' })).toBeLessThan(600);
    expect(p.get('portcullis_jwt_verifications_total', { authenticator: 'idp' })).toBeGreaterThanOrEqual(1);
    // Both calls were answered (one accepted, one refused): neither is a failure of the service.
    expect(p.sum('portcullis_authn_calls_total', { authenticator: 'legacy', result: 'success' })).toBe(2);
    expect(p.sum('portcullis_authn_calls_total', { authenticator: 'legacy', result: 'failure' })).toBe(0);
    expect(p.sum('portcullis_authz_calls_total', { authorizer: 'az', result: 'success' })).toBeGreaterThanOrEqual(1);
    expect(p.get('portcullis_worker_pool_queued')).toBe(0);
    expect(p.get('portcullis_rejections_total', { reason: 'respond', stage: 'route' })).toBe(1);
    expect(p.get('portcullis_rejections_total', { reason: 'rate_limited', stage: 'ratelimit' })).toBe(2);
    expect(p.get('portcullis_rate_limited_total', { limit: 'tight' })).toBe(2);
    expect(p.get('portcullis_upstream_targets_healthy', { upstream: 'app' })).toBe(1);
    expect(p.get('portcullis_access_log_dropped_total')).toBe(0);
    expect(p.types.get('portcullis_authenticator_stat')).toBeUndefined();
  });
});

describe('the operator kit', () => {
  it('ships a Grafana dashboard whose every query names a metric the gateway exports', () => {
    const have = families(scrape);
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(20);
    const named = [...new Set(exprs.flatMap(metricNames))];
    expect(named).toContain('portcullis_request_duration_seconds_bucket');
    expect(named.length).toBeGreaterThan(30);
    expect(named.filter((n) => !have.has(n))).toEqual([]);
    const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; panels: { title: string }[] };
    expect(d.uid).toBe('portcullis-gateway');
    const titles = d.panels.map((p) => p.title).join('\n');
    for (const t of ['by route', 'Rejections by reason and stage', 'Latency percentiles', 'upstream', 'JWKS', 'Worker pool', 'Rate-limit']) expect(titles).toContain(t);
  });

  it('ships alert rules that name only exported metrics', () => {
    const have = families(scrape);
    const named = [...new Set(ruleExprs().flatMap(metricNames))];
    expect(named).toContain('portcullis_jwks_fetches_total');
    expect(named.filter((n) => !have.has(n))).toEqual([]);
    const names = (parseYaml(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert));
    for (const a of ['PortcullisHigh5xxRatio', 'PortcullisUpstreamDown', 'PortcullisJwksFetchFailing', 'PortcullisIdpUnreachable', 'PortcullisAuthorizerUnreachable',
      'PortcullisReloadFailed', 'Portcullis401Spike', 'Portcullis429Spike', 'PortcullisAccessLogDropping']) expect(names).toContain(a);
  });

  withPromtool('passes promtool check rules', () => {
    requirePromtool();
    const r = promtool(['check', 'rules', RULES]);
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.code).toBe(0);
  });
});

describe('access log of a live gateway', () => {
  it('writes host, user agent, body bytes, the upstream leg, the limit and no token from the query string', async () => {
    const file = path.join(gw.dir, 'access.log');
    const rows = await until(() => {
      const r = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      if (r.length < 10) throw new Error('not yet');
      return r;
    });
    const raw = readFileSync(file, 'utf8');
    expect(raw).not.toContain(TOKEN_IN_QUERY);
    expect(raw).not.toContain('access_token');
    const get = rows.find((r) => r.route === 'api' && r.method === 'GET' && r.status === 200)!;
    expect(get).toMatchObject({
      host: '127.0.0.1', user_agent: 'kit-test/1.0 (+https://example.test)', path: '/api/orders',
      upstream: 'app', upstream_target: up.url.replace(/\/$/, ''), upstream_status: 200, consumer: 'alice', bytes_in: 0,
    });
    expect(get.upstream_ms).toEqual(expect.any(Number));
    expect(get).not.toHaveProperty('limit');
    expect(get).not.toHaveProperty('trace_id'); // no tracer here: the field is left out
    const post = rows.find((r) => r.route === 'api' && r.method === 'POST')!;
    expect(post.bytes_in).toBe(123);
    const limited = rows.filter((r) => r.status === 429);
    expect(limited).toHaveLength(2);
    for (const l of limited) expect(l).toMatchObject({ limit: 'tight', reason: 'rate_limited', route: 'limited' });
    expect(rows.find((r) => r.route === 'closed')).toMatchObject({ status: 403, reason: 'respond' });
    expect(rows.find((r) => r.status === 401 && r.route === 'api')).not.toHaveProperty('upstream_target');
  });
});
