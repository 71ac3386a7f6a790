// A client header value a called service is sent but no HTTP header can carry
// (DEL, or bytes that decode to text outside latin1) must never look like a
// service failure: with failure_mode: allow that would let the request through.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startAuthzService, type AuthzService } from '../helpers/authz-service.js';
import { rawRequest } from '../core/util.js';
import { sleep } from '../e2e/util.js';

let gw: RunningGateway;
let up: TestUpstream;
let svc: AuthzService;

beforeAll(async () => {
  svc = await startAuthzService((r) => (r.url.endsWith('/authn') ? { status: 200, body: { consumer: 'bob' } } : { status: 403 }));
  up = await startUpstream();
  gw = await startGateway({
    server: { listen: [{ host: '127.0.0.1', port: 0 }] },
    upstreams: { app: { targets: [up.url] } },
    authenticators: { ext: { type: 'external', url: `${svc.url}/authn`, timeout: '2s', failure_mode: 'allow', send: { headers: ['x-session', 'x-tenant'] } } },
    authorizers: { az: { url: `${svc.url}/authz`, timeout: '2s', failure_mode: 'allow', send: { headers: ['x-tenant'] } } },
    routes: [
      { name: 'both', match: { path_prefix: '/both' }, authenticate: ['ext'], authorize: { external: 'az' }, upstream: 'app' },
      { name: 'az', match: { path_prefix: '/az' }, anonymous: true, authorize: { external: 'az' }, upstream: 'app' },
    ],
  });
});

afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await svc?.close();
});

const send = (path: string, tenant: Buffer) => rawRequest(gw.ports[0]!, Buffer.concat([
  Buffer.from(`GET ${path} HTTP/1.1\r\nHost: gw\r\nX-Session: s1\r\nX-Tenant: `), tenant, Buffer.from('\r\nConnection: close\r\n\r\n'),
]), { timeoutMs: 3000 });

describe('client values sent to external services', () => {
  for (const path of ['/both/x', '/az/x']) {
    it(`a DEL in a sent header is 400 unsafe_header_value, never failure_mode: allow (${path})`, async () => {
      const n = up.requests.length;
      const r = await send(path, Buffer.from('a\x7fb', 'latin1'));
      expect(r.status).toBe(400);
      expect(r.body).toContain('unsafe_header_value');
      await sleep(30);
      expect(up.requests.length).toBe(n);
    });

    it(`non-latin1 text in a sent header reaches the service (whose 403 stands), never failure_mode: allow (${path})`, async () => {
      const n = up.requests.length;
      for (const bytes of [Buffer.from('a\xffb', 'latin1'), Buffer.from('zo\u00eb \u010d\u010a \u{1f642}x', 'utf8')]) {
        const r = await send(path, bytes);
        expect(r.status, bytes.toString('hex')).toBe(403);
      }
      await sleep(30);
      expect(up.requests.length).toBe(n);
    });
  }
});
