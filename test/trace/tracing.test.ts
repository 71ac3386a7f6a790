// Tracing end to end: a real gateway exporting to a real OTLP/HTTP receiver,
// a real upstream and a real external authorizer recording the traceparent
// they were sent. Sampled parents, head sampling on and off, unparseable
// headers, no query string in spans, and an endpoint that is down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startAuthzService, type AuthzService } from '../helpers/authz-service.js';
import { AUDIENCE, ISSUER, baseServer, bearer, freePort, poll, request, rsaKey, sign, sleep } from '../e2e/util.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const SERVER = 2; // SpanKind.SERVER in OTLP
const CLIENT = 3;

let rx: OtlpReceiver;
let up: TestUpstream;
let svc: AuthzService;
let gw0: RunningGateway; // sample 0
let gw1: RunningGateway; // sample 1
let gw0StartedAt = 0;
/** The JWKS the jwt authenticator fetches, and the traceparent of each fetch ('' = none). */
const jwksKeys: unknown[] = [];
const jwksSeen: string[] = [];
let jwksServer: http.Server;
let jwksUrl = '';

const hex = (n: number) => randomBytes(n).toString('hex');
const parent = (flags: '00' | '01') => ({ traceId: hex(16), spanId: hex(8), flags });
const tp = (p: { traceId: string; spanId: string; flags: string }) => `00-${p.traceId}-${p.spanId}-${p.flags}`;

function config(sample: number, otlp: string, extra: Record<string, unknown> = {}) {
  return {
    server: baseServer(),
    upstreams: { app: { targets: [up.url] } },
    authenticators: { idp: { type: 'jwt', jwks_uri: jwksUrl, issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256'] } },
    authorizers: { geo: { url: svc.url, timeout: '2s', send: { headers: ['x-tenant'] }, allowed_upstream_headers: [] } },
    tracing: { otlp, sample, service_name: 'edge-test', ...extra },
    routes: [
      { name: 'ping', match: { path: '/ping' }, anonymous: true, respond: { status: 200, body: 'pong' } },
      { name: 'guarded', match: { path_prefix: '/guarded' }, anonymous: true, upstream: 'app', authorize: { external: 'geo' } },
      { name: 'api', match: { path_prefix: '/api' }, authenticate: ['idp'], upstream: 'app' },
      { name: 'orders', match: { path_prefix: '/' }, anonymous: true, upstream: 'app' },
    ],
  };
}

/** The spans of one trace, once `count` of them arrived (bounded wait). */
async function spansOf(traceId: string, count: number): Promise<ReceivedSpan[]> {
  const got = await poll(async () => {
    const s = rx.spans.filter((x) => x.traceId === traceId);
    return s.length >= count ? s : null;
  }, 40, 250);
  return got ?? rx.spans.filter((x) => x.traceId === traceId);
}

/** The traceparent the upstream saw on its last request with this marker in the path. */
function upstreamTraceparent(marker: string): string | undefined {
  const r = up.requests.find((x) => x.url.includes(marker));
  return r?.headers.traceparent as string | undefined;
}

beforeAll(async () => {
  rx = await startOtlpReceiver();
  up = await startUpstream();
  svc = await startAuthzService(() => ({ status: 200 }));
  jwksKeys.push((await rsaKey('first')).jwk);
  jwksServer = http.createServer((req, res) => {
    jwksSeen.push(String(req.headers.traceparent ?? ''));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: jwksKeys }));
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  gw0StartedAt = Date.now();
  gw0 = await startGateway(config(0, rx.url));
  gw1 = await startGateway(config(1, rx.url));
});
afterAll(async () => {
  await gw0?.stop();
  await gw1?.stop();
  await up?.close();
  await svc?.close();
  await rx?.close();
  jwksServer?.closeAllConnections();
  await new Promise((r) => jwksServer?.close(r));
});

describe('tracing with a sampled client parent (sample 0)', () => {
  it('exports the gateway span in the client\'s trace, under the client\'s span, and sends the upstream and the authorizer the same trace', async () => {
    const p = parent('01');
    const r = await request(gw0.url, '/guarded/a1', { headers: { traceparent: tp(p), tracestate: 'vendor=1', 'x-tenant': 'acme' } });
    expect(r.status).toBe(200);
    const spans = await spansOf(p.traceId, 3);
    const server = spans.find((s) => s.kind === SERVER)!;
    expect(server).toBeDefined();
    expect(server.parentSpanId).toBe(p.spanId);
    expect(server.service).toBe('edge-test');
    expect(server.name).toBe('GET guarded');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'GET', 'url.path': '/guarded/a1', 'http.route': 'guarded',
      'http.response.status_code': 200, 'portcullis.reason': 'ok', 'client.address': '127.0.0.1',
    });
    const calls = spans.filter((s) => s.kind === CLIENT);
    expect(calls.map((s) => s.name).sort()).toEqual(['external authorizer', 'upstream']);
    for (const c of calls) expect(c.parentSpanId).toBe(server.spanId);

    const upstreamCall = calls.find((s) => s.name === 'upstream')!;
    expect(upstreamTraceparent('/guarded/a1')).toBe(`00-${p.traceId}-${upstreamCall.spanId}-01`);
    expect(up.requests.find((x) => x.url.includes('/guarded/a1'))!.headers.tracestate).toBe('vendor=1');
    const authzCall = calls.find((s) => s.name === 'external authorizer')!;
    expect(svc.seen.at(-1)!.headers.traceparent).toBe(`00-${p.traceId}-${authzCall.spanId}-01`);
  });

  it('traces a request the authorizer refused with its status and reason code', async () => {
    const p = parent('01');
    svc.handler = () => ({ status: 403, body: 'no' });
    try {
      const r = await request(gw0.url, '/guarded/refused', { headers: { traceparent: tp(p) } });
      expect(r.status).toBe(403);
    } finally {
      svc.handler = () => ({ status: 200 });
    }
    const spans = await spansOf(p.traceId, 2);
    const server = spans.find((s) => s.kind === SERVER)!;
    expect(server.attributes['http.response.status_code']).toBe(403);
    expect(String(server.attributes['portcullis.reason'])).toMatch(/^authz_/);
    expect(upstreamTraceparent('/guarded/refused')).toBeUndefined();
  });

  it('exports nothing for an unsampled parent and passes the client\'s traceparent upstream unchanged', async () => {
    const p = parent('00');
    const r = await request(gw0.url, '/orders/unsampled', { headers: { traceparent: tp(p) } });
    expect(r.status).toBe(200);
    expect(upstreamTraceparent('/orders/unsampled')).toBe(tp(p));
    // A sampled request after it: once its spans are in, the unsampled one would have been too.
    const q = parent('01');
    await request(gw0.url, '/orders/after', { headers: { traceparent: tp(q) } });
    await spansOf(q.traceId, 2);
    expect(rx.spans.some((s) => s.traceId === p.traceId)).toBe(false);
  });

  it('traces nothing and sends no traceparent for a request without one', async () => {
    const r = await request(gw0.url, '/orders/plain');
    expect(r.status).toBe(200);
    expect(upstreamTraceparent('/orders/plain')).toBeUndefined();
  });
});

describe('head sampling (sample 1)', () => {
  it('starts a new trace for a request without a parent and sends its traceparent upstream', async () => {
    const r = await request(gw1.url, '/orders/new-trace');
    expect(r.status).toBe(200);
    const sent = upstreamTraceparent('/orders/new-trace')!;
    expect(sent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const traceId = sent.slice(3, 35);
    const spans = await spansOf(traceId, 2);
    const server = spans.find((s) => s.kind === SERVER)!;
    expect(server.parentSpanId).toBe('');
    expect(spans.find((s) => s.kind === CLIENT)!.spanId).toBe(sent.slice(36, 52));
  });

  it('ignores an unparseable traceparent: a new trace, no parent', async () => {
    const bad = [
      `00-${'0'.repeat(32)}-${hex(8)}-01`, // all-zero trace id
      `00-${hex(16)}-${'0'.repeat(16)}-01`, // all-zero parent id
      `ff-${hex(16)}-${hex(8)}-01`, // version ff
      `00-${hex(16).toUpperCase()}-${hex(8)}-01`, // upper-case hex
      `00-${hex(16)}-${hex(8)}-01-extra`, // version 00 with more
      'garbage',
    ];
    for (const [i, h] of bad.entries()) {
      const r = await request(gw1.url, `/orders/bad-${i}`, { headers: { traceparent: h } });
      expect(r.status).toBe(200);
      const sent = upstreamTraceparent(`/orders/bad-${i}`)!;
      expect(sent).not.toBe(h);
      const spans = await spansOf(sent.slice(3, 35), 2);
      expect(spans.find((s) => s.kind === SERVER)!.parentSpanId).toBe('');
    }
  });

  it('never puts the query string in a span', async () => {
    const r = await request(gw1.url, '/orders/q?access_token=sekrit-value&x=1');
    expect(r.status).toBe(200);
    const sent = upstreamTraceparent('/orders/q')!;
    const spans = await spansOf(sent.slice(3, 35), 2);
    expect(spans.find((s) => s.kind === SERVER)!.attributes['url.path']).toBe('/orders/q');
    expect(JSON.stringify(spans)).not.toContain('sekrit');
    expect(JSON.stringify(spans)).not.toContain('access_token');
  });

  it('exports OTLP/HTTP JSON', () => {
    expect(rx.contentTypes.length).toBeGreaterThan(0);
    for (const t of rx.contentTypes) expect(t).toContain('application/json');
  });
});

describe('a JWKS refetch a sampled request waits for', () => {
  it('is the request\'s child span, and the IdP is sent its traceparent', async () => {
    const rotated = await rsaKey('rotated');
    jwksKeys.push(rotated.jwk);
    // An unknown kid refetches at most once per 10 s: the start fetch was the last.
    const wait = gw0StartedAt + 10_500 - Date.now();
    if (wait > 0) await sleep(wait);
    const p = parent('01');
    const r = await request(gw0.url, '/api/keys', { headers: { ...bearer(await sign(rotated, { sub: 'alice' })), traceparent: tp(p) } });
    expect(r.status).toBe(200);
    const spans = await spansOf(p.traceId, 3);
    const server = spans.find((s) => s.kind === SERVER)!;
    expect(server.attributes).toMatchObject({ 'portcullis.consumer': 'alice', 'http.route': 'api' });
    const fetch = spans.find((s) => s.name === 'jwks fetch')!;
    expect(fetch.parentSpanId).toBe(server.spanId);
    expect(jwksSeen.at(-1)).toBe(`00-${p.traceId}-${fetch.spanId}-01`);
    expect(jwksSeen[0]).toBe(''); // the start fetch belongs to no request
    // The token is in no span.
    expect(JSON.stringify(spans)).not.toContain('eyJ');
  });
});

describe('an OTLP endpoint that is down, trust_parent: false', () => {
  let gw: RunningGateway;
  let admin: string;
  beforeAll(async () => {
    const dead = await freePort();
    const c = config(1, `http://127.0.0.1:${dead}/v1/traces`, { trust_parent: false });
    gw = await startGateway({ ...c, admin: { listen: { host: '127.0.0.1', port: 0 }, token: 'a'.repeat(32) } });
    admin = String((JSON.parse(gw.logs.find((l) => l.includes('portcullis listening'))!) as { admin: string }).admin);
  });
  afterAll(async () => { await gw?.stop(); });

  it('serves every request and counts the spans it could not send', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await request(gw.url, `/orders/down-${i}`);
      expect(r.status).toBe(200);
    }
    const dropped = await poll(async () => {
      const m = await request(admin, '/metrics', { headers: { authorization: `Bearer ${'a'.repeat(32)}` } });
      const line = m.body.split('\n').find((l) => l.startsWith('portcullis_trace_spans_dropped_total'));
      const n = line ? Number(line.split(' ').at(-1)) : 0;
      return n > 0 ? n : null;
    }, 40, 250);
    expect(dropped).toBeGreaterThan(0);
    const warn = await gw.waitForLog(/trace export failed/, 10_000);
    expect(JSON.parse(warn)).toMatchObject({ level: 'warn', otlp: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v1\/traces$/) });
    expect(gw.logs.filter((l) => l.includes('trace export failed')).length).toBe(1); // throttled
  });

  it('starts its own trace and never forwards the client\'s trace headers', async () => {
    const p = parent('01');
    const r = await request(gw.url, '/orders/untrusted', { headers: { traceparent: tp(p), tracestate: 'vendor=1' } });
    expect(r.status).toBe(200);
    const seen = up.requests.find((x) => x.url.includes('/orders/untrusted'))!;
    expect(seen.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(String(seen.headers.traceparent)).not.toContain(p.traceId);
    expect(seen.headers.tracestate).toBeUndefined();
  });
});

void sleep;
