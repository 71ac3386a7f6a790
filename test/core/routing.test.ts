// Routing end to end through the real gateway: the normalised path is what is
// routed and forwarded, hosts/methods/headers select routes, respond routes
// answer without an upstream, strip_prefix rewrites the forwarded path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { gatewayConfig, rawRequest, request } from './util.js';

let gw: RunningGateway;
let up: TestUpstream;
let port: number;

beforeAll(async () => {
  up = await startUpstream();
  gw = await startGateway(gatewayConfig({ echo: up.url }, [
    { name: 'internal', match: { path_prefix: '/internal' }, respond: { status: 200, body: 'internal-route' } },
    { name: 'api', match: { path_prefix: '/api' }, upstream: 'echo' },
    { name: 'exact-host', match: { hosts: ['api.example.com'], path_prefix: '/h' }, respond: { status: 200, body: 'exact-host' } },
    { name: 'wild-host', match: { hosts: ['*.example.org'], path_prefix: '/h' }, respond: { status: 200, body: 'wild-host' } },
    { name: 'post-only', match: { path: '/m', methods: ['POST'] }, respond: { status: 200, body: 'post-only' } },
    { name: 'get-only', match: { path: '/g', methods: ['GET'] }, respond: { status: 200, body: 'get-only' } },
    { name: 'by-header', match: { path: '/hdr', headers: { 'x-api-version': '2' } }, respond: { status: 200, body: 'v2' } },
    { name: 'regex', match: { path_regex: '^/items/[0-9]+$' }, respond: { status: 200, body: 'item' } },
    {
      name: 'teapot', match: { path: '/teapot' },
      respond: { status: 418, body: '{"short":"stout"}', headers: { 'content-type': 'application/json', 'x-custom': 'yes' } },
    },
    { name: 'empty', match: { path: '/empty' }, respond: { status: 204 } },
    { name: 'strip', match: { path_prefix: '/strip' }, upstream: 'echo', strip_prefix: true },
    { name: 'keep', match: { path_prefix: '/keep' }, upstream: 'echo' },
  ]));
  port = gw.ports[0]!;
});

afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

/** Sends a request line as-is (no client-side normalisation). */
function rawGet(path: string, extra = ''): ReturnType<typeof rawRequest> {
  return rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: gw.test\r\n${extra}Connection: close\r\n\r\n`);
}

/** Requests seen by the upstream during `fn`. */
async function seenDuring(fn: () => Promise<unknown>): Promise<string[]> {
  const before = up.requests.length;
  await fn();
  return up.requests.slice(before).map((r) => r.url);
}

describe('path normalisation before routing', () => {
  it('routes /api/../internal to the /internal route, never to /api', async () => {
    const urls = await seenDuring(async () => {
      const r = await rawGet('/api/../internal');
      expect(r.status).toBe(200);
      expect(r.body).toBe('internal-route');
    });
    expect(urls).toEqual([]);
  });

  for (const p of ['/api/%2e%2e/internal', '/api/%2E%2E/internal', '/api/%2e%2E/internal', '/api/.%2e/internal']) {
    it(`routes encoded dot segments ${p} as /internal`, async () => {
      const urls = await seenDuring(async () => {
        const r = await rawGet(p);
        expect(r.status).toBe(200);
        expect(r.body).toBe('internal-route');
      });
      expect(urls).toEqual([]);
    });
  }

  for (const p of ['/api%2f..%2finternal', '/api/%2F', '/api/a%5cb', '/api/a%5Cb', '/api/a%00b', '/api/a%3bb', '/api/a%3Bx=1', '/api/a%25', '/api/../../etc/passwd', '/api\\..\\internal']) {
    it(`rejects ${p} with 400 and never forwards it`, async () => {
      const urls = await seenDuring(async () => {
        const r = await rawGet(p);
        expect(r.status).toBe(400);
      });
      expect(urls).toEqual([]);
    });
  }

  it('collapses // and resolves ./ before forwarding the normalised path', async () => {
    const r = await rawGet('//api//v1/./orders//42');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).url).toBe('/api/v1/orders/42');
  });

  it('decodes percent-encoded unreserved characters and forwards the decoded path with the query', async () => {
    const r = await rawGet('/%61pi/%7Euser?q=%2f&x=1');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).url).toBe('/api/~user?q=%2f&x=1');
  });

  it('is segment-aware: /apix is not under /api', async () => {
    const r = await request(`${gw.url}/apix`);
    expect(r.status).toBe(404);
  });
});

describe('route selection', () => {
  it('answers 404 with a JSON body when no route matches', async () => {
    const r = await request(`${gw.url}/nothing/here`);
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toMatch(/application\/json/);
    expect(r.json()).toEqual({ error: 'not_found', reason: 'route_not_found' });
  });

  it('matches an exact host case-insensitively and ignoring the port', async () => {
    expect((await request(`${gw.url}/h`, { headers: { host: 'api.example.com' } })).text).toBe('exact-host');
    expect((await request(`${gw.url}/h`, { headers: { host: 'API.Example.COM:8443' } })).text).toBe('exact-host');
    expect((await request(`${gw.url}/h`, { headers: { host: 'other.example.com' } })).status).toBe(404);
  });

  it('matches *.suffix hosts but not the bare suffix', async () => {
    expect((await request(`${gw.url}/h/x`, { headers: { host: 'a.example.org' } })).text).toBe('wild-host');
    expect((await request(`${gw.url}/h/x`, { headers: { host: 'deep.a.example.org' } })).text).toBe('wild-host');
    expect((await request(`${gw.url}/h/x`, { headers: { host: 'example.org' } })).status).toBe(404);
    expect((await request(`${gw.url}/h/x`, { headers: { host: 'badexample.org' } })).status).toBe(404);
  });

  it('matches methods: POST-only route refuses GET, GET route also serves HEAD', async () => {
    expect((await request(`${gw.url}/m`, { method: 'POST' })).text).toBe('post-only');
    expect([404, 405]).toContain((await request(`${gw.url}/m`)).status);
    expect((await request(`${gw.url}/g`)).text).toBe('get-only');
    const head = await request(`${gw.url}/g`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect([404, 405]).toContain((await request(`${gw.url}/g`, { method: 'DELETE' })).status);
  });

  it('matches exact header values', async () => {
    expect((await request(`${gw.url}/hdr`, { headers: { 'x-api-version': '2' } })).text).toBe('v2');
    expect((await request(`${gw.url}/hdr`, { headers: { 'x-api-version': '3' } })).status).toBe(404);
    expect((await request(`${gw.url}/hdr`)).status).toBe(404);
  });

  it('matches path_regex against the normalised path', async () => {
    expect((await request(`${gw.url}/items/42`)).text).toBe('item');
    expect((await rawGet('/items/x/../42')).body).toBe('item');
    expect((await request(`${gw.url}/items/4x`)).status).toBe(404);
  });
});

describe('respond routes', () => {
  it('answer with the configured status, body and headers without an upstream', async () => {
    const urls = await seenDuring(async () => {
      const r = await request(`${gw.url}/teapot`);
      expect(r.status).toBe(418);
      expect(r.text).toBe('{"short":"stout"}');
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-custom']).toBe('yes');
      expect(r.headers['uwebsockets']).toBe('20');
    });
    expect(urls).toEqual([]);
  });

  it('answer 204 with no body', async () => {
    const r = await request(`${gw.url}/empty`);
    expect(r.status).toBe(204);
    expect(r.body.length).toBe(0);
  });
});

describe('strip_prefix', () => {
  it('removes the matched prefix from the forwarded path and keeps the query', async () => {
    const r = await request(`${gw.url}/strip/a/b?x=1`);
    expect(r.status).toBe(200);
    expect(r.json().url).toBe('/a/b?x=1');
  });

  it('forwards / for the bare prefix', async () => {
    expect((await request(`${gw.url}/strip`)).json().url).toBe('/');
    expect((await request(`${gw.url}/strip/`)).json().url).toBe('/');
  });

  it('keeps the prefix on routes without strip_prefix', async () => {
    expect((await request(`${gw.url}/keep/a`)).json().url).toBe('/keep/a');
  });

  it('strips from the normalised path (no climbing out through the prefix)', async () => {
    const r = await rawGet('/strip/a/../b');
    expect(JSON.parse(r.body).url).toBe('/b');
  });
});
