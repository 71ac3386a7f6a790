// The request side of framing: what the client writes must be exactly the
// message its head announces, or the upstream reads part of one request as
// the start of another (request smuggling on a pooled connection).
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { destroyPools, followUpConn, makePool, run, sleep, startRawServer, type RawServer } from './harness.js';

let srv: RawServer;
beforeAll(async () => {
  srv = await startRawServer((req) => {
    const text = `${req.method} ${req.path} ${req.body.toString('latin1')}`;
    req.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
  });
});
afterAll(async () => { await srv.close(); });
afterEach(async () => { await destroyPools(); });

const bodyOf = (parts: Array<string | Buffer>): Readable => Readable.from(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));

describe('request framing', () => {
  it('skips empty body chunks in a chunked upload (an empty chunk would be the last-chunk marker)', async () => {
    const pool = makePool(srv);
    const before = srv.requests.length;
    const out = await run(pool, { method: 'POST', path: '/up', headers: ['host', 'x'], body: bodyOf(['abc', Buffer.alloc(0), 'GET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n']) });
    expect(out.body.toString()).toBe('POST /up abcGET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n');
    await sleep(30);
    expect(srv.requests.slice(before).map((r) => r.path)).toEqual(['/up']);
  });

  it('never writes more body than the declared Content-Length', async () => {
    const pool = makePool(srv);
    const before = srv.requests.length;
    const out = await run(pool, { method: 'POST', path: '/up', headers: ['host', 'x', 'content-length', '3'], body: bodyOf(['abc', 'GET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n']) });
    await sleep(30);
    expect(srv.requests.slice(before).map((r) => r.path), 'the upstream must see one request').not.toContain('/smuggled');
    if (out.completed) expect(out.body.toString()).toBe('POST /up abc');
    else expect(out.error?.code).toBe('UND_ERR_REQ_CONTENT_LENGTH_MISMATCH');
    const next = await followUpConn(pool);
    expect(next).toBeGreaterThan(0);
    expect(srv.requests.slice(before).map((r) => r.path)).not.toContain('/smuggled');
  });

  it('fails a request whose body is shorter than its Content-Length, without reusing the connection', async () => {
    const pool = makePool(srv, { headersTimeout: 2000 });
    const before = srv.accepted();
    const out = await run(pool, { method: 'POST', path: '/up', headers: ['host', 'x', 'content-length', '10'], body: bodyOf(['abc']) });
    expect(out.completed).toBe(false);
    expect(out.error?.code).toBe('UND_ERR_REQ_CONTENT_LENGTH_MISMATCH');
    expect(await followUpConn(pool)).toBe(before + 2);
  });
});
