// What the upstream client must accept, and exactly how: each response is
// crafted byte by byte on a raw TCP server, the decoded status/headers/body are
// compared exactly, and a follow-up request proves whether the connection was
// reused (same server-side socket) or closed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  destroyPools, followUpConn, header, latin1, makePool, run, startRawServer, writeSlowly,
  type Outcome, type RawServer, type ServerRequest,
} from './harness.js';

let srv: RawServer;
beforeAll(async () => { srv = await startRawServer(); });
afterAll(async () => { await srv.close(); });
afterEach(async () => { await destroyPools(); });

interface Case {
  name: string;
  /** The response bytes (latin1), or pieces written with a pause between them. */
  response: string | string[];
  method?: string;
  status: number;
  body: string;
  reused: boolean;
  /** The server closes after writing (read-until-close bodies). */
  serverCloses?: boolean;
  check?: (out: Outcome) => void;
}

/** Runs one crafted response then a follow-up; returns the outcome. */
async function exchange(c: Case): Promise<Outcome> {
  let connId = 0;
  srv.handler = (req: ServerRequest) => {
    connId = req.connId;
    const pieces = typeof c.response === 'string' ? [c.response] : c.response;
    void writeSlowly(req.socket, pieces, 3).then(() => { if (c.serverCloses) req.socket.end(); });
  };
  const pool = makePool(srv);
  const out = await run(pool, { method: c.method ?? 'GET', path: '/crafted' });
  expect(out.violations).toEqual([]);
  expect(out.error).toBeNull();
  expect(out.completed).toBe(true);
  expect(out.status).toBe(c.status);
  expect(out.body.toString('latin1')).toBe(c.body);
  c.check?.(out);
  const next = await followUpConn(pool);
  expect(next).toBeGreaterThan(0);
  if (c.reused) {
    expect(next, 'the connection should have been reused').toBe(connId);
  } else {
    expect(next, 'the connection must not be reused').not.toBe(connId);
    expect(await srv.waitClosed(connId)).toBe(true);
  }
  return out;
}

const CASES: Case[] = [
  { name: 'a Content-Length body', response: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', status: 200, body: 'hello', reused: true },
  { name: 'Content-Length: 0', response: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', status: 200, body: '', reused: true },
  { name: 'a Content-Length body in 1-byte writes', response: ['HTTP/1.1 201 Created\r\ncontent-length: 12\r\n\r\n', ...'hello world!'.split('')], status: 201, body: 'hello world!', reused: true },
  { name: 'an upper-case Content-Length name with leading zeros', response: 'HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 003\r\n\r\nabc', status: 200, body: 'abc', reused: true },
  { name: 'identical duplicate Content-Length', response: 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\ncontent-length: 4\r\n\r\nabcd', status: 200, body: 'abcd', reused: true },
  { name: 'chunked, several chunks', response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n', status: 200, body: 'hello world', reused: true },
  { name: 'chunked with chunk extensions', response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n3 ; q="x;y"\r\nabc\r\n2;a;b=c\r\nde\r\n0;last\r\n\r\n', status: 200, body: 'helloabcde', reused: true },
  { name: 'chunked with trailers', response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Checksum: abc\r\nX-Other:1\r\n\r\n', status: 200, body: 'abc', reused: true },
  { name: 'chunk sizes in upper and lower hex, with leading zeros', response: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n${'0123456789'}\r\nb\r\n${'abcdefghijk'}\r\n1F\r\n${'x'.repeat(31)}\r\n00010\r\n${'y'.repeat(16)}\r\n000\r\n\r\n`, status: 200, body: `0123456789abcdefghijk${'x'.repeat(31)}${'y'.repeat(16)}`, reused: true },
  { name: 'Transfer-Encoding "Chunked" (case-insensitive) with OWS', response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding:  Chunked \r\n\r\n2\r\nok\r\n0\r\n\r\n', status: 200, body: 'ok', reused: true },
  { name: 'a chunked body in small writes', response: ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', '4\r', '\nwi', 'ki\r', '\n5\r\nped', 'ia\r\n', '0', '\r\n', '\r', '\n'], status: 200, body: 'wikipedia', reused: true },
  { name: 'a read-until-close body (no framing)', response: 'HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nuntil the end', serverCloses: true, status: 200, body: 'until the end', reused: false },
  { name: 'a read-until-close body in several writes', response: ['HTTP/1.1 200 OK\r\n\r\n', 'part 1, ', 'part 2, ', 'part 3'], serverCloses: true, status: 200, body: 'part 1, part 2, part 3', reused: false },
  { name: 'an empty read-until-close body', response: 'HTTP/1.1 200 OK\r\n\r\n', serverCloses: true, status: 200, body: '', reused: false },
  { name: 'HEAD with Content-Length and no body', method: 'HEAD', response: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', status: 200, body: '', reused: true, check: (o) => expect(header(o, 'content-length')).toBe('100') },
  { name: 'HEAD with Transfer-Encoding: chunked and no body', method: 'HEAD', response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', status: 200, body: '', reused: true },
  { name: 'HEAD with neither framing (not read until close)', method: 'HEAD', response: 'HTTP/1.1 200 OK\r\n\r\n', status: 200, body: '', reused: true },
  { name: '204 with no body', response: 'HTTP/1.1 204 No Content\r\n\r\n', status: 204, body: '', reused: true },
  { name: '304 with the representation\'s Content-Length and no body', response: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: "x"\r\n\r\n', status: 304, body: '', reused: true },
  { name: '100 Continue before the final response', response: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', reused: true },
  { name: '103 Early Hints before the final response, in separate writes', response: ['HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n', 'HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'], status: 200, body: 'ok', reused: true, check: (o) => expect(header(o, 'link')).toBeUndefined() },
  { name: 'eight interim responses (the most allowed)', response: `${'HTTP/1.1 100 Continue\r\n\r\n'.repeat(7)}HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx`, status: 200, body: 'x', reused: true },
  { name: 'an HTTP/1.0 response (one per connection)', response: 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', reused: false },
  { name: 'an HTTP/1.0 response with Connection: keep-alive (still not reused)', response: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', reused: false },
  { name: 'Connection: close', response: 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', reused: false },
  { name: 'Connection: close in a list, any case', response: 'HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', reused: false },
  { name: 'Connection: keep-alive', response: 'HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', reused: true },
  { name: 'a 599 status and no reason phrase', response: 'HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n', status: 599, body: '', reused: true },
  { name: 'a status line without the SP before an empty reason', response: 'HTTP/1.1 404\r\nContent-Length: 1\r\n\r\nx', status: 404, body: 'x', reused: true },
  {
    name: 'header values: OWS trimmed, empty values, obs-text kept',
    response: 'HTTP/1.1 200 Reason w\xe9th obs-text\r\nX-Spaced:   spaced value \t \r\nX-Tab:\tv\r\nX-Empty:\r\nX-Blank:   \t\r\nX-Obs: caf\xe9 \xff\x80\r\nX-Chars: a:b;c="d" , e\r\nContent-Length: 0\r\n\r\n',
    status: 200, body: '', reused: true,
    check: (o) => {
      expect(header(o, 'x-spaced')).toBe('spaced value');
      expect(header(o, 'x-tab')).toBe('v');
      expect(header(o, 'x-empty')).toBe('');
      expect(header(o, 'x-blank')).toBe('');
      expect(header(o, 'x-obs')).toBe('caf\xe9 \xff\x80');
      expect(header(o, 'x-chars')).toBe('a:b;c="d" , e');
      // Names are handed on as sent, in order, duplicates kept.
      expect(o.headers.map(([n]) => n)).toEqual(['X-Spaced', 'X-Tab', 'X-Empty', 'X-Blank', 'X-Obs', 'X-Chars', 'Content-Length']);
    },
  },
  { name: 'repeated headers kept in order', response: 'HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n', status: 200, body: '', reused: true, check: (o) => expect(o.headers.filter(([n]) => n === 'Set-Cookie').map(([, v]) => v)).toEqual(['a=1', 'b=2']) },
  { name: 'a body of binary bytes (CR, LF, NUL inside)', response: 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n\r\n\r\n\x00\xff\r\n', status: 200, body: '\r\n\r\n\x00\xff\r\n', reused: true },
];

describe('accepts well-formed responses exactly as framed', () => {
  for (const c of CASES) it(`accepts ${c.name}`, async () => { await exchange(c); });
});

describe('reads a response split at every byte position', () => {
  // One keep-alive connection serves every split: each response must be read
  // exactly (a byte too many or too few would break the next one).
  async function everySplit(resp: string, body: string, extraCheck?: (o: Outcome) => void): Promise<void> {
    let split = 0;
    srv.handler = (req) => { void writeSlowly(req.socket, [resp.slice(0, split), resp.slice(split)], 3); };
    const pool = makePool(srv);
    const before = srv.accepted();
    for (split = 1; split < resp.length; split++) {
      const out = await run(pool, { path: `/split-${split}` });
      expect(out.violations, `split at ${split}`).toEqual([]);
      expect(out.error, `split at ${split}`).toBeNull();
      expect(out.completed, `split at ${split}`).toBe(true);
      expect(out.body.toString('latin1'), `split at ${split}`).toBe(body);
      extraCheck?.(out);
    }
    expect(srv.accepted() - before, 'one connection for every split').toBe(1);
  }

  it('reads a short Content-Length response split at every byte of its head and body', async () => {
    await everySplit('HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 5\r\n\r\nhello', 'hello', (o) => {
      expect(o.status).toBe(200);
      expect(header(o, 'x-a')).toBe('b');
    });
  });

  it('reads a chunked response with extension and trailer split at every byte', async () => {
    await everySplit('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: v\r\n\r\n', 'abc0123456789');
  });

  it('reads an interim response followed by the final one split at every byte', async () => {
    await everySplit('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'ok', (o) => expect(o.status).toBe(200));
  });
});

describe('bytes beyond the message', () => {
  // Nothing is pipelined, so bytes after the message can only be an attack or
  // a bug: the response is delivered as framed, the connection is closed.
  const extra: Case[] = [
    { name: 'after a Content-Length body', response: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil', status: 200, body: 'ok', reused: false },
    { name: 'after a chunked body', response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n', status: 200, body: 'ok', reused: false },
    { name: 'after a 204 (a body it must not have)', response: 'HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\nevil', status: 204, body: '', reused: false },
    { name: 'after a response to HEAD (the body a HEAD must not get)', method: 'HEAD', response: 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil', status: 200, body: '', reused: false },
    { name: 'a single extra CRLF', response: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\r\n', status: 200, body: 'ok', reused: false },
  ];
  for (const c of extra) it(`delivers the response but closes the connection on extra bytes ${c.name}`, async () => { await exchange(c); });

  it('closes an idle connection the upstream writes to unasked', async () => {
    let first = 0;
    srv.handler = (req) => {
      first = req.connId;
      req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      setTimeout(() => req.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil'), 50);
    };
    const pool = makePool(srv);
    const out = await run(pool, { path: '/x' });
    expect(out.body.toString()).toBe('ok');
    expect(await srv.waitClosed(first)).toBe(true);
    const next = await followUpConn(pool);
    expect(next).toBeGreaterThan(first);
  });
});
