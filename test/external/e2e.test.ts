// External authorization end to end through the real gateway: each answer of
// the service as the client sees it, failure closed, a warm decision cache,
// and the event loop serving other routes while the service sleeps.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startAuthzService, type AuthzService } from '../helpers/authz-service.js';
import { baseServer, request } from '../e2e/util.js';

let gw: RunningGateway;
let up: TestUpstream;
let svc: AuthzService;

beforeAll(async () => {
  svc = await startAuthzService();
  up = await startUpstream();
  gw = await startGateway({
    server: baseServer(),
    upstreams: { app: { targets: [up.url] } },
    authorizers: {
      geo: { url: svc.url, timeout: '2s', send: { headers: ['x-tenant'] }, allowed_upstream_headers: ['x-tenant-id'] },
      cached: { url: svc.url, timeout: '2s', cache: { ttl: '1m', key: ['method', 'route', 'header:x-tenant'], unkeyed: ['path', 'query', 'host', 'ip', 'identity'] } },
    },
    routes: [
      { name: 'ping', match: { path: '/ping' }, anonymous: true, respond: { status: 200, body: 'pong' } },
      { name: 'cached', match: { path_prefix: '/cached' }, anonymous: true, upstream: 'app', authorize: { external: 'cached' } },
      { name: 'orders', match: { path_prefix: '/' }, anonymous: true, upstream: 'app', authorize: { external: 'geo' } },
    ],
  });
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await svc?.close();
});
beforeEach(() => {
  svc.seen.length = 0;
  svc.handler = () => ({ status: 200 });
});

describe('external authorization through the gateway', () => {
  it('forwards on 200 with the headers the service adds', async () => {
    svc.handler = (r) => ({ status: 200, body: { headers: { 'x-tenant-id': `id-${String(r.headers['x-tenant'])}` } } });
    const r = await request(gw.url, '/orders/1', { headers: { 'x-tenant': 'acme' } });
    expect(r.status).toBe(200);
    expect(up.requests.at(-1)!.headers['x-tenant-id']).toBe('id-acme');
    expect(svc.seen[0]!.json).toMatchObject({ route: 'orders', method: 'GET', path: '/orders/1', headers: { 'x-tenant': 'acme' } });
  });

  it('passes the service\'s 403 and its redirect to the client, forwarding nothing', async () => {
    const before = up.requests.length;
    svc.handler = () => ({ status: 403, body: 'not from there', headers: { 'content-type': 'text/plain' } });
    const denied = await request(gw.url, '/orders/2');
    expect(denied.status).toBe(403);
    expect(denied.body).toBe('not from there');
    svc.handler = () => ({ status: 302, headers: { location: 'https://login.example.test/' } });
    const moved = await request(gw.url, '/orders/3');
    expect(moved.status).toBe(302);
    expect(moved.headers.location).toBe('https://login.example.test/');
    expect(up.requests.length).toBe(before);
  });

  it('closes the connection without an answer on {"action":"drop"}', async () => {
    svc.handler = () => ({ status: 200, body: { action: 'drop' } });
    await expect(request(gw.url, '/orders/4')).rejects.toThrow();
  });

  it('answers 503 and forwards nothing when the service answers garbage', async () => {
    const before = up.requests.length;
    svc.handler = () => 'garbage';
    const r = await request(gw.url, '/orders/5');
    expect(r.status).toBe(503);
    expect(r.json).toMatchObject({ reason: 'authz_unavailable' });
    expect(up.requests.length).toBe(before);
  });

  it('serves a warm decision from the cache without asking the service again', async () => {
    expect((await request(gw.url, '/cached/a', { headers: { 'x-tenant': 't1' } })).status).toBe(200);
    expect((await request(gw.url, '/cached/b', { headers: { 'x-tenant': 't1' } })).status).toBe(200);
    expect(svc.seen).toHaveLength(1);
    svc.handler = () => ({ status: 403 });
    expect((await request(gw.url, '/cached/c', { headers: { 'x-tenant': 't2' } })).status).toBe(403);
    expect(svc.seen).toHaveLength(2);
  });

  it('keeps answering other routes while the service sleeps', async () => {
    svc.handler = () => ({ status: 200, delay: 1500 });
    let slowDone = 0;
    const slow = Array.from({ length: 20 }, (_, i) => request(gw.url, `/orders/slow-${i}`).then((r) => { slowDone++; return r; }));
    // Wait until the service holds the calls, then the hot path must still answer.
    for (let i = 0; i < 200 && svc.seen.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
    const ping = await request(gw.url, '/ping');
    expect(ping.status).toBe(200);
    expect(ping.body).toBe('pong');
    expect(slowDone).toBe(0);
    const all = await Promise.all(slow);
    expect(all.every((r) => r.status === 200)).toBe(true);
  });
});
