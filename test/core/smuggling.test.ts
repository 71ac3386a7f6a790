// Request smuggling and malformed framing, sent as raw bytes. Whatever uWS
// tolerates, the gateway must refuse with 400 before forwarding; whatever uWS
// refuses at parse, must never reach the upstream either. Each case uses its
// own path so the upstream's record proves it was never forwarded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { gatewayConfig, rawRequest, request, sleep, startLabUpstream, type LabUpstream } from './util.js';

let gw: RunningGateway;
let lab: LabUpstream;
let port: number;

beforeAll(async () => {
  lab = await startLabUpstream();
  gw = await startGateway(gatewayConfig({ lab: lab.url }, [
    { name: 'static', match: { path_prefix: '/static' }, respond: { status: 200, body: 'static' } },
    { name: 'chunked', match: { path_regex: '^/smuggle/chunk-inner/' }, upstream: 'lab', chunked_uploads: true },
    { name: 'all', match: { path_prefix: '/' }, upstream: 'lab' },
  ]));
  port = gw.ports[0]!;
});

afterAll(async () => {
  await gw?.stop();
  await lab?.close();
});

let n = 0;
/** A fresh path per case. */
const fresh = (label: string) => `/smuggle/${label}/${++n}`;

/** Sends head+body; the answer must be a 400 (or a connection uWS closed/ignored), and the upstream must never see the path. */
async function refused(path: string, headerLines: string, body = '', opts: { strict400?: boolean } = {}): Promise<void> {
  const r = await rawRequest(port, `POST ${path} HTTP/1.1\r\nHost: gw\r\n${headerLines}\r\n${body}`, { timeoutMs: 1500 });
  if (opts.strict400 !== false) {
    expect(r.status, r.raw.slice(0, 200)).toBe(400);
  } else {
    // Rejected by uWS's parser: 400, or a closed connection, or no answer at all — never a success.
    expect(r.status === 0 || r.status === 400, r.raw.slice(0, 200)).toBe(true);
  }
  await sleep(50);
  expect(lab.arrivedUrls.filter((u) => u.startsWith(path))).toEqual([]);
  // Nothing smuggled behind it either.
  expect(lab.arrivedUrls.filter((u) => u.startsWith('/smuggled'))).toEqual([]);
}

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: gw\r\n\r\n';

describe('framing the gateway must refuse (400, never forwarded)', () => {
  it('duplicate Content-Length with equal values', async () => {
    await refused(fresh('dup-cl-equal'), 'Content-Length: 5\r\nContent-Length: 5\r\n', 'hello');
  });

  it('duplicate Content-Length with different values', async () => {
    await refused(fresh('dup-cl-diff'), 'Content-Length: 5\r\nContent-Length: 7\r\n', 'hello');
  });

  // uWS reads the first length, so the rest of the "body" arrives as a pipelined
  // request while our 400 is pending: uWS then closes the connection (it refuses
  // async pipelining) — no answer, and above all the smuggled request is never served.
  it('duplicate Content-Length with a request hidden behind the first length is never served', async () => {
    const body = 'hello' + SMUGGLED;
    await refused(fresh('dup-cl-smuggle'), `Content-Length: 5\r\nContent-Length: ${body.length}\r\n`, body, { strict400: false });
  });

  it('duplicate Content-Length on a respond route (framing is checked before routing, for every request)', async () => {
    const r = await rawRequest(port, 'POST /static/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello', { timeoutMs: 1500 });
    expect(r.status).toBe(400);
    const body = 'hello' + SMUGGLED;
    const r2 = await rawRequest(port, `POST /static/y HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nContent-Length: ${body.length}\r\n\r\n${body}`, { timeoutMs: 1500 });
    expect(r2.status === 0 || r2.status === 400).toBe(true);
    await sleep(50);
    expect(lab.arrivedUrls.filter((u) => u.startsWith('/smuggled'))).toEqual([]);
  });

  it('duplicate Content-Length, the larger first', async () => {
    const body = 'hello' + SMUGGLED;
    await refused(fresh('dup-cl-diff2'), `Content-Length: ${body.length}\r\nContent-Length: 5\r\n`, body);
  });

  it('Content-Length together with Transfer-Encoding: chunked', async () => {
    await refused(fresh('cl-te'), 'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\n${SMUGGLED}`);
  });

  it('Transfer-Encoding: chunked together with Content-Length (TE first)', async () => {
    await refused(fresh('te-cl'), 'Transfer-Encoding: chunked\r\nContent-Length: 4\r\n', `0\r\n\r\n${SMUGGLED}`);
  });

  for (const te of ['gzip, chunked', 'chunked, identity', 'identity', 'gzip', 'xchunked', 'chunked;q=1', 'chunked, chunked']) {
    it(`Transfer-Encoding: ${te}`, async () => {
      await refused(fresh('te'), `Transfer-Encoding: ${te}\r\n`, '5\r\nhello\r\n0\r\n\r\n');
    });
  }

  it('two Transfer-Encoding lines', async () => {
    await refused(fresh('te-twice'), 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\n\r\n');
  });

  for (const cl of ['+5', '-5', '5 5', '0x5', '5,5', '5.0', '1' + '0'.repeat(20)]) {
    it(`a malformed Content-Length ${JSON.stringify(cl)}`, async () => {
      await refused(fresh('bad-cl'), `Content-Length: ${cl}\r\n`, 'hello', { strict400: false });
    });
  }
});

describe('malformed header syntax (refused, never forwarded)', () => {
  // KNOWN LIMITATION: uWS ends its header list at an empty name, so neither
  // forEach nor getHeader shows the gateway that line or any after it, and it
  // cannot answer 400. What must hold: nothing after the empty name is forwarded.
  it('an empty header name: nothing after it ever reaches the upstream', async () => {
    const path = fresh('empty-name');
    const r = await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: gw\r\n: nameless\r\nX-After: 1\r\nX-Portcullis-Consumer: admin\r\n\r\n`, { timeoutMs: 1500 });
    expect([0, 200, 400]).toContain(r.status);
    await sleep(50);
    for (const s of lab.seen.filter((x) => x.url === path)) {
      expect(s.headers['x-after']).toBeUndefined();
      expect(s.headers['x-portcullis-consumer']).toBeUndefined();
      expect(s.rawHeaders.filter((_, i) => i % 2 === 0 && s.rawHeaders[i] === '')).toEqual([]);
    }
  });

  // Same limitation: uWS hands the gateway "POST, Content-Length: 5" and the
  // gateway may forward exactly that (re-framed by itself) before uWS drops
  // the connection; what must never reach the upstream is the hidden
  // Transfer-Encoding or the request smuggled behind the body.
  it('an empty header name hiding a Transfer-Encoding behind it: at most the Content-Length framing is forwarded', async () => {
    const path = fresh('empty-name-te');
    const r = await rawRequest(port, `POST ${path} HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n: x\r\nTransfer-Encoding: chunked\r\n\r\nhello${SMUGGLED}`, { timeoutMs: 1500 });
    expect([0, 200, 400]).toContain(r.status);
    await sleep(50);
    for (const s of lab.seen.filter((x) => x.url === path)) {
      expect(s.headers['transfer-encoding']).toBeUndefined();
      expect(s.headers['content-length']).toBe('5');
    }
    expect(lab.arrivedUrls.filter((u) => u.startsWith('/smuggled'))).toEqual([]);
  });

  it('obs-fold (a continuation line)', async () => {
    await refused(fresh('obs-fold'), 'X-Folded: first\r\n second\r\n', '', { strict400: false });
  });

  it('obs-fold with a tab', async () => {
    await refused(fresh('obs-fold-tab'), 'X-Folded: first\r\n\tsecond\r\n', '', { strict400: false });
  });

  it('a bare CR inside a value', async () => {
    await refused(fresh('cr'), 'X-Evil: a\rb\r\n', '', { strict400: false });
  });

  it('a bare LF inside a value', async () => {
    await refused(fresh('lf'), 'X-Evil: a\nTransfer-Encoding: chunked\r\n', '', { strict400: false });
  });

  it('a NUL inside a value', async () => {
    await refused(fresh('nul'), 'X-Evil: a\u0000b\r\n', '', { strict400: false });
  });

  it('a space before the colon', async () => {
    await refused(fresh('space-colon'), 'Content-Length : 5\r\n', 'hello', { strict400: false });
  });

  it('a header name with a non-token character', async () => {
    await refused(fresh('bad-name'), 'X(Evil): 1\r\n', '', { strict400: false });
  });

  it('two Host headers', async () => {
    await refused(fresh('two-hosts'), 'Host: other\r\n', '', { strict400: false });
  });
});

describe('chunked bodies that go wrong mid-stream', () => {
  it('an invalid chunk size never completes a request at the upstream', async () => {
    const path = fresh('bad-chunk');
    const r = await rawRequest(port, `POST ${path} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`, { timeoutMs: 1500 });
    expect(r.status === 200).toBe(false);
    await sleep(100);
    expect(lab.seen.filter((s) => s.url === path)).toEqual([]);
  });

  it('a request smuggled in a chunked body stays body bytes (forwarded as data, never as a request)', async () => {
    const path = fresh('chunk-inner');
    const inner = SMUGGLED;
    const r = await rawRequest(port, `POST ${path} HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).bytes).toBe(inner.length);
    await sleep(50);
    expect(lab.arrivedUrls.filter((u) => u.startsWith('/smuggled'))).toEqual([]);
  });
});

describe('request lines uWS refuses (never forwarded)', () => {
  for (const [label, line] of [
    ['absolute-form', 'GET http://127.0.0.1/abs HTTP/1.1'],
    ['asterisk-form', 'OPTIONS * HTTP/1.1'],
    // uWS speaks HTTP/1.1 only: 1.0 clients (ab, some health checkers) get 505.
    ['HTTP/1.0', 'GET /http10 HTTP/1.0'],
  ] as const) {
    it(`${label} is refused`, async () => {
      const before = lab.arrivedUrls.length;
      const r = await rawRequest(port, `${line}\r\nHost: gw\r\nConnection: close\r\n\r\n`, { timeoutMs: 1500 });
      expect(r.status === 0 || r.status >= 400).toBe(true);
      await sleep(50);
      expect(lab.arrivedUrls.length).toBe(before);
    });
  }

  it('a request without Host is refused', async () => {
    const r = await rawRequest(port, 'GET /nohost HTTP/1.1\r\nConnection: close\r\n\r\n', { timeoutMs: 1500 });
    expect(r.status).toBe(400);
    expect(lab.arrivedUrls.filter((u) => u === '/nohost')).toEqual([]);
  });
});

describe('pipelining', () => {
  it('answers pipelined requests to respond routes in order', async () => {
    const one = 'GET /static/1 HTTP/1.1\r\nHost: gw\r\n\r\n';
    const two = 'GET /static/2 HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n';
    const r = await rawRequest(port, one + two, { waitClose: true, timeoutMs: 3000 });
    expect([...r.raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]), r.raw).toEqual(['200', '200']);
  });

  // uWS refuses async pipelining (it closes the connection when a request
  // arrives while the previous answer is pending): never answers mixed up.
  it('never mixes up answers to pipelined proxied requests', async () => {
    const a = fresh('pipe-a');
    const b = fresh('pipe-b');
    const r = await rawRequest(port, `GET ${a} HTTP/1.1\r\nHost: gw\r\n\r\nGET ${b} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`, { waitClose: true, timeoutMs: 3000 });
    const urls = [...r.raw.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]);
    expect([[], [a], [a, b]]).toContainEqual(urls);
  });
});

describe('after all of it', () => {
  it('the gateway is alive and forwards a clean request', async () => {
    expect(gw.proc.exitCode).toBeNull();
    const r = await request(`${gw.url}/clean`, { method: 'POST', body: 'hello' });
    expect(r.status).toBe(200);
    expect(r.json().bytes).toBe(5);
  });
});
