// CORS at the edge through the real gateway, and in real headless Chromium: a
// page on one origin calls authenticated routes on another origin with a
// bearer token and with a cookie (credentials: 'include').
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { AUDIENCE, ISSUER, baseServer, request, rsaKey, sign, type SigningKey } from '../e2e/util.js';

let gw: RunningGateway;
let up: TestUpstream;
let key: SigningKey;
let token: string;
let page: http.Server;
let pageOrigin: string;

const APP = 'https://app.example.com';

beforeAll(async () => {
  key = await rsaKey('k1');
  token = await sign(key, { sub: 'alice' });
  // Sets its own CORS header (which the route's must replace) and one the route exposes.
  up = await startUpstream((req, res, seen) => {
    const body = JSON.stringify({ method: seen.method, url: seen.url });
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'x-trace': 'trace-1' });
    res.end(body);
  });
  page = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>spa</title><p>spa</p>');
  });
  await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
  pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
  const jwt = { type: 'jwt', issuer: ISSUER, audience: [AUDIENCE], algorithms: ['RS256'], keys: [key.jwk] };
  const cors = {
    allow_origins: [APP, 'https://*.example.org', pageOrigin], allow_methods: ['GET', 'POST', 'PUT'],
    allow_headers: ['authorization', 'content-type'], expose_headers: ['x-trace'], allow_credentials: true, max_age: '10m',
  };
  gw = await startGateway({
    server: baseServer(),
    upstreams: { app: { targets: [up.url] } },
    authenticators: { jwt, 'jwt-cookie': { ...jwt, from: { cookie: 'tok' } } },
    rate_limits: { tiny: { key: 'ip', rate: 1, per: '1h', burst: 1 } },
    routes: [
      { name: 'api', match: { path_prefix: '/api', methods: ['GET', 'POST', 'PUT', 'OPTIONS'] }, authenticate: ['jwt'], upstream: 'app', cors },
      { name: 'cookie-api', match: { path_prefix: '/cookie-api' }, authenticate: ['jwt-cookie'], upstream: 'app', cors },
      { name: 'limited', match: { path_prefix: '/limited' }, authenticate: ['jwt'], rate_limit: ['tiny'], upstream: 'app', cors },
      { name: 'plain', match: { path_prefix: '/plain' }, authenticate: ['jwt'], upstream: 'app' },
    ],
  });
});

afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await new Promise((r) => page?.close(r));
});

const preflight = (p: string, origin: string, method: string, headers = '') =>
  request(gw.url, p, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, ...(headers ? { 'access-control-request-headers': headers } : {}) } });

describe('preflight', () => {
  it('is answered by the gateway without credentials and never reaches the upstream', async () => {
    const n = up.requests.length;
    const r = await preflight('/api/items', APP, 'PUT', 'authorization, content-type');
    expect(r.status).toBe(204);
    expect(r.headers['access-control-allow-origin']).toBe(APP);
    expect(r.headers['access-control-allow-credentials']).toBe('true');
    expect(r.headers['access-control-allow-methods']).toBe('GET, POST, PUT');
    expect(r.headers['access-control-allow-headers']).toBe('authorization, content-type');
    expect(r.headers['access-control-max-age']).toBe('600');
    expect(String(r.headers.vary)).toMatch(/Origin/);
    expect(up.requests.length).toBe(n);
  });

  it('matches a one-label wildcard origin and echoes it (never *)', async () => {
    const r = await preflight('/api/items', 'https://shop.example.org', 'GET');
    expect(r.status).toBe(204);
    expect(r.headers['access-control-allow-origin']).toBe('https://shop.example.org');
  });

  for (const [label, origin, method, headers] of [
    ['an origin not listed', 'https://evil.test', 'GET', ''],
    ['a look-alike origin', 'https://example.org.evil.test', 'GET', ''],
    ['two labels under the wildcard', 'https://a.b.example.org', 'GET', ''],
    ['a method not allowed', APP, 'DELETE', ''],
    ['a header not allowed', APP, 'GET', 'x-secret'],
  ] as const) {
    it(`refuses ${label}: 403 cors_denied, no CORS headers, never forwarded`, async () => {
      const n = up.requests.length;
      const r = await preflight('/api/items', origin, method, headers);
      expect(r.status).toBe(403);
      expect(r.body).toContain('cors_denied');
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
      expect(up.requests.length).toBe(n);
    });
  }

  it('a plain OPTIONS (no Access-Control-Request-Method) is an ordinary request: authenticated, then forwarded', async () => {
    const anon = await request(gw.url, '/api/items', { method: 'OPTIONS', headers: { origin: APP } });
    expect(anon.status).toBe(401);
    const n = up.requests.length;
    const ok = await request(gw.url, '/api/items', { method: 'OPTIONS', headers: { origin: APP, authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(up.requests.length).toBe(n + 1);
    expect(up.requests.at(-1)!.method).toBe('OPTIONS');
  });

  it('a route without cors answers a preflight as any request (401: no bypass of authentication)', async () => {
    const r = await preflight('/plain/x', APP, 'GET');
    expect(r.status).toBe(401);
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('actual requests', () => {
  it('an allowed origin gets the CORS headers on the proxied answer; the upstream\'s own are replaced', async () => {
    const r = await request(gw.url, '/api/items', { headers: { origin: APP, authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    expect(r.headers['access-control-allow-origin']).toBe(APP);
    expect(r.headers['access-control-allow-credentials']).toBe('true');
    expect(r.headers['access-control-expose-headers']).toBe('x-trace');
    expect(r.headers['x-trace']).toBe('trace-1');
  });

  it('the gateway\'s own 401 carries them, so the page can read why', async () => {
    const r = await request(gw.url, '/api/items', { headers: { origin: APP } });
    expect(r.status).toBe(401);
    expect(r.headers['access-control-allow-origin']).toBe(APP);
    expect(r.body).toContain('no_credentials');
  });

  it('and its 429', async () => {
    await request(gw.url, '/limited/x', { headers: { origin: APP, authorization: `Bearer ${token}` } });
    const r = await request(gw.url, '/limited/x', { headers: { origin: APP, authorization: `Bearer ${token}` } });
    expect(r.status).toBe(429);
    expect(r.headers['access-control-allow-origin']).toBe(APP);
  });

  it('an origin not allowed gets no CORS headers, and authentication still decides', async () => {
    const r = await request(gw.url, '/api/items', { headers: { origin: 'https://evil.test', authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
    const r2 = await request(gw.url, '/api/items', { headers: { origin: 'https://evil.test' } });
    expect(r2.status).toBe(401);
  });
});

describe('in a real browser (Chromium), from another origin', () => {
  let ctx: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    profile = mkdtempSync(path.join(tmpdir(), 'portcullis-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium', headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('fetch with a bearer token (preflighted) and with a cookie (credentials: include) reads the answers and the exposed header', async () => {
    const p = ctx.pages()[0] ?? (await ctx.newPage());
    await p.goto(`${pageOrigin}/`);
    const n = up.requests.length;
    const out = await p.evaluate(async ({ gwUrl, tok }) => {
      const a = await fetch(`${gwUrl}/api/items`, { method: 'PUT', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: '{"x":1}' });
      const b = await fetch(`${gwUrl}/api/items`);
      document.cookie = `tok=${tok}; path=/`;
      const c = await fetch(`${gwUrl}/cookie-api/me`, { credentials: 'include' });
      return {
        a: { status: a.status, body: await a.json(), rid: a.headers.get('x-trace') },
        b: { status: b.status, body: await b.json() },
        c: { status: c.status, body: await c.json() },
      };
    }, { gwUrl: gw.url, tok: token });
    expect(out.a.status).toBe(200);
    expect(out.a.body.method).toBe('PUT');
    expect(out.a.rid).toBe('trace-1');
    expect(out.b.status).toBe(401);
    expect(out.b.body.reason).toBe('no_credentials');
    expect(out.c.status).toBe(200);
    expect(out.c.body.url).toBe('/cookie-api/me');
    // The preflight was answered at the gateway: the upstream saw the PUT and the cookie GET only.
    expect(up.requests.slice(n).map((r) => r.method)).toEqual(['PUT', 'GET']);
  });
});
