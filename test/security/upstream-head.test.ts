// Issue 13, findings 1–3, through the real gateway with an upstream that
// records the exact bytes it receives: no identity value splits the upstream
// request, non-ASCII identities arrive as UTF-8, chunked bodies cannot hide a
// request, and a method is a case-sensitive token.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startAuthzService, type AuthzService } from '../helpers/authz-service.js';
import { AUDIENCE, ISSUER, baseServer, rsaKey, sign, sleep, type SigningKey } from '../e2e/util.js';
import { rawRequest } from '../core/util.js';

/** An upstream that keeps every byte and answers each request head it sees (no bodies parsed but Content-Length/chunked skipped). */
interface RawUpstream { url: string; bytes(): Buffer; heads(): string[]; close(): Promise<void> }
async function rawUpstream(): Promise<RawUpstream> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      chunks.push(d);
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        const head = buf.subarray(0, end).toString('latin1');
        let rest = buf.subarray(end + 4);
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        if (cl) {
          const n = Number(cl[1]);
          if (rest.length < n) break;
          rest = rest.subarray(n);
        } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          const z = rest.indexOf('0\r\n\r\n');
          if (z < 0) break;
          rest = rest.subarray(z + 5);
        }
        buf = rest;
        s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok');
      }
    });
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const bytes = () => Buffer.concat(chunks);
  return {
    url: `http://127.0.0.1:${port}`,
    bytes,
    heads: () => bytes().toString('latin1').split('\r\n\r\n').filter((h) => /^[A-Za-z]+ \S+ HTTP\/1\.1\r\n/.test(h)),
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/** The head's bytes hold CR and LF only as CRLF line ends, and no NUL or other controls. */
function cleanHead(head: string): boolean {
  const lines = head.split('\r\n');
  return lines.every((l) => !/[\x00-\x08\x0a-\x1f\x7f]/.test(l));
}

let gw: RunningGateway;
let gwUndici: RunningGateway;
let up: RawUpstream;
let svc: AuthzService;
let key: SigningKey;

function config(client?: 'undici') {
  return {
    server: baseServer(),
    upstreams: { app: { targets: [up.url], ...(client ? { client } : {}) } },
    authenticators: {
      jwt: {
        type: 'jwt', issuer: ISSUER, audience: [AUDIENCE], algorithms: ['RS256'], keys: [key.jwk],
        forward_claims: { name: 'x-user-name' },
      },
      ext: { type: 'external', url: `${svc.url}/authn`, timeout: '2s', send: { headers: ['x-session'] } },
    },
    routes: [
      { name: 'jwt', match: { path_prefix: '/jwt' }, authenticate: ['jwt'], upstream: 'app' },
      { name: 'ext', match: { path_prefix: '/ext' }, authenticate: ['ext'], upstream: 'app' },
      { name: 'items-write', match: { path_prefix: '/api/items', methods: ['POST', 'PUT', 'PATCH', 'DELETE'] }, authenticate: ['jwt'], upstream: 'app' },
      { name: 'items-read', match: { path_prefix: '/api/items' }, anonymous: true, upstream: 'app' },
      { name: 'uploads', match: { path_prefix: '/uploads' }, anonymous: true, upstream: 'app', chunked_uploads: true },
      { name: 'static', match: { path_prefix: '/static' }, anonymous: true, respond: { status: 200, body: 'static' } },
      { name: 'overrides', match: { path_prefix: '/overrides' }, anonymous: true, upstream: 'app', request_headers: { pass_overrides: true } },
      { name: 'open', match: { path_prefix: '/' }, anonymous: true, upstream: 'app' },
    ],
  };
}

beforeAll(async () => {
  key = await rsaKey('k1');
  up = await rawUpstream();
  svc = await startAuthzService((r) => {
    const m = /"x-session":"([^"]*)"/.exec(r.body);
    const who = m ? JSON.parse(`"${m[1]}"`) as string : 'nobody';
    return { status: 200, body: { consumer: who === 'evil' ? 'bob\r\nx-portcullis-consumer: admin' : who === 'evil2' ? 'bob\u010d\u010aGET /internal/secret HTTP/1.1' : who } };
  });
  gw = await startGateway(config());
  gwUndici = await startGateway(config('undici'));
});

afterAll(async () => {
  await gw?.stop();
  await gwUndici?.stop();
  await up?.close();
  await svc?.close();
});

const HOSTILE_SUBS = [
  'bob\r\nx-portcullis-consumer: admin',
  'bob\r\n\r\nGET /internal/secret HTTP/1.1\r\nHost: x',
  'bob\nx-evil: 1',
  'bob\rx-evil: 1',
  'bob\u0000admin',
  'bob\u0100\u0000',
  'bob\u007f',
  'bob\u001b[31m',
];

describe.each([['native client', () => gw], ['undici', () => gwUndici]])('identity values through the %s', (_label, gwOf) => {
  for (const sub of HOSTILE_SUBS) {
    it(`a token whose sub is ${JSON.stringify(sub)} is refused (400 unsafe_header_value), nothing reaches the upstream`, async () => {
      const before = up.bytes().length;
      const token = await sign(key, { sub });
      const r = await rawRequest(gwOf().ports[0]!, `GET /jwt/x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`, { timeoutMs: 3000 });
      expect(r.status).toBe(400);
      expect(r.body).toContain('unsafe_header_value');
      await sleep(30);
      expect(up.bytes().length).toBe(before);
    });
  }

  it('a forward_claims value with a bare LF is refused, not silently dropped', async () => {
    const before = up.bytes().length;
    const token = await sign(key, { sub: 'alice', name: 'Alice\nx-role: admin' });
    const r = await rawRequest(gwOf().ports[0]!, `GET /jwt/x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`, { timeoutMs: 3000 });
    expect(r.status).toBe(400);
    expect(r.body).toContain('unsafe_header_value');
    await sleep(30);
    expect(up.bytes().length).toBe(before);
  });

  it('a non-ASCII consumer and claim travel as their UTF-8 bytes, never truncated to latin1', async () => {
    const before = up.bytes().length;
    const token = await sign(key, { sub: 'Zoë Čapek 🙂', name: 'Ċ Ġ č' });
    const r = await rawRequest(gwOf().ports[0]!, `GET /jwt/utf8 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`, { timeoutMs: 3000 });
    expect(r.status).toBe(200);
    await sleep(30);
    const wire = up.bytes().subarray(before);
    const head = wire.toString('latin1');
    expect(head.match(/^GET /gm)?.length).toBe(1);
    expect(cleanHead(head.split('\r\n\r\n')[0]!)).toBe(true);
    expect(wire.includes(Buffer.from('x-portcullis-consumer: Zoë Čapek 🙂\r\n', 'utf8'))).toBe(true);
    expect(wire.includes(Buffer.from('x-user-name: Ċ Ġ č\r\n', 'utf8'))).toBe(true);
  });

  // U+010D, U+010A, U+0120 are CR, LF and SP once truncated to latin1: as UTF-8 they are harmless text.
  for (const sub of ['bob\u010d\u010ax-portcullis-consumer: admin', 'bob\u010a\u010aGET\u0120/internal/secret\u0120HTTP/1.1']) {
    it(`a token whose sub is ${JSON.stringify(sub)} is one request upstream, the sub as its UTF-8 bytes`, async () => {
      const before = up.bytes().length;
      const token = await sign(key, { sub });
      const r = await rawRequest(gwOf().ports[0]!, `GET /jwt/latin1-trap HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`, { timeoutMs: 3000 });
      expect(r.status).toBe(200);
      await sleep(30);
      const wire = up.bytes().subarray(before);
      const text = wire.toString('latin1');
      expect(text.match(/(^|\r\n)GET /g)?.length).toBe(1);
      expect(text).not.toContain('/internal/secret HTTP');
      expect(cleanHead(text.split('\r\n\r\n')[0]!)).toBe(true);
      expect((text.match(/\r\nx-portcullis-consumer:/g) ?? []).length).toBe(1);
      expect(wire.includes(Buffer.from(`x-portcullis-consumer: ${sub}\r\n`, 'utf8'))).toBe(true);
    });
  }

  it('an external authenticator\'s consumer with CR/LF is refused', async () => {
    const before = up.bytes().length;
    const r = await rawRequest(gwOf().ports[0]!, 'GET /ext/x HTTP/1.1\r\nHost: gw\r\nX-Session: evil\r\nConnection: close\r\n\r\n', { timeoutMs: 3000 });
    expect(r.status).toBe(400);
    expect(r.body).toContain('unsafe_header_value');
    await sleep(30);
    expect(up.bytes().length).toBe(before);
  });

  it('an external authenticator\'s consumer with U+010D/U+010A is one request upstream, as UTF-8', async () => {
    const before = up.bytes().length;
    const r = await rawRequest(gwOf().ports[0]!, 'GET /ext/x HTTP/1.1\r\nHost: gw\r\nX-Session: evil2\r\nConnection: close\r\n\r\n', { timeoutMs: 3000 });
    expect(r.status).toBe(200);
    await sleep(30);
    const text = up.bytes().subarray(before).toString('latin1');
    expect(text.match(/(^|\r\n)GET /g)?.length).toBe(1);
    expect(cleanHead(text.split('\r\n\r\n')[0]!)).toBe(true);
  });
});

describe('methods are case-sensitive tokens', () => {
  it('`delete` without credentials neither matches the anonymous route nor reaches the upstream', async () => {
    const before = up.bytes().length;
    const r = await rawRequest(gw.ports[0]!, 'delete /api/items/42 HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n', { timeoutMs: 2000 });
    expect(r.status).toBe(400);
    expect(r.body).toContain('bad_method');
    await sleep(30);
    expect(up.bytes().length).toBe(before);
  });

  for (const m of ['Delete', 'get', 'pOST', 'Patch', 'options', 'G"T', 'G:T', 'G\x7fT', 'G(T', 'G,T', 'G@T', 'GE\u00c9T']) {
    it(`method ${JSON.stringify(m)} is refused and never forwarded`, async () => {
      const before = up.bytes().length;
      const r = await rawRequest(gw.ports[0]!, Buffer.from(`${m} /open/m HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`, 'latin1'), { timeoutMs: 2000 });
      // uWS refuses some request lines itself (400, 505 or a closed connection); the gateway refuses the rest with bad_method.
      expect(r.status === 0 || r.status >= 400).toBe(true);
      await sleep(30);
      expect(up.bytes().length).toBe(before);
    });
  }

  it('an upper-case extension method (PROPFIND) is forwarded as written', async () => {
    const before = up.bytes().length;
    const r = await rawRequest(gw.ports[0]!, 'PROPFIND /open/dav HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n', { timeoutMs: 2000 });
    expect(r.status).toBe(200);
    await sleep(30);
    expect(up.bytes().subarray(before).toString('latin1')).toMatch(/^PROPFIND \/open\/dav HTTP\/1\.1\r\n/);
  });
});

/** Sends bytes on one connection and reads until the gateway closes it (bounded). */
function exchange(port: number, bytes: string, ms = 2500): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean) => { if (!done) { done = true; clearTimeout(t); s.destroy(); resolve({ text, closed }); } };
    const t = setTimeout(() => finish(false), ms);
    s.on('data', (d) => { text += d.toString('latin1'); });
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    s.write(Buffer.from(bytes, 'latin1'));
  });
}

const TRAILER_TRICK = (path: string) =>
  `POST ${path} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\naa:GET /smuggled/trailer HTTP/1.1\r\nHost: x\r\n\r\n`;

describe('chunked request bodies', () => {
  it('are refused by default: 411 length_required, connection closed, never forwarded', async () => {
    const before = up.bytes().length;
    const r = await exchange(gw.ports[0]!, 'POST /open/c HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /smuggled/after HTTP/1.1\r\nHost: gw\r\n\r\n');
    expect(r.closed).toBe(true);
    // Either the 411 (one answer, never two) or a connection uWS closed when it met the pipelined request.
    expect((r.text.match(/HTTP\/1\.1 /g) ?? []).length).toBeLessThanOrEqual(1);
    if (r.text !== '') expect(r.text).toMatch(/^HTTP\/1\.1 411 [\s\S]*length_required/);
    await sleep(30);
    expect(up.bytes().length).toBe(before);
  });

  it('a lone chunked request gets its 411 with the reason', async () => {
    const r = await exchange(gw.ports[0]!, 'POST /open/c2 HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    expect(r.text).toMatch(/^HTTP\/1\.1 411 Length Required\r\n/);
    expect(r.text).toContain('"reason":"length_required"');
    expect(r.closed).toBe(true);
  });

  for (const [label, path] of [['a proxied route', '/open/t'], ['a respond route', '/static/t'], ['an authenticated route (401)', '/jwt/t'], ['no route (404)', '/nowhere-but-open-matches']] as const) {
    it(`a request hidden in a trailer section is never served (${label})`, async () => {
      const before = up.bytes().length;
      const r = await exchange(gw.ports[0]!, TRAILER_TRICK(path));
      expect((r.text.match(/HTTP\/1\.1 /g) ?? []).length).toBeLessThanOrEqual(1);
      expect(r.text).not.toMatch(/HTTP\/1\.1 200/);
      expect(r.closed).toBe(true);
      await sleep(30);
      expect(up.bytes().length).toBe(before);
    });
  }

  it('on a chunked_uploads route: forwarded re-framed, answered with Connection: close, nothing after it served', async () => {
    const before = up.bytes().length;
    const r = await exchange(gw.ports[0]!, 'POST /uploads/a HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    expect(r.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(r.text.toLowerCase()).toContain('connection: close');
    expect(r.closed).toBe(true);
    await sleep(30);
    const wire = up.bytes().subarray(before).toString('latin1');
    expect(wire).toMatch(/^POST \/uploads\/a HTTP\/1\.1\r\n/);
    expect(wire).toContain('hello');
  });

  it('on a chunked_uploads route: a trailer-section request is never served or forwarded', async () => {
    const before = up.bytes().length;
    const r = await exchange(gw.ports[0]!, TRAILER_TRICK('/uploads/t'));
    expect((r.text.match(/HTTP\/1\.1 /g) ?? []).length).toBeLessThanOrEqual(1);
    expect(r.closed).toBe(true);
    await sleep(50);
    expect(up.bytes().subarray(before).toString('latin1')).not.toContain('/smuggled/');
  });

  it('on a chunked_uploads route: a pipelined request after the body is never served', async () => {
    const before = up.bytes().length;
    const r = await exchange(gw.ports[0]!, 'POST /uploads/p HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /smuggled/pipelined HTTP/1.1\r\nHost: gw\r\n\r\n');
    expect((r.text.match(/HTTP\/1\.1 /g) ?? []).length).toBeLessThanOrEqual(1);
    expect(r.closed).toBe(true);
    await sleep(50);
    expect(up.bytes().subarray(before).toString('latin1')).not.toContain('/smuggled/');
  });
});

const OVERRIDES = [
  'X-HTTP-Method-Override: DELETE', 'X-HTTP-Method: DELETE', 'X-Method-Override: DELETE', 'X-Original-Method: DELETE',
  'X-Original-URL: /admin', 'X-Rewrite-URL: /admin', 'X-Original-URI: /admin', 'True-Client-IP: 10.0.0.1',
  'X-Client-IP: 10.0.0.1', 'X-Cluster-Client-IP: 10.0.0.1', 'X-Forwarded-Prefix: /evil', 'X-Forwarded-Server: evil',
  'X-Forwarded-Uri: /admin', 'CF-Connecting-IP: 10.0.0.1', 'Fastly-Client-IP: 10.0.0.1', 'X-Forwarded: for=10.0.0.1',
  'X-Envoy-Original-Path: /admin',
];
const UNDERSCORED = ['x_portcullis_consumer: admin', 'X_Portcullis_Authenticator: jwt', 'x_forwarded_for: 10.0.0.1', 'x_request_id: forged', 'x_user_name: Admin'];

/** The header lines of the last request head the upstream got after `before` bytes. */
function headLines(before: number): string[] {
  return up.bytes().subarray(before).toString('latin1').split('\r\n\r\n')[0]!.split('\r\n').slice(1);
}

describe('headers upstream frameworks trust, from a client', () => {
  it('override headers and underscore spellings of the gateway\'s headers never reach the upstream by default', async () => {
    const before = up.bytes().length;
    const r = await rawRequest(gw.ports[0]!, `GET /open/ov HTTP/1.1\r\nHost: gw\r\n${[...OVERRIDES, ...UNDERSCORED].join('\r\n')}\r\nX-Kept: yes\r\nConnection: close\r\n\r\n`, { timeoutMs: 3000 });
    expect(r.status).toBe(200);
    await sleep(30);
    const lines = headLines(before).map((l) => l.toLowerCase());
    expect(lines).toContain('x-kept: yes');
    for (const h of [...OVERRIDES, ...UNDERSCORED]) expect(lines).not.toContain(h.toLowerCase());
    expect(lines.filter((l) => l.startsWith('x-forwarded-for:'))).toEqual(['x-forwarded-for: 127.0.0.1']);
  });

  it('with request_headers.pass_overrides the override headers pass, the underscore spellings still never do', async () => {
    const before = up.bytes().length;
    const r = await rawRequest(gw.ports[0]!, `GET /overrides/ov HTTP/1.1\r\nHost: gw\r\nX-HTTP-Method-Override: DELETE\r\nX-Original-URL: /admin\r\n${UNDERSCORED.join('\r\n')}\r\nConnection: close\r\n\r\n`, { timeoutMs: 3000 });
    expect(r.status).toBe(200);
    await sleep(30);
    const lines = headLines(before).map((l) => l.toLowerCase());
    expect(lines).toContain('x-http-method-override: delete');
    expect(lines).toContain('x-original-url: /admin');
    for (const h of UNDERSCORED) expect(lines).not.toContain(h.toLowerCase());
  });
});

describe('the Host the gateway writes per target', () => {
  it('a client header whose value is "host" neither renames the next header nor empties Host (both clients)', async () => {
    for (const g of [gw, gwUndici]) {
      const before = up.bytes().length;
      const r = await rawRequest(g.ports[0]!, 'GET /open/h HTTP/1.1\r\nHost: gw\r\nX-Foo: host\r\nX-Bar: v\r\nConnection: close\r\n\r\n', { timeoutMs: 3000 });
      expect(r.status).toBe(200);
      await sleep(30);
      const lines = headLines(before);
      expect(lines).toContain('x-foo: host');
      expect(lines).toContain('x-bar: v');
      const host = lines.filter((l) => l.startsWith('host:'));
      expect(host).toEqual([`host: ${new URL(up.url).host}`]);
      expect(lines.every((l) => /^[!#$%&'*+\-.^_`|~0-9a-z]+: /.test(l))).toBe(true);
    }
  });
});
