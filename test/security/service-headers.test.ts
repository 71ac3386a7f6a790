// Headers a called service adds to the upstream request (external authorizer
// `headers`, external authenticator `headers`) replace what the client sent
// under the same name; and a second Authorization header, which the gateway
// never verified, is never forwarded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startAuthzService, type AuthzService } from '../helpers/authz-service.js';
import { AUDIENCE, ISSUER, baseServer, request, rsaKey, sign, type SigningKey } from '../e2e/util.js';

/** Every value the upstream received for `name`, in order. */
function values(raw: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

let gw: RunningGateway;
let up: TestUpstream;
let svc: AuthzService;
let key: SigningKey;

beforeAll(async () => {
  key = await rsaKey('k1');
  svc = await startAuthzService((r) => (r.url.endsWith('/authn')
    ? { status: 200, body: { consumer: 'bob', headers: { 'x-tenant': r.body.includes('s-evil') ? 'bob\u010aX-Injected: yes' : r.body.includes('s-utf8') ? 'Zoë' : 'bobs-tenant' } } }
    : { status: 200, body: { headers: { 'x-user-role': 'viewer' } } }));
  up = await startUpstream();
  gw = await startGateway({
    server: baseServer(),
    upstreams: { app: { targets: [up.url] } },
    authenticators: {
      jwt: { type: 'jwt', issuer: ISSUER, audience: [AUDIENCE], algorithms: ['RS256'], keys: [key.jwk] },
      ext: { type: 'external', url: `${svc.url}/authn`, timeout: '2s', send: { headers: ['x-session'] }, allowed_upstream_headers: ['x-tenant'] },
    },
    authorizers: { az: { url: svc.url, timeout: '2s', allowed_upstream_headers: ['x-user-role'] } },
    routes: [
      { name: 'az', match: { path_prefix: '/az' }, anonymous: true, upstream: 'app', authorize: { external: 'az' } },
      { name: 'ext', match: { path_prefix: '/ext' }, authenticate: ['ext'], upstream: 'app' },
      { name: 'jwt', match: { path_prefix: '/jwt' }, authenticate: ['jwt'], upstream: 'app' },
    ],
  });
});
afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await svc?.close();
});

describe('headers the gateway sets cannot be pre-empted by the client', () => {
  it('an external authorizer\'s header replaces the client\'s header of the same name', async () => {
    const r = await request(gw.url, '/az/1', { headers: { 'x-user-role': 'admin' } });
    expect(r.status).toBe(200);
    expect(values(up.requests.at(-1)!.rawHeaders, 'x-user-role')).toEqual(['viewer']);
  });

  it('an external authenticator\'s header replaces the client\'s header of the same name', async () => {
    const r = await request(gw.url, '/ext/1', { headers: { 'x-session': 's1', 'x-tenant': 'someone-elses-tenant' } });
    expect(r.status, gw.logs.filter((l) => l.includes('warn')).join('\n')).toBe(200);
    expect(values(up.requests.at(-1)!.rawHeaders, 'x-tenant')).toEqual(['bobs-tenant']);
  });

  it('refuses a second Authorization header instead of forwarding it unverified', async () => {
    const n = up.requests.length;
    const t = await sign(key, { sub: 'alice' });
    const r = await request(gw.url, '/jwt/1', { headers: { authorization: [`Bearer ${t}`, 'Bearer forged.admin.token'] } });
    expect(r.status).toBe(400);
    expect(up.requests.length).toBe(n);
    // One Authorization header still goes through.
    expect((await request(gw.url, '/jwt/2', { headers: { authorization: `Bearer ${t}` } })).status).toBe(200);
  });
});

describe('header values from a called service travel as bytes, never as new header lines', () => {
  // U+010A is "Ċ": written as latin1 its low byte would be LF, a header
  // injection into the upstream request. Non-ASCII text goes as its UTF-8 bytes.
  it('an external authenticator\'s value with characters above U+00FF cannot inject a header line', async () => {
    const r = await request(gw.url, '/ext/evil', { headers: { 'x-session': 's-evil' } });
    expect(r.status).toBe(200);
    const seen = up.requests.at(-1)!;
    expect(seen.url).toBe('/ext/evil');
    expect(values(seen.rawHeaders, 'x-injected')).toEqual([]);
    expect(values(seen.rawHeaders, 'x-tenant').length).toBe(1);
  });

  it('non-ASCII text from a called service reaches the upstream as its UTF-8 bytes', async () => {
    const r = await request(gw.url, '/ext/utf8', { headers: { 'x-session': 's-utf8' } });
    expect(r.status).toBe(200);
    const v = values(up.requests.at(-1)!.rawHeaders, 'x-tenant');
    expect(v.length).toBe(1);
    expect(Buffer.from(v[0]!, 'latin1').toString('utf8')).toBe('Zoë');
  });
});

describe('a client header value with characters above U+00FF', () => {
  it('reaches the upstream as the client\'s UTF-8 bytes, never as latin1 CR/LF that would add a header line', async () => {
    const { rawRequest } = await import('../core/util.js');
    const n = up.requests.length;
    const head = Buffer.concat([Buffer.from('GET /az/utf8 HTTP/1.1\r\nHost: gw\r\nX-Name: a'), Buffer.from('\u010d\u010aX-Injected: yes', 'utf8'), Buffer.from('\r\n\r\n')]);
    const r = await rawRequest(gw.ports[0]!, head, { timeoutMs: 3000 });
    expect(r.status).toBe(200);
    expect(up.requests.length).toBe(n + 1);
    const got = up.requests.at(-1)!.rawHeaders;
    expect(values(got, 'x-injected')).toEqual([]);
    expect(Buffer.from(values(got, 'x-name')[0]!, 'latin1').toString('utf8')).toBe('a\u010d\u010aX-Injected: yes');
  });
});
