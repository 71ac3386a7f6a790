import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'undici';
import { R } from '../../src/reasons.js';
import { createMetrics, type Metrics } from '../../src/observe/metrics.js';
import { createLive, type Live, type LiveSnapshot } from '../../src/observe/live.js';
import { startAdmin, type AdminServer, type ReadyResult } from '../../src/observe/admin.js';
import { textToIp16 } from '../../src/observe/ip-text.js';
import { parseProm } from './prom-parse.js';

const TOKEN = 'adm-7f3c9e0b2a41d8e6';

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** Raw HTTP so tests can set Host and Origin (fetch forbids both). */
function http(port: number, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}
const auth = { authorization: `Bearer ${TOKEN}` };

let metrics: Metrics;
let live: Live;
let admin: AdminServer;
let open: AdminServer;
let readiness: ReadyResult = { ok: false, checks: { plan: true, jwks: false, pool: true } };
let reloads = 0;
let nextReload = { ok: true, issues: [] as string[] };

const effectiveConfig = {
  admin: { listen: { host: '127.0.0.1', port: 0 }, token: TOKEN },
  authenticators: { sso: { type: 'oidc', client_secret: 'oidc-secret-xyz', client_secret_file: 'secrets/oidc' } },
  routes: [{ name: 'orders' }],
};

beforeAll(async () => {
  metrics = createMetrics({ routes: ['orders', 'health'], upstreams: ['orders-eu'], authenticators: ['corp-jwt'], threads: 1, threadSlot: 0, sampleThread: false });
  for (let i = 0; i < 7; i++) metrics.recordRequest(0, 200, R.ok, 1500, 0, 0);
  for (let i = 0; i < 3; i++) {
    metrics.recordRequest(0, 401, R.bad_signature, 80, -1, 0);
    metrics.recordRejection(0, 401, R.bad_signature, textToIp16('198.51.100.23')!);
  }
  live = createLive({ metrics, upstreamHealth: () => [{ name: 'orders-eu', healthy: true }] });
  live.tick();
  const common = {
    host: '127.0.0.1', port: 0,
    metrics: () => metrics.renderPrometheus(),
    config: () => effectiveConfig,
    reload: async () => { reloads++; await new Promise((r) => setTimeout(r, 5)); return nextReload; },
    ready: () => readiness,
    live: () => live.snapshot(),
  };
  admin = await startAdmin({ ...common, token: TOKEN });
  open = await startAdmin(common);
});

afterAll(() => {
  admin?.close();
  open?.close();
  live?.close();
  metrics?.close();
});

describe('admin API', () => {
  it('answers /healthz without a token', async () => {
    const r = await http(admin.port, '/healthz');
    expect(r.status).toBe(200);
    expect(r.body).toBe('ok\n');
  });

  it('enforces the bearer token on every data endpoint', async () => {
    for (const [method, path] of [['GET', '/metrics'], ['GET', '/config'], ['GET', '/live.json'], ['POST', '/reload']] as const) {
      const none = await http(admin.port, path, { method });
      expect(none.status, `${method} ${path} without token`).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      const wrong = await http(admin.port, path, { method, headers: { authorization: `Bearer ${TOKEN}x` } });
      expect(wrong.status, `${method} ${path} wrong token`).toBe(401);
    }
    expect(reloads).toBe(0);
    const ok = await http(admin.port, '/metrics', { headers: auth });
    expect(ok.status).toBe(200);
  });

  it('serves Prometheus text that parses and carries the recorded counts', async () => {
    const r = await http(admin.port, '/metrics', { headers: auth });
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const p = parseProm(r.body);
    expect(p.get('portcullis_requests_total', { route: 'orders', status: '200' })).toBe(7);
    expect(p.get('portcullis_authn_failures_total', { authenticator: 'corp-jwt', reason: 'bad_signature' })).toBe(3);
  });

  it('shows the effective config with secrets redacted', async () => {
    const r = await http(admin.port, '/config', { headers: auth });
    expect(r.status).toBe(200);
    expect(r.body).not.toContain(TOKEN);
    expect(r.body).not.toContain('oidc-secret-xyz');
    const c = JSON.parse(r.body) as typeof effectiveConfig;
    expect(c.admin.token).toBe('[redacted]');
    expect(c.authenticators.sso.client_secret_file).toBe('secrets/oidc');
  });

  it('answers /readyz without the token (a load balancer has none), naming no checks', async () => {
    readiness = { ok: false, checks: { plan: true, jwks: false, pool: true } };
    const not = await http(admin.port, '/readyz');
    expect(not.status).toBe(503);
    expect(JSON.parse(not.body)).toEqual({ ok: false });
    const wrong = await http(admin.port, '/readyz', { headers: { authorization: `Bearer ${TOKEN}x` } });
    expect(JSON.parse(wrong.body)).toEqual({ ok: false });
    readiness = { ok: true, checks: { plan: true, jwks: true, pool: true } };
    const ready = await http(admin.port, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ ok: true });
  });

  it('reports readiness with 503 until every check passes', async () => {
    readiness = { ok: false, checks: { plan: true, jwks: false, pool: true } };
    const not = await http(admin.port, '/readyz', { headers: auth });
    expect(not.status).toBe(503);
    expect(JSON.parse(not.body)).toEqual({ ok: false, checks: { plan: true, jwks: false, pool: true } });
    readiness = { ok: true, checks: { plan: true, jwks: true, pool: true } };
    const ready = await http(admin.port, '/readyz', { headers: auth });
    expect(ready.status).toBe(200);
  });

  it('runs the reload callback on POST /reload and reports its issues', async () => {
    const before = reloads;
    nextReload = { ok: true, issues: [] };
    const ok = await http(admin.port, '/reload', { method: 'POST', headers: auth });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ ok: true, issues: [] });
    nextReload = { ok: false, issues: ['routes[0].upstream: unknown upstream "nope"'] };
    const bad = await http(admin.port, '/reload', { method: 'POST', headers: auth });
    expect(bad.status).toBe(422);
    expect(JSON.parse(bad.body).issues).toEqual(['routes[0].upstream: unknown upstream "nope"']);
    expect(reloads).toBe(before + 2);
    const get = await http(admin.port, '/reload', { headers: auth });
    expect(get.status).toBe(404);
  });

  it('refuses cross-origin browser requests and, without a token, foreign Host names', async () => {
    const cross = await http(admin.port, '/reload', { method: 'POST', headers: { ...auth, origin: 'http://evil.example' } });
    expect(cross.status).toBe(403);
    const rebound = await http(open.port, '/config', { headers: { host: `evil.example:${open.port}` } });
    expect(rebound.status).toBe(421);
    const local = await http(open.port, '/config', { headers: { host: `localhost:${open.port}` } });
    expect(local.status).toBe(200);
    const byIp = await http(open.port, '/metrics');
    expect(byIp.status).toBe(200);
  });

  it('serves the dashboard page with a strict content security policy', async () => {
    const r = await http(admin.port, '/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'sha256-/);
    expect(r.body).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!127)/);
  });

  it('pushes live snapshots over a WebSocket that needs the token', async () => {
    const first = await new Promise<LiveSnapshot>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${admin.port}/live`, ['portcullis.live', 'bearer.' + Buffer.from(TOKEN).toString('base64url')]);
      const t = setTimeout(() => { ws.close(); reject(new Error('no snapshot')); }, 10_000);
      ws.onmessage = (ev) => { clearTimeout(t); ws.close(); resolve(JSON.parse(String(ev.data)) as LiveSnapshot); };
      ws.onerror = () => { clearTimeout(t); reject(new Error('websocket error')); };
    });
    expect(first.totals.byClass['2xx']).toBe(7);
    expect(first.totals.byClass['4xx']).toBe(3);
    expect(first.reasons).toEqual([expect.objectContaining({ reason: 'bad_signature', count: 3, status: 401 })]);
    expect(first.topRejectedIps[0]).toMatchObject({ ip: '198.51.100.23', count: 3 });
    expect(first.upstreams[0]).toMatchObject({ name: 'orders-eu', healthy: true });

    const refused = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${admin.port}/live`, ['portcullis.live']);
      const t = setTimeout(() => { ws.close(); resolve(false); }, 10_000);
      ws.onopen = () => { clearTimeout(t); ws.close(); resolve(false); };
      ws.onerror = () => { clearTimeout(t); resolve(true); };
    });
    expect(refused).toBe(true);
  });

  it('answers unknown paths with 404', async () => {
    expect((await http(admin.port, '/nope', { headers: auth })).status).toBe(404);
  });
});
