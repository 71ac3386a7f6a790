// What the upstream client must refuse (RFC 9112, read strictly): every
// ambiguous or malformed response ends in onError with HPE_INVALID_RESPONSE,
// never onComplete, and the connection is closed by the client (the server
// keeps its side open, so only the client can have closed it) and never reused.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { destroyPools, followUpConn, makePool, run, startRawServer, writeSlowly, type RawServer } from './harness.js';

let srv: RawServer;
beforeAll(async () => { srv = await startRawServer(); });
afterAll(async () => { await srv.close(); });
afterEach(async () => { await destroyPools(); });

interface Bad {
  name: string;
  response: string | string[];
  /** The fault is in the (final) head: onHeaders must never be called. */
  inHead?: boolean;
  maxHeaderSize?: number;
  method?: string;
}

async function refuses(c: Bad): Promise<void> {
  let connId = 0;
  srv.handler = (req) => {
    connId = req.connId;
    void writeSlowly(req.socket, typeof c.response === 'string' ? [c.response] : c.response, 3);
  };
  const pool = makePool(srv, { headersTimeout: 2000, bodyTimeout: 2000, ...(c.maxHeaderSize ? { maxHeaderSize: c.maxHeaderSize } : {}) });
  const out = await run(pool, { path: '/bad', method: c.method ?? 'GET' });
  expect(out.violations).toEqual([]);
  expect(out.completed, 'a refused response must never complete').toBe(false);
  expect(out.error?.code).toBe('HPE_INVALID_RESPONSE');
  if (c.inHead !== false) expect(out.status, 'the head must not be handed on').toBe(0);
  expect(await srv.waitClosed(connId), 'the client must close the connection').toBe(true);
  const next = await followUpConn(pool);
  expect(next).toBeGreaterThan(connId);
}

const ok = 'Content-Length: 2\r\n\r\nok';
const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';

const HEAD_FAULTS: Bad[] = [
  // line endings
  { name: 'bare LF line endings throughout', response: 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok' },
  { name: 'a bare LF ending the status line', response: `HTTP/1.1 200 OK\n${ok}` },
  { name: 'a bare LF ending one header line', response: `HTTP/1.1 200 OK\r\nX-A: 1\n${ok}` },
  { name: 'a bare LF before the final CRLF', response: `HTTP/1.1 200 OK\r\nX-A: 1\r\n\n\r\n\r\n` },
  { name: 'a bare CR inside a value', response: `HTTP/1.1 200 OK\r\nX-A: a\rb\r\n${ok}` },
  { name: 'a bare CR as a line ending', response: `HTTP/1.1 200 OK\r\nX-A: a\rContent-Length: 5\r\n${ok}` },
  { name: 'a bare CR in the status line', response: `HTTP/1.1 200 O\rK\r\n${ok}` },
  { name: 'CR CR LF', response: `HTTP/1.1 200 OK\r\r\n${ok}` },
  // obs-fold and names
  { name: 'obs-fold with SP', response: `HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n${ok}` },
  { name: 'obs-fold with HTAB', response: `HTTP/1.1 200 OK\r\nX-A: a\r\n\tb\r\n${ok}` },
  { name: 'a folded Content-Length', response: 'HTTP/1.1 200 OK\r\nContent-Length:\r\n 2\r\n\r\nok' },
  { name: 'whitespace before the first header', response: `HTTP/1.1 200 OK\r\n ${ok}` },
  { name: 'SP before the colon', response: 'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok' },
  { name: 'HTAB before the colon', response: 'HTTP/1.1 200 OK\r\nContent-Length\t: 2\r\n\r\nok' },
  { name: 'an empty header name', response: `HTTP/1.1 200 OK\r\n: v\r\n${ok}` },
  { name: 'a header line without a colon', response: `HTTP/1.1 200 OK\r\nX-A\r\n${ok}` },
  ...['@', ' ', '"', '(', ')', '/', '[', '{', '\x00', '\x7f', '\x80', '\xff', '\t', ','].map((ch) => ({
    name: `a non-token byte 0x${ch.charCodeAt(0).toString(16)} in a header name`, response: `HTTP/1.1 200 OK\r\nX${ch}Y: v\r\n${ok}`,
  })),
  ...['\x00', '\x01', '\x08', '\x0b', '\x0c', '\x1f', '\x7f'].map((ch) => ({
    name: `control byte 0x${ch.charCodeAt(0).toString(16)} in a header value`, response: `HTTP/1.1 200 OK\r\nX-A: a${ch}b\r\n${ok}`,
  })),
  { name: 'NUL in the reason phrase', response: `HTTP/1.1 200 O\x00K\r\n${ok}` },
  // Content-Length
  { name: 'both Content-Length and Transfer-Encoding', response: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' },
  { name: 'Transfer-Encoding then Content-Length', response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n' },
  { name: 'conflicting Content-Lengths', response: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk' },
  ...['+2', '-2', '2 2', '0x2', '2.0', '2,2', '2, 2', '', 'two', '1e1', '\xb2', '1000000000000000', '99999999999999999999'].map((v) => ({
    name: `Content-Length "${v}"`, response: `HTTP/1.1 200 OK\r\nContent-Length: ${v}\r\n\r\nok`,
  })),
  // Transfer-Encoding
  ...['gzip', 'identity', 'chunked, chunked', 'gzip, chunked', 'chunked, gzip', 'chunked;q=1', 'chunked,', ',chunked', 'x-chunked', 'chunk', '', '"chunked"', 'chunked\xa0'].map((v) => ({
    name: `Transfer-Encoding "${v}"`, response: `HTTP/1.1 200 OK\r\nTransfer-Encoding: ${v}\r\n\r\n0\r\n\r\n`,
  })),
  { name: 'two Transfer-Encoding headers', response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' },
  { name: 'Transfer-Encoding in an HTTP/1.0 response', response: 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n' },
  // status line
  { name: '101 Switching Protocols', response: 'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n' },
  ...[
    'HTTP/2.0 200 OK', 'HTTP/1.2 200 OK', 'HTTP/1.1 99 OK', 'HTTP/1.1 099 OK', 'HTTP/1.1 600 OK', 'HTTP/1.1 2000 OK', 'HTTP/1.1 20 OK',
    'HTTP/1.1  200 OK', 'HTTP/1.1 OK', 'HTTP/1.1', 'http/1.1 200 OK', 'HTTP/1.1 200\tOK', 'HTTP/1.1 2x0 OK', ' HTTP/1.1 200 OK',
    'ICY 200 OK', 'HTTP/1 200 OK', 'HTTP/1.1\t200 OK', 'HTTP/1.10 200 OK',
  ].map((line) => ({ name: `status line "${line}"`, response: `${line}\r\n${ok}` })),
  { name: 'an empty line before the status line', response: `\r\nHTTP/1.1 200 OK\r\n${ok}` },
  { name: 'a head larger than maxHeaderSize', maxHeaderSize: 1024, response: `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(2000)}\r\n${ok}` },
  { name: 'a head that never ends, past maxHeaderSize', maxHeaderSize: 1024, response: ['HTTP/1.1 200 OK\r\n', ...Array.from({ length: 20 }, (_, i) => `X-${i}: ${'v'.repeat(100)}\r\n`)] },
  { name: 'nine interim responses', response: `${'HTTP/1.1 100 Continue\r\n\r\n'.repeat(9)}HTTP/1.1 200 OK\r\n${ok}` },
  { name: 'a malformed interim head', response: `HTTP/1.1 100 Continue\r\nX-A : 1\r\n\r\nHTTP/1.1 200 OK\r\n${ok}` },
];

const BODY_FAULTS: Bad[] = [
  ...['Z', '', ' 5', '-5', '0x5', '+5', '5 ', '5 x', '5\t', 'FFFFFFFFFFFFFFFFF', '10000000000001', '5\n'].map((size) => ({
    name: `chunk size "${size.replace('\n', '\\n')}"`, response: `${CHUNKED}${size}\r\nhello\r\n0\r\n\r\n`, inHead: false,
  })),
  { name: 'chunk data longer than its size', response: `${CHUNKED}3\r\nhello\r\n0\r\n\r\n`, inHead: false },
  { name: 'chunk data followed by LF only', response: `${CHUNKED}5\r\nhello\n0\r\n\r\n`, inHead: false },
  { name: 'chunk data followed by CR and no LF', response: `${CHUNKED}5\r\nhello\r0\r\n\r\n`, inHead: false },
  { name: 'a chunk size line ended by LF only', response: `${CHUNKED}5\nhello\r\n0\r\n\r\n`, inHead: false },
  { name: 'a chunk extension with a bare LF', response: `${CHUNKED}5;a\nb\r\nhello\r\n0\r\n\r\n`, inHead: false },
  { name: 'a chunk extension with a control byte', response: `${CHUNKED}5;a=\x01\r\nhello\r\n0\r\n\r\n`, inHead: false },
  { name: 'an endless chunk extension', response: [`${CHUNKED}5;`, ...Array.from({ length: 6 }, () => 'e'.repeat(1000))], inHead: false },
  { name: 'a last chunk ended by LF only', response: `${CHUNKED}2\r\nok\r\n0\n\r\n`, inHead: false },
  { name: 'a chunked body ended by LF only', response: `${CHUNKED}2\r\nok\r\n0\r\n\n`, inHead: false },
  { name: 'an obs-folded trailer', response: `${CHUNKED}2\r\nok\r\n0\r\nT: a\r\n b\r\n\r\n`, inHead: false },
  { name: 'a trailer line without a colon', response: `${CHUNKED}2\r\nok\r\n0\r\nnot a field\r\n\r\n`, inHead: false },
  { name: 'a trailer with SP before the colon', response: `${CHUNKED}2\r\nok\r\n0\r\nT : v\r\n\r\n`, inHead: false },
  { name: 'a trailer with a control byte', response: `${CHUNKED}2\r\nok\r\n0\r\nT: \x00\r\n\r\n`, inHead: false },
  { name: 'a trailer line ended by a bare CR', response: `${CHUNKED}2\r\nok\r\n0\r\nT: v\rX: w\r\n\r\n`, inHead: false },
];

describe('refuses malformed or ambiguous heads', () => {
  for (const c of HEAD_FAULTS) it(`refuses ${c.name}`, async () => { await refuses(c); });
  it('refuses a malformed head even for a HEAD request', async () => {
    await refuses({ name: 'HEAD + bad CL', method: 'HEAD', response: 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n' });
  });
});

describe('refuses malformed chunked framing', () => {
  for (const c of BODY_FAULTS) it(`refuses ${c.name}`, async () => { await refuses(c); });
});
