// Every answer the gateway gives itself carries x-request-id — 401, 403, 404,
// 405, 413, 429 and respond routes — and its access-log line has the same id
// and the bytes of the body it sent (both were empty/0 on rejections).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

let gw: RunningGateway;

beforeAll(async () => {
  gw = await startGateway({
    server: { listen: [{ host: '127.0.0.1', port: 0 }], limits: { max_body: '1KiB' } },
    access_log: { enabled: true },
    upstreams: { up: { targets: ['http://127.0.0.1:9'] } },
    authenticators: { j: { type: 'jwt', algorithms: ['HS256'], secret: 'k'.repeat(40) } },
    rate_limits: { one: { key: 'ip', rate: 1, per: '1h', burst: 1 } },
    routes: [
      { name: 'ping', match: { path: '/ping' }, anonymous: true, respond: { status: 200, body: 'pong' } },
      { name: 'private', match: { path_prefix: '/private' }, authenticate: ['j'], upstream: 'up' },
      { name: 'office', match: { path_prefix: '/office' }, anonymous: true, authorize: { ip_allow: ['10.0.0.0/8'] }, upstream: 'up' },
      { name: 'once', match: { path_prefix: '/once' }, anonymous: true, rate_limit: ['one'], respond: { status: 200, body: 'ok' } },
      { name: 'get-only', match: { path_prefix: '/get-only', methods: ['GET'] }, anonymous: true, respond: { status: 200 } },
      { name: 'upload', match: { path_prefix: '/upload' }, anonymous: true, upstream: 'up' },
    ],
  });
});

afterAll(async () => { await gw?.stop(); });

interface LogLine { request_id: string; status: number; bytes: number; reason: string }

async function sent(path: string, init: RequestInit = {}): Promise<{ status: number; id: string; body: string; line: LogLine }> {
  const r = await fetch(`${gw.url}${path}`, init);
  const body = await r.text();
  const id = r.headers.get('x-request-id') ?? '';
  expect(id, `${path}: x-request-id`).toMatch(/^\S{8,}$/);
  const raw = await gw.waitForLog(new RegExp(`"request_id":"${id.replace(/[^\w-]/g, '.')}"`));
  return { status: r.status, id, body, line: JSON.parse(raw) as LogLine };
}

describe('x-request-id on the gateway\'s own answers, and in the access log', () => {
  const cases: [string, string, RequestInit, number][] = [
    ['401 no credentials', '/private/x', {}, 401],
    ['403 ip denied', '/office/x', {}, 403],
    ['404 no route', '/nowhere', {}, 404],
    ['405 method not allowed', '/get-only', { method: 'POST' }, 405],
    ['413 body too large', '/upload', { method: 'POST', body: 'x'.repeat(4096) }, 413],
    ['200 respond route', '/ping', {}, 200],
  ];
  for (const [what, path, init, status] of cases) {
    it(what, async () => {
      const r = await sent(path, init);
      expect(r.status).toBe(status);
      expect(r.line.status).toBe(status);
      expect(r.line.request_id).toBe(r.id);
      expect(r.line.bytes).toBe(Buffer.byteLength(r.body));
      expect(r.line.bytes).toBeGreaterThan(0);
    });
  }

  it('429 rate limited', async () => {
    const first = await sent('/once');
    expect(first.status).toBe(200);
    const r = await sent('/once');
    expect(r.status).toBe(429);
    expect(r.line.request_id).toBe(r.id);
    expect(r.id).not.toBe(first.id);
    expect(r.line.bytes).toBe(Buffer.byteLength(r.body));
  });

  it('a client cannot choose the id of a rejection (its peer is not a trusted proxy)', async () => {
    const r = await sent('/nowhere', { headers: { 'x-request-id': 'client-chosen-id' } });
    expect(r.id).not.toBe('client-chosen-id');
  });
});
