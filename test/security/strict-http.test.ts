// The strict RFC 9112 request reader (test/helpers/strict-http.ts) is the
// oracle of the framing tests: if it is wrong, they prove nothing. Here it is
// checked on its own, without a gateway.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readRequests, readResponses, type StrictErrorCode } from '../helpers/strict-http.js';

const H = 'Host: x\r\n';
const req = (line: string, fields: string, body = '') => `${line}\r\n${fields}\r\n${body}`;

describe('complete requests', () => {
  it('reads a GET without body', () => {
    const r = readRequests('GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A:  v  \r\n\r\n');
    expect(r.error).toBeNull();
    expect(r.partial).toBeNull();
    expect(r.requests).toHaveLength(1);
    expect(r.requests[0]).toMatchObject({ method: 'GET', target: '/a?b=1', version: 'HTTP/1.1', framing: 'none', headers: [['Host', 'x'], ['X-A', 'v']] });
    expect(r.requests[0]!.body.length).toBe(0);
    expect(r.consumed).toBe(r.requests[0]!.end);
  });

  it('reads a Content-Length body and a pipelined request after it', () => {
    const s = req('POST /p HTTP/1.1', `${H}Content-Length: 5\r\n`, 'hello') + req('GET /q HTTP/1.1', H);
    const r = readRequests(s);
    expect(r.error).toBeNull();
    expect(r.requests.map((x) => [x.method, x.target, x.body.toString()])).toEqual([['POST', '/p', 'hello'], ['GET', '/q', '']]);
  });

  it('reads a chunked body with extensions and trailers', () => {
    const s = req('POST /c HTTP/1.1', `${H}Transfer-Encoding: chunked\r\n`, '5;a=b\r\nhello\r\n1 ; q="x\\"y" ;z\r\n!\r\n0\r\nT: 1\r\n\r\n');
    const r = readRequests(s);
    expect(r.error).toBeNull();
    expect(r.requests[0]!.body.toString()).toBe('hello!');
    expect(r.requests[0]!.chunkExtensions).toEqual([';a=b', ' ; q="x\\"y" ;z', '']);
    expect(r.requests[0]!.trailers).toEqual([['T', '1']]);
  });

  it('a trailer section that looks like a request is trailers, never a request', () => {
    const s = req('POST /c HTTP/1.1', `${H}Transfer-Encoding: chunked\r\n`, '0\r\naa:GET /x HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = readRequests(s);
    expect(r.error).toBeNull();
    expect(r.requests).toHaveLength(1);
    expect(r.requests[0]!.trailers).toEqual([['aa', 'GET /x HTTP/1.1'], ['Host', 'x']]);
  });

  it('a request inside a chunk or a Content-Length body is body bytes', () => {
    const inner = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    const r1 = readRequests(req('POST /c HTTP/1.1', `${H}Transfer-Encoding: Chunked\r\n`, `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`));
    expect(r1.requests.map((x) => x.target)).toEqual(['/c']);
    const r2 = readRequests(req('POST /c HTTP/1.1', `${H}Content-Length: ${inner.length}\r\n`, inner));
    expect(r2.requests.map((x) => x.target)).toEqual(['/c']);
  });

  it('skips empty lines before a request line', () => {
    const r = readRequests(`\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`);
    expect(r.requests).toHaveLength(1);
    expect(r.requests[0]!.start).toBe(4);
  });

  it('accepts tokens as methods (case-sensitive, so "delete" is a method of its own) and HTTP/1.0 without Host', () => {
    expect(readRequests(`delete /x HTTP/1.1\r\n${H}\r\n`).requests[0]!.method).toBe('delete');
    expect(readRequests(`M-SEARCH /x HTTP/1.1\r\n${H}\r\n`).requests[0]!.method).toBe('M-SEARCH');
    expect(readRequests('GET /x HTTP/1.0\r\n\r\n').requests).toHaveLength(1);
  });

  it('accepts TE with leading HTAB and any case (coding names are case-insensitive)', () => {
    for (const te of ['\tchunked', 'CHUNKED', 'chunked ']) {
      const r = readRequests(req('POST /c HTTP/1.1', `${H}Transfer-Encoding:${te}\r\n`, '0\r\n\r\n'));
      expect(r.error, te).toBeNull();
      expect(r.requests[0]!.framing).toBe('chunked');
    }
  });

  it('non-ASCII target bytes: refused by default, allowed on request', () => {
    const s = Buffer.concat([Buffer.from('GET /caf'), Buffer.from([0xc3, 0xa9]), Buffer.from(` HTTP/1.1\r\n${H}\r\n`)]);
    expect(readRequests(s).error?.code).toBe('bad_target');
    expect(readRequests(s, { nonAsciiTarget: 'allow' }).requests[0]!.target).toBe('/caf\u00c3\u00a9');
  });
});

describe('errors', () => {
  const cases: [string, string, StrictErrorCode][] = [
    ['bare LF ending the request line', `GET / HTTP/1.1\n${H}\r\n`, 'bare_lf'],
    ['bare LF ending a field line', `GET / HTTP/1.1\r\nHost: x\n\r\n`, 'bare_lf'],
    ['bare LF inside a value', `GET / HTTP/1.1\r\n${H}X: a\nb\r\n\r\n`, 'bare_lf'],
    ['bare LF as the empty line', `GET / HTTP/1.1\r\n${H}\n`, 'bare_lf'],
    ['bare CR inside a value', `GET / HTTP/1.1\r\n${H}X: a\rb\r\n\r\n`, 'bare_cr'],
    ['bare LF before the request line', `\nGET / HTTP/1.1\r\n${H}\r\n`, 'bare_lf'],
    ['obs-fold', `GET / HTTP/1.1\r\n${H}X: a\r\n b\r\n\r\n`, 'obs_fold'],
    ['obs-fold with HTAB', `GET / HTTP/1.1\r\n${H}X: a\r\n\tb\r\n\r\n`, 'obs_fold'],
    ['whitespace before the first field line', `GET / HTTP/1.1\r\n ${H}\r\n`, 'ws_after_request_line'],
    ['space before colon', `GET / HTTP/1.1\r\n${H}Content-Length : 0\r\n\r\n`, 'ws_before_colon'],
    ['tab before colon', `GET / HTTP/1.1\r\n${H}Content-Length\t: 0\r\n\r\n`, 'ws_before_colon'],
    ['empty field name', `GET / HTTP/1.1\r\n${H}: x\r\nContent-Length: 5\r\n\r\nhello`, 'empty_field_name'],
    ['a field line without colon', `GET / HTTP/1.1\r\n${H}Nocolon\r\n\r\n`, 'no_colon'],
    ['bad char in field name', `GET / HTTP/1.1\r\n${H}X(Evil): 1\r\n\r\n`, 'bad_field_name'],
    ['non-ASCII in field name', `GET / HTTP/1.1\r\n${H}X\u00e9: 1\r\n\r\n`, 'bad_field_name'],
    ['NUL in value', `GET / HTTP/1.1\r\n${H}X: a\u0000b\r\n\r\n`, 'ctl_in_value'],
    ['DEL in value', `GET / HTTP/1.1\r\n${H}X: a\u007fb\r\n\r\n`, 'ctl_in_value'],
    ['VT in value', `GET / HTTP/1.1\r\n${H}X: a\u000bb\r\n\r\n`, 'ctl_in_value'],
    ['method with a quote', `G"T / HTTP/1.1\r\n${H}\r\n`, 'bad_method'],
    ['method with a colon', `G:T / HTTP/1.1\r\n${H}\r\n`, 'bad_method'],
    ['method with DEL', `G\u007fT / HTTP/1.1\r\n${H}\r\n`, 'bad_method'],
    ['empty method', ` / HTTP/1.1\r\n${H}\r\n`, 'bad_method'],
    ['two spaces after method', `GET  / HTTP/1.1\r\n${H}\r\n`, 'bad_target'],
    ['a tab in the request line', `GET\t/ HTTP/1.1\r\n${H}\r\n`, 'bad_method'],
    ['a space in the target', `GET /a b HTTP/1.1\r\n${H}\r\n`, 'bad_request_line'],
    ['HTTP/1.2', `GET / HTTP/1.2\r\n${H}\r\n`, 'bad_version'],
    ['HTTP/2.0', `GET / HTTP/2.0\r\n${H}\r\n`, 'bad_version'],
    ['lower-case version', `GET / http/1.1\r\n${H}\r\n`, 'bad_request_line'],
    ['missing version', `GET /\r\n${H}\r\n`, 'bad_request_line'],
    ['missing Host', 'GET / HTTP/1.1\r\n\r\n', 'missing_host'],
    ['two Host lines', `GET / HTTP/1.1\r\n${H}${H}\r\n`, 'duplicate_host'],
    ['empty Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`, 'bad_content_length'],
    ['Content-Length +5', `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`, 'bad_content_length'],
    ['Content-Length -5', `POST / HTTP/1.1\r\n${H}Content-Length: -5\r\n\r\nhello`, 'bad_content_length'],
    ['Content-Length 5,5', `POST / HTTP/1.1\r\n${H}Content-Length: 5,5\r\n\r\nhello`, 'bad_content_length'],
    ['Content-Length 5 5', `POST / HTTP/1.1\r\n${H}Content-Length: 5 5\r\n\r\nhello`, 'bad_content_length'],
    ['Content-Length 0x5', `POST / HTTP/1.1\r\n${H}Content-Length: 0x5\r\n\r\nhello`, 'bad_content_length'],
    ['Content-Length 5.0', `POST / HTTP/1.1\r\n${H}Content-Length: 5.0\r\n\r\nhello`, 'bad_content_length'],
    ['two equal Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`, 'duplicate_content_length'],
    ['two different Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`, 'conflicting_content_length'],
    ['TE identity', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`, 'bad_transfer_encoding'],
    ['TE chunked, identity', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n`, 'bad_transfer_encoding'],
    ['TE gzip, chunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, 'unsupported_transfer_coding'],
    ['TE chunked twice in one line', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, 'unsupported_transfer_coding'],
    ['two TE lines', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 'unsupported_transfer_coding'],
    ['TE xchunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n`, 'bad_transfer_encoding'],
    ['TE chunked;q=1', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked;q=1\r\n\r\n`, 'bad_transfer_encoding'],
    ['TE empty list element', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: , chunked\r\n\r\n0\r\n\r\n`, 'bad_transfer_encoding'],
    ['TE empty', `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n\r\n`, 'bad_transfer_encoding'],
    ['TE in HTTP/1.0', `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 'te_in_http10'],
    ['CL and TE', `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 'cl_and_te'],
    ['TE and CL', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`, 'cl_and_te'],
    ['empty chunk size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n`, 'bad_chunk_size'],
    ['chunk size with leading space', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n`, 'bad_chunk_size'],
    ['chunk size 1G', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1G\r\nx\r\n0\r\n\r\n`, 'bad_chunk_ext'],
    ['chunk size 0x5', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n`, 'bad_chunk_ext'],
    ['chunk size -5', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n`, 'bad_chunk_size'],
    ['chunk size with trailing space', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n`, 'bad_chunk_ext'],
    ['chunk size 1;', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1;\r\nx\r\n0\r\n\r\n`, 'bad_chunk_ext'],
    ['chunk ext 5;=x', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n`, 'bad_chunk_ext'],
    ['chunk ext with a bare value', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a b\r\nhello\r\n0\r\n\r\n`, 'bad_chunk_ext'],
    ['17 hex digits', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${'0'.repeat(16)}1\r\nx\r\n0\r\n\r\n`, 'chunk_size_too_large'],
    ['size above 2^53', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nx\r\n0\r\n\r\n`, 'chunk_size_too_large'],
    ['bare LF after chunk size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n`, 'bare_lf'],
    ['bare LF after chunk data', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n`, 'chunk_data_not_crlf'],
    ['chunk data longer than its size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n`, 'chunk_data_not_crlf'],
    ['bare LF ending the last chunk', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\n\r\n`, 'bare_lf'],
    ['bare LF ending the trailer section', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\n`, 'bare_lf'],
    ['a trailer that is not a field line', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nGET /x HTTP/1.1\r\n\r\n`, 'no_colon'],
    ['an obs-fold trailer', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\n b\r\n\r\n`, 'obs_fold'],
  ];
  for (const [label, s, code] of cases) {
    it(label, () => {
      const r = readRequests(s);
      expect(r.error?.code, JSON.stringify(r)).toBe(code);
      expect(r.requests).toHaveLength(0);
    });
  }

  it('a request smuggled behind an error is never read', () => {
    const s = `POST /a HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 40\r\n\r\nhelloGET /smuggled HTTP/1.1\r\n${H}\r\n`;
    const r = readRequests(s);
    expect(r.error?.code).toBe('conflicting_content_length');
    expect(r.requests).toEqual([]);
  });

  it('an error in a later request keeps the earlier ones and names the index', () => {
    const s = `GET /1 HTTP/1.1\r\n${H}\r\nGET /2 HTTP/1.1\r\n${H}X: a\nb\r\n\r\n`;
    const r = readRequests(s);
    expect(r.requests.map((x) => x.target)).toEqual(['/1']);
    expect(r.error).toMatchObject({ code: 'bare_lf', requestIndex: 1, where: 'head' });
  });

  it('chunk extensions can be refused altogether', () => {
    const s = `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\n\r\n`;
    expect(readRequests(s).error).toBeNull();
    expect(readRequests(s, { chunkExtensions: 'refuse' }).error?.code).toBe('bad_chunk_ext');
  });
});

describe('incomplete streams', () => {
  it('a head without its empty line', () => {
    const r = readRequests(`GET /x HTTP/1.1\r\n${H}`);
    expect(r.error).toBeNull();
    expect(r.partial).toMatchObject({ method: 'GET', target: '/x', headComplete: false });
  });
  it('a Content-Length body cut short', () => {
    const r = readRequests(`POST /x HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\nhello`);
    expect(r.partial).toMatchObject({ headComplete: true, framing: 'length', bodyReceived: 5, contentLength: 10 });
  });
  it('a chunked body without its last chunk or final CRLF', () => {
    for (const tail of ['5\r\nhello\r\n', '5\r\nhel', '5\r\nhello', '0\r\n', '0\r\nT: 1\r\n']) {
      const r = readRequests(`POST /x HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${tail}`);
      expect(r.error, tail).toBeNull();
      expect(r.partial, tail).toMatchObject({ headComplete: true, framing: 'chunked' });
      expect(r.requests).toEqual([]);
    }
  });
  it('bad bytes are reported even before the line ends', () => {
    expect(readRequests('G"T /x').error?.code).toBe('bad_method');
    expect(readRequests(`GET /x HTTP/1.1\r\n${H}: x`).error?.code).toBe('empty_field_name');
    expect(readRequests(`GET /x HTTP/1.1\r\n${H} folded`).error?.code).toBe('obs_fold');
    expect(readRequests(`POST /x HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz`).error?.code).toBe('bad_chunk_size');
    expect(readRequests(`POST /x HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX`).error?.code).toBe('chunk_data_not_crlf');
  });
});

describe('properties', () => {
  const seed = Number(process.env.PORTCULLIS_FUZZ_SEED ?? 20261203);
  const tokenArb = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/);
  const valueArb = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/);
  const reqArb = fc.record({
    method: tokenArb,
    path: fc.stringMatching(/^\/[\x21-\x7e]{0,20}$/),
    fields: fc.array(fc.tuple(tokenArb.filter((n) => !/^(host|content-length|transfer-encoding)$/i.test(n)), valueArb), { maxLength: 5 }),
    body: fc.uint8Array({ maxLength: 40 }),
    chunked: fc.boolean(),
    cuts: fc.array(fc.nat({ max: 9 }), { maxLength: 4 }),
  });
  const serialize = (r: fc.RecordValue<typeof reqArb extends fc.Arbitrary<infer T> ? T : never>): Buffer => {
    const fields = r.fields.map(([n, v]) => `${n}: ${v}\r\n`).join('');
    const body = Buffer.from(r.body);
    if (!r.chunked) return Buffer.concat([Buffer.from(`${r.method} ${r.path} HTTP/1.1\r\nHost: h\r\n${fields}Content-Length: ${body.length}\r\n\r\n`, 'latin1'), body]);
    const parts: Buffer[] = [Buffer.from(`${r.method} ${r.path} HTTP/1.1\r\nHost: h\r\n${fields}Transfer-Encoding: chunked\r\n\r\n`, 'latin1')];
    let i = 0;
    for (const c of [...r.cuts, 99]) {
      const piece = body.subarray(i, Math.min(body.length, i + c + 1));
      if (piece.length === 0) break;
      parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
      i += piece.length;
      if (i >= body.length) break;
    }
    if (i < body.length) parts.push(Buffer.from(`${(body.length - i).toString(16)}\r\n`), body.subarray(i), Buffer.from('\r\n'));
    parts.push(Buffer.from('0\r\n\r\n'));
    return Buffer.concat(parts);
  };

  it('reads back exactly what a correct serializer wrote, pipelined', () => {
    fc.assert(fc.property(fc.array(reqArb, { minLength: 1, maxLength: 4 }), (rs) => {
      const r = readRequests(Buffer.concat(rs.map(serialize)));
      expect(r.error).toBeNull();
      expect(r.partial).toBeNull();
      expect(r.requests.map((x) => [x.method, x.target, Buffer.from(x.body).toString('hex')])).toEqual(rs.map((x) => [x.method, x.path, Buffer.from(x.body).toString('hex')]));
    }), { seed, numRuns: 300 });
  });

  it('every strict prefix of a valid stream is a clean prefix: fewer requests, no error', () => {
    fc.assert(fc.property(fc.array(reqArb, { minLength: 1, maxLength: 3 }), fc.double({ min: 0, max: 1, noNaN: true }), (rs, f) => {
      const all = Buffer.concat(rs.map(serialize));
      const cut = Math.floor(all.length * f);
      const r = readRequests(all.subarray(0, cut));
      expect(r.error).toBeNull();
      expect(r.requests.length).toBeLessThanOrEqual(rs.length);
      if (cut < all.length) expect(r.requests.length < rs.length || r.partial === null).toBe(true);
    }), { seed, numRuns: 300 });
  });

  it('never throws on arbitrary bytes and never reads past the input', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const r = readRequests(Buffer.from(bytes));
      for (const q of r.requests) expect(q.end).toBeLessThanOrEqual(bytes.length);
    }), { seed, numRuns: 500 });
  });
});

describe('readResponses', () => {
  it('reads pipelined responses with Content-Length, chunked and no body', () => {
    const s = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n', 'latin1');
    const r = readResponses(s);
    expect(r.responses.map((x) => [x.status, x.body.toString()])).toEqual([[200, 'ok'], [204, ''], [200, 'ab']]);
    expect(r.rest).toBe(s.length);
  });
});
