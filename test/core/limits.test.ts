// Limits and error answers of the real gateway: 413 (declared and mid-stream),
// 431 (uWS's own header limit, set from config before uWS loads), idle body
// cut, 502 on a dead upstream, 504 on upstream timeout and request_timeout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { deadPort, gatewayConfig, rawRequest, request, sleep, startLabUpstream, type LabUpstream } from './util.js';

let gw: RunningGateway;
let lab: LabUpstream;
let port: number;

beforeAll(async () => {
  lab = await startLabUpstream();
  const dead = await deadPort();
  gw = await startGateway(gatewayConfig({
    lab: lab.url,
    dead: { targets: [`http://127.0.0.1:${dead}`], connect_timeout: '1s' },
    short: { targets: [lab.url], timeout: '400ms' },
  }, [
    { name: 'dead', match: { path_prefix: '/dead' }, upstream: 'dead' },
    { name: 'short', match: { path_prefix: '/short' }, upstream: 'short', strip_prefix: true },
    { name: 'route-timeout', match: { path_prefix: '/rt' }, upstream: 'lab', strip_prefix: true, timeout: '600ms' },
    { name: 'chunked', match: { path_prefix: '/big-chunked' }, upstream: 'lab', chunked_uploads: true },
    { name: 'all', match: { path_prefix: '/' }, upstream: 'lab' },
  ], {
    limits: { max_body: '1KiB', max_header_bytes: '8KiB', idle_timeout: '700ms', request_timeout: '1500ms' },
  }));
  port = gw.ports[0]!;
});

afterAll(async () => {
  await gw?.stop();
  await lab?.close();
});

/** Requests the upstream fully received whose url starts with `prefix`. */
const seen = (prefix: string) => lab.seen.filter((s) => s.url.startsWith(prefix));

describe('max_body', () => {
  it('answers 413 to a declared Content-Length over the limit without forwarding', async () => {
    const r = await rawRequest(port, `POST /big-declared HTTP/1.1\r\nHost: gw\r\nContent-Length: 1025\r\nConnection: close\r\n\r\n${'x'.repeat(1025)}`);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).reason).toBe('body_too_large');
    expect(seen('/big-declared')).toEqual([]);
  });

  it('accepts a body exactly at the limit', async () => {
    const r = await request(`${gw.url}/at-limit`, { method: 'POST', body: Buffer.alloc(1024, 1) });
    expect(r.status).toBe(200);
    expect(r.json().bytes).toBe(1024);
  });

  it('answers 413 when a chunked body crosses the limit mid-stream, and the upstream never gets a complete request', async () => {
    const head = 'POST /big-chunked HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    const chunk = `200\r\n${'y'.repeat(512)}\r\n`;
    const r = await rawRequest(port, [head, chunk, chunk, chunk, chunk, '0\r\n\r\n'], { gapMs: 20 });
    expect(r.status).toBe(413);
    await sleep(200);
    expect(seen('/big-chunked')).toEqual([]);
  });

  it('keeps serving after a 413', async () => {
    expect((await request(`${gw.url}/after-413`)).status).toBe(200);
  });
});

describe('max_header_bytes', () => {
  // 8 KiB sits between uWS's own default (4 KiB) and the schema default (16 KiB),
  // so passing 6 KiB and refusing 10 KiB proves the configured value reached uWS.
  // (This uWS build caps the limit near 16 KiB whatever the setting.)
  it('is applied to uWS from config: 6 KiB of headers pass under an 8 KiB limit (uWS default is 4 KiB)', async () => {
    const r = await rawRequest(port, `GET /hdr-ok HTTP/1.1\r\nHost: gw\r\nX-Big: ${'a'.repeat(6 * 1024)}\r\nConnection: close\r\n\r\n`);
    expect(r.status, 'max_header_bytes did not reach uWS: was the native module loaded before loadUws() set UWS_HTTP_MAX_HEADERS_SIZE?').toBe(200);
    expect(seen('/hdr-ok')).toHaveLength(1);
  });

  it('answers 431 to headers over the limit and never forwards them', async () => {
    const r = await rawRequest(port, `GET /hdr-big HTTP/1.1\r\nHost: gw\r\nX-Big: ${'a'.repeat(10 * 1024)}\r\nConnection: close\r\n\r\n`);
    expect(r.status).toBe(431);
    expect(seen('/hdr-big')).toEqual([]);
  });

  it('answers 431 to many small headers adding up over the limit', async () => {
    let lines = '';
    for (let i = 0; i < 60; i++) lines += `X-H${i}: ${'b'.repeat(150)}\r\n`;
    const r = await rawRequest(port, `GET /hdr-many HTTP/1.1\r\nHost: gw\r\n${lines}Connection: close\r\n\r\n`);
    expect(r.status).toBe(431);
    expect(seen('/hdr-many')).toEqual([]);
  });
});

describe('slow clients', () => {
  it('cuts a request whose body stalls past idle_timeout, and never forwards a complete request', async () => {
    const r = await rawRequest(port, 'POST /stall HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789', { timeoutMs: 8000 });
    // Cut by the gateway (408 or a closed connection), not by our own timeout.
    expect(r.timedOut).toBe(false);
    if (r.status !== 0) expect(r.status).toBe(408);
    expect(seen('/stall')).toEqual([]);
  });

  it('lets a slow but steady body through (each gap shorter than idle_timeout)', async () => {
    const head = 'POST /steady HTTP/1.1\r\nHost: gw\r\nContent-Length: 30\r\nConnection: close\r\n\r\n';
    const r = await rawRequest(port, [head, '0123456789', '0123456789', '0123456789'], { gapMs: 250, timeoutMs: 8000 });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).bytes).toBe(30);
  });
});

describe('upstream failures', () => {
  it('answers 502 when the upstream refuses connections', async () => {
    const r = await request(`${gw.url}/dead/x`);
    expect(r.status).toBe(502);
    expect(r.json().reason).toBe('upstream_unavailable');
  });

  it('answers 502 with a body when the dead upstream is POSTed to', async () => {
    const r = await request(`${gw.url}/dead/x`, { method: 'POST', body: 'hello' });
    expect(r.status).toBe(502);
  });

  it('answers 504 when the upstream does not answer within its timeout', async () => {
    const r = await request(`${gw.url}/short/hang`);
    expect(r.status).toBe(504);
    expect(r.json().reason).toBe('upstream_timeout');
  });

  it('answers 504 when the whole request passes request_timeout (upstream timeout longer)', async () => {
    const r = await request(`${gw.url}/hang-whole`.replace('hang-whole', 'hang'));
    expect(r.status).toBe(504);
    expect(r.json().reason).toBe('gateway_timeout');
  });

  it('answers 504 when a route\'s own timeout passes', async () => {
    const r = await request(`${gw.url}/rt/slow?ms=3000`);
    expect(r.status).toBe(504);
  });

  it('still serves normally after the failures', async () => {
    expect((await request(`${gw.url}/after`)).status).toBe(200);
    expect((await request(`${gw.url}/short/fast`)).status).toBe(200);
  });
});
