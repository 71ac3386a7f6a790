// Path parameters (`;…` inside a segment) must not let a request slip past a
// protected route: Tomcat, Jetty, Spring and other servlet containers drop
// them, so `/admin;x/secret` IS `/admin/secret` upstream. The gateway routes
// it as the upstream will read it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { AUDIENCE, ISSUER, baseServer, request, rsaKey, type SigningKey } from '../e2e/util.js';

let gw: RunningGateway;
let up: TestUpstream;
let key: SigningKey;

beforeAll(async () => {
  key = await rsaKey('k1');
  up = await startUpstream();
  gw = await startGateway({
    server: baseServer(),
    upstreams: { app: { targets: [up.url] } },
    authenticators: { jwt: { type: 'jwt', issuer: ISSUER, audience: [AUDIENCE], algorithms: ['RS256'], keys: [key.jwk] } },
    routes: [
      { name: 'admin', match: { path_prefix: '/admin' }, authenticate: ['jwt'], upstream: 'app' },
      { name: 'report', match: { path: '/internal/report' }, authenticate: ['jwt'], upstream: 'app' },
      { name: 'api-admin', match: { path_prefix: '/api/admin/' }, authenticate: ['jwt'], upstream: 'app' },
      { name: 'public', match: { path_prefix: '/' }, anonymous: true, upstream: 'app' },
    ],
  });
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

describe('path parameters never route around a protected route', () => {
  for (const p of ['/admin;x/secret', '/admin;', '/internal/report;jsessionid=1', '/internal;a=b/report', '/api;v=1/admin/users', '/api/admin;/users']) {
    it(`${p} is routed like the path without its parameters (401, not forwarded)`, async () => {
      const n = up.requests.length;
      const r = await request(gw.url, p);
      expect(r.status).toBe(401);
      expect(up.requests.length).toBe(n);
    });
  }

  it('parameters on an unprotected path still go upstream unchanged', async () => {
    const r = await request(gw.url, '/shop;region=eu/items');
    expect(r.status).toBe(200);
    expect(up.requests.at(-1)!.url).toBe('/shop;region=eu/items');
  });
});
