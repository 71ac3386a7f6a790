// Differential request-framing test (issue 13, "Also"). A wide corpus of
// hostile framings, plus seeded byte mutations of valid requests, is sent to
// the real gateway, each on its own connection, in front of an upstream that
// records the exact bytes it receives. What the client sent is read by the
// strict RFC 9112 reader (test/helpers/strict-http.ts), the oracle; then:
//   (a) the gateway stays up: a health request works after each batch;
//   (b) every request the upstream receives is one the strict reader sees as
//       a complete, valid request in what the client sent (same method and
//       target, same body): nothing a strict reader reads as part of a
//       previous request (a body, a trailer) is ever forwarded;
//   (c) a request the gateway answered 4xx is never forwarded;
//   (d) framing the strict reader refuses is answered 400/411/413/431 or the
//       connection is closed, and nothing after it on the connection is
//       answered (served) or forwarded.
// And the behaviour the gateway promises on top (issue 13):
//   - Transfer-Encoding is refused by default: 411 length_required, closed,
//     never forwarded, nothing after it served;
//   - a `chunked_uploads: true` route forwards it, then closes the connection;
//   - a method that is not a token, or a standard method in the wrong case:
//     400 bad_method, not forwarded;
//   - an empty Content-Length: 400 and closed.
//
// Paths: /d/<case>/<k> is proxied (TE refused), /dc/<case>/<k> is proxied
// with chunked_uploads, /ds/<case>/… is answered by the gateway itself (so a
// request smuggled there would be "served" without reaching the upstream).
// Every request in a case carries the case id, so the upstream's record is
// attributed to cases without relying on order or timing.
//
// Seed: PORTCULLIS_FUZZ_SEED (default below) picks the mutations; PORTCULLIS_FUZZ_RUNS
// is their number (default 160, about 12 s on a 2-core machine; raise it for longer
// local runs). A failure prints every failing case with the bytes sent, what the
// strict reader and the gateway each made of them, and the seed.
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startRawUpstream, type RawUpstream, type SeenHead } from '../helpers/raw-upstream.js';
import { readRequests, readResponses, show, fieldValues, type ReadResponse, type StrictResult } from '../helpers/strict-http.js';
import { LISTEN } from '../core/util.js';

const SEED = Number(process.env.PORTCULLIS_FUZZ_SEED ?? 913_2026);
const MUTATIONS = Number(process.env.PORTCULLIS_FUZZ_RUNS ?? 160);
const CONCURRENCY = 12;
const BATCH = 48;
/** Per case: give up waiting for the gateway after this long (a bound, never asserted). */
const HARD_MS = 1200;
/** Per case: once every expected answer is in, wait this long for anything unexpected. */
const QUIET_MS = 120;

const STANDARD = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
const REFUSAL = new Set([400, 411, 413, 431]);

// --- the corpus ----------------------------------------------------------------------

interface Paths {
  /** First and second request of the case on the case's route. */
  a: string;
  b: string;
  /** A request to the proxied route that must never be forwarded (it hides in a body or trailer). */
  x: string;
  /** The same on a route the gateway answers itself. */
  s: string;
}
type Route = 'd' | 'dc';
interface Template { label: string; group: string; routes: readonly Route[]; make: (t: Paths) => string | Buffer }
interface Case { id: number; label: string; group: string; route: Route; bytes: Buffer }

const G = 'Host: gw\r\n';
const smug = (t: Paths) => `GET ${t.x} HTTP/1.1\r\n${G}\r\n`;
const smugS = (t: Paths) => `GET ${t.s} HTTP/1.1\r\n${G}\r\n`;
const post = (t: Paths, fields: string, body: string) => `POST ${t.a} HTTP/1.1\r\n${G}${fields}\r\n${body}`;
const BOTH: readonly Route[] = ['d', 'dc'];
const D: readonly Route[] = ['d'];
const te = (t: Paths, body: string, extra = '') => post(t, `Transfer-Encoding: chunked\r\n${extra}`, body);

const templates: Template[] = [];
const add = (group: string, label: string, make: Template['make'], routes: readonly Route[] = D) => templates.push({ label, group, routes, make });

// Valid baselines.
add('valid', 'GET', (t) => `GET ${t.a} HTTP/1.1\r\n${G}\r\n`);
add('valid', 'GET, pipelined GET', (t) => `GET ${t.a} HTTP/1.1\r\n${G}\r\nGET ${t.b} HTTP/1.1\r\n${G}\r\n`);
add('valid', 'POST CL, pipelined GET', (t) => post(t, 'Content-Length: 5\r\n', 'hello') + `GET ${t.b} HTTP/1.1\r\n${G}\r\n`);
add('valid', 'POST CL whose body is a request', (t) => post(t, `Content-Length: ${smug(t).length}\r\n`, smug(t)));
add('valid', 'POST CL 0 then a request (it IS the next request)', (t) => post(t, 'Content-Length: 0\r\n', `GET ${t.b} HTTP/1.1\r\n${G}\r\n`));
add('valid', 'HEAD then GET', (t) => `HEAD ${t.a} HTTP/1.1\r\n${G}\r\nGET ${t.b} HTTP/1.1\r\n${G}\r\n`);
add('valid', 'empty line before the request line', (t) => `\r\nGET ${t.a} HTTP/1.1\r\n${G}\r\n`);
add('valid', 'Content-Length with OWS', (t) => post(t, 'Content-Length:  5 \r\n', 'hello') + smug(t).replace(t.x, t.b));
add('valid', 'Content-Length 05', (t) => post(t, 'Content-Length: 05\r\n', 'hello'));
add('valid', 'mixed-case Content-length', (t) => post(t, 'content-LENGTH: 5\r\n', 'hello'));
add('valid', 'Expect: 100-continue', (t) => post(t, 'Expect: 100-continue\r\nContent-Length: 5\r\n', 'hello'));
add('valid', 'obs-text in a value', (t) => `GET ${t.a} HTTP/1.1\r\n${G}X-Latin: caf\u00e9\r\n\r\n`);
add('valid', 'HTAB in a value', (t) => `GET ${t.a} HTTP/1.1\r\n${G}X-Tab: a\tb\r\n\r\n`);
add('valid', 'a token method the gateway does not know', (t) => `FOO ${t.a} HTTP/1.1\r\n${G}\r\n`);
add('valid', 'M-SEARCH', (t) => `M-SEARCH ${t.a} HTTP/1.1\r\n${G}\r\n`);

// Chunked bodies (TE refused on /d, forwarded on /dc).
add('chunked', 'valid chunked', (t) => te(t, '5\r\nhello\r\n0\r\n\r\n'), BOTH);
add('chunked', 'valid chunked then a pipelined request', (t) => te(t, '5\r\nhello\r\n0\r\n\r\n') + smug(t), BOTH);
add('chunked', 'valid chunked, a request as chunk data', (t) => te(t, `${smug(t).length.toString(16)}\r\n${smug(t)}\r\n0\r\n\r\n`), BOTH);
add('chunked', 'trailer section carrying a request', (t) => te(t, `0\r\naa:GET ${t.x} HTTP/1.1\r\nHost: x\r\n\r\n`), BOTH);
add('chunked', 'trailer section carrying a request to a gateway route', (t) => te(t, `0\r\naa:GET ${t.s} HTTP/1.1\r\nHost: x\r\n\r\n`), BOTH);
add('chunked', 'a trailer then a pipelined request', (t) => te(t, '5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n') + smug(t), BOTH);
add('chunked', 'last chunk without the final CRLF, a request after it', (t) => te(t, '5\r\nhello\r\n0\r\n') + smug(t), BOTH);
add('chunked', 'last chunk without the final CRLF, a gateway-route request after it', (t) => te(t, '0\r\n') + smugS(t), BOTH);
add('chunked', 'no last chunk (stream ends)', (t) => te(t, '5\r\nhello\r\n'), BOTH);
add('chunked', 'chunk data not followed by CRLF', (t) => te(t, `5\r\nhelloXX0\r\n\r\n`) + smug(t), BOTH);
add('chunked', 'chunk data longer than its size', (t) => te(t, '3\r\nhello\r\n0\r\n\r\n') + smug(t), BOTH);
add('chunked', 'size larger than the data, swallowing a request', (t) => te(t, `${(7 + smug(t).length).toString(16)}\r\nhello\r\n0\r\n\r\n`) + smug(t), BOTH);
add('chunked', 'an empty line between chunks', (t) => te(t, '5\r\nhello\r\n\r\n0\r\n\r\n') + smug(t), BOTH);
add('chunked', 'upper-case hex size', (t) => te(t, 'A\r\n0123456789\r\n0\r\n\r\n'), BOTH);
for (const size of [' 5', '', '1G', '1;', '5;a=b', '5;a="b c"', '5;a="unterminated', '5 ;a', '5; a = b', '5;a b', '5;=b', '0;a', '-5', '+5', '0x5', '5 ', '5\t', '05',
  '00000000000000005', 'ffffffffffffffffff', 'ffffffff', '7fffffffffffffff', '1\u0000', '5\u000b', '5,', '5;a=\u0001']) {
  add('chunk-size', `chunk size ${JSON.stringify(size)}`, (t) => te(t, `${size}\r\nhello\r\n0\r\n\r\n`) + smug(t), BOTH);
}
for (const [label, body] of [
  ['bare LF after the size', '5\nhello\r\n0\r\n\r\n'],
  ['bare LF after the data', '5\r\nhello\n0\r\n\r\n'],
  ['bare LF after the last chunk', '5\r\nhello\r\n0\n\r\n'],
  ['bare LF ending the trailer section', '5\r\nhello\r\n0\r\n\n'],
  ['bare LFs only', '5\nhello\n0\n\n'],
  ['bare CR after the size', '5\rhello\r\n0\r\n\r\n'],
  ['bare LF in a trailer', '0\r\nX: a\nGET /x HTTP/1.1\r\n\r\n'],
  ['an obs-fold trailer', '0\r\nX: a\r\n b\r\n\r\n'],
  ['a trailer without colon', '0\r\nGET /nope HTTP/1.1\r\n\r\n'],
  ['a trailer with an empty name', '0\r\n: x\r\n\r\n'],
  ['a Content-Length trailer', '0\r\nContent-Length: 50\r\n\r\n'],
  ['a Transfer-Encoding trailer', '0\r\nTransfer-Encoding: chunked\r\n\r\n'],
] as const) {
  add('chunk-lines', label, (t) => te(t, body) + smug(t), BOTH);
}

// Transfer-Encoding variants.
const TEBODY = '5\r\nhello\r\n0\r\n\r\n';
for (const v of ['chunked, identity', 'identity', 'Chunked', 'CHUNKED', '\tchunked', ' chunked ', 'gzip, chunked', 'chunked, chunked', 'xchunked', 'chunked;q=1', 'chunked\u000b',
  'chunk', '"chunked"', 'chunked,', ',chunked', 'chunked, ', 'gzip', '', 'chunked\u0000', '\u0085chunked', 'chunked\u00a0', 'ch\u00fcnked']) {
  add('te', `Transfer-Encoding: ${JSON.stringify(v)}`, (t) => post(t, `Transfer-Encoding: ${v}\r\n`, TEBODY) + smug(t), BOTH);
}
add('te', 'two Transfer-Encoding lines', (t) => post(t, 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', TEBODY) + smug(t), BOTH);
add('te', 'Transfer-Encoding identity then chunked', (t) => post(t, 'Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n', TEBODY) + smug(t), BOTH);
add('te', 'TE then CL', (t) => post(t, 'Transfer-Encoding: chunked\r\nContent-Length: 4\r\n', TEBODY) + smug(t), BOTH);
add('te', 'CL then TE', (t) => post(t, 'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', TEBODY) + smug(t), BOTH);
add('te', 'CL 0 and TE', (t) => post(t, 'Content-Length: 0\r\nTransfer-Encoding: chunked\r\n', TEBODY) + smug(t), BOTH);
add('te', 'TE with space before colon', (t) => post(t, 'Transfer-Encoding : chunked\r\n', TEBODY) + smug(t), BOTH);
add('te', 'Transfer_Encoding (underscore)', (t) => post(t, 'Transfer_Encoding: chunked\r\nContent-Length: 4\r\n', TEBODY) + smug(t), BOTH);
add('te', 'TE folded onto the next line', (t) => post(t, 'Transfer-Encoding:\r\n chunked\r\n', TEBODY) + smug(t), BOTH);
add('te', 'TE after a bare LF', (t) => post(t, 'X: a\nTransfer-Encoding: chunked\r\n', TEBODY) + smug(t), BOTH);
add('te', 'TE in HTTP/1.0', (t) => `POST ${t.a} HTTP/1.0\r\n${G}Transfer-Encoding: chunked\r\n\r\n${TEBODY}${smug(t)}`, BOTH);
add('te', 'TE on a GET', (t) => `GET ${t.a} HTTP/1.1\r\n${G}Transfer-Encoding: chunked\r\n\r\n${TEBODY}${smug(t)}`, BOTH);

// Content-Length variants.
const CLBODY = (t: Paths) => `hello${smug(t)}`;
for (const v of ['', ' ', '+5', ' 5', '\t5', '5\t', '5,5', '5, 5', '5,', ',5', '0x5', '-5', '5.0', '1e1', 'five', '5 5', '05x', '99999999999999999999',
  '18446744073709551621', '4294967301', '\u0665', '5\u0000', '\u00a05']) {
  add('cl', `Content-Length: ${JSON.stringify(v)}`, (t) => post(t, `Content-Length: ${v}\r\n`, CLBODY(t)));
}
add('cl', 'two equal Content-Length', (t) => post(t, 'Content-Length: 5\r\nContent-Length: 5\r\n', CLBODY(t)));
add('cl', 'two different Content-Length, small first', (t) => post(t, `Content-Length: 5\r\nContent-Length: ${CLBODY(t).length}\r\n`, CLBODY(t)));
add('cl', 'two different Content-Length, large first', (t) => post(t, `Content-Length: ${CLBODY(t).length}\r\nContent-Length: 5\r\n`, CLBODY(t)));
add('cl', 'Content-Length with space before colon', (t) => post(t, 'Content-Length : 5\r\n', CLBODY(t)));
add('cl', 'Content-Length folded', (t) => post(t, 'Content-Length: 5\r\n 0\r\n', CLBODY(t)));
add('cl', 'Content-Length larger than what follows (stream ends)', (t) => post(t, 'Content-Length: 100\r\n', 'hello'));
add('cl', 'huge Content-Length (stream ends)', (t) => post(t, 'Content-Length: 1000000000000\r\n', 'hello'));
add('cl', 'Content-Length hidden after a bare LF', (t) => post(t, `X: a\nContent-Length: ${CLBODY(t).length}\r\n`, CLBODY(t)));
add('cl', 'Content-Length hidden after a bare CR', (t) => post(t, `X: a\rContent-Length: ${CLBODY(t).length}\r\n`, CLBODY(t)));
add('cl', 'Content-Length on a GET, body is a request', (t) => `GET ${t.a} HTTP/1.1\r\n${G}Content-Length: ${smug(t).length}\r\n\r\n${smug(t)}`);

// Header syntax.
add('fields', 'empty header name hiding a Content-Length', (t) => post(t, `: x\r\nContent-Length: ${CLBODY(t).length}\r\n`, CLBODY(t)));
add('fields', 'empty header name hiding a Transfer-Encoding', (t) => post(t, `Content-Length: 5\r\n: x\r\nTransfer-Encoding: chunked\r\n`, `hello${smug(t)}`));
add('fields', 'empty header name, GET', (t) => `GET ${t.a} HTTP/1.1\r\n${G}: nameless\r\nX-After: 1\r\n\r\n`);
add('fields', 'a bare colon line', (t) => `GET ${t.a} HTTP/1.1\r\n${G}:\r\n\r\n${smug(t)}`);
add('fields', 'space before colon', (t) => `GET ${t.a} HTTP/1.1\r\nHost : gw\r\n\r\n${smug(t)}`);
add('fields', 'obs-fold', (t) => `GET ${t.a} HTTP/1.1\r\n${G}X-F: a\r\n b\r\n\r\n${smug(t)}`);
add('fields', 'obs-fold hiding a Content-Length', (t) => post(t, `X-F: a\r\n Content-Length: ${CLBODY(t).length}\r\n`, CLBODY(t)));
add('fields', 'whitespace before the first field line', (t) => `GET ${t.a} HTTP/1.1\r\n ${G}\r\n${smug(t)}`);
add('fields', 'bare LF inside a value', (t) => `GET ${t.a} HTTP/1.1\r\n${G}X: a\nb\r\n\r\n${smug(t)}`);
add('fields', 'bare LF ending the head', (t) => `GET ${t.a} HTTP/1.1\r\n${G}\n${smug(t)}`);
add('fields', 'bare LF line ends throughout', (t) => `GET ${t.a} HTTP/1.1\n${G.replace('\r', '')}\n${smug(t)}`);
add('fields', 'bare CR inside a value', (t) => `GET ${t.a} HTTP/1.1\r\n${G}X: a\rb\r\n\r\n${smug(t)}`);
for (const [label, c] of [['NUL', '\u0000'], ['DEL', '\u007f'], ['VT', '\u000b'], ['FF', '\u000c'], ['ESC', '\u001b']] as const) {
  add('fields', `${label} inside a value`, (t) => `GET ${t.a} HTTP/1.1\r\n${G}X: a${c}b\r\n\r\n${smug(t)}`);
}
add('fields', 'NUL in a name', (t) => `GET ${t.a} HTTP/1.1\r\n${G}X\u0000: b\r\n\r\n${smug(t)}`);
add('fields', 'a non-token name', (t) => `GET ${t.a} HTTP/1.1\r\n${G}X(Evil): 1\r\n\r\n${smug(t)}`);
add('fields', 'a name with a space', (t) => `GET ${t.a} HTTP/1.1\r\n${G}X Y: 1\r\n\r\n${smug(t)}`);
add('fields', 'a non-ASCII name', (t) => `GET ${t.a} HTTP/1.1\r\n${G}X\u00e9: 1\r\n\r\n${smug(t)}`);
add('fields', 'a line without colon', (t) => `GET ${t.a} HTTP/1.1\r\n${G}Nocolon\r\n\r\n${smug(t)}`);
add('fields', 'two Host lines', (t) => `GET ${t.a} HTTP/1.1\r\n${G}${G}\r\n${smug(t)}`);
add('fields', 'no Host', (t) => `GET ${t.a} HTTP/1.1\r\n\r\n${smug(t)}`);
add('fields', 'a 70 KB header line', (t) => `GET ${t.a} HTTP/1.1\r\n${G}X-Big: ${'a'.repeat(70_000)}\r\n\r\n${smug(t)}`);

// Request lines and methods.
for (const m of ['delete', 'gEt', 'get', 'Get', 'post', 'pUT', 'options', 'trace', 'patch', 'head', 'connect']) {
  add('method', `method ${JSON.stringify(m)} (a standard method in the wrong case)`, (t) => `${m} ${t.a} HTTP/1.1\r\n${G}Content-Length: 0\r\n\r\n`);
  add('method', `method ${JSON.stringify(m)} (a standard method in the wrong case), a request after it`, (t) => `${m} ${t.a} HTTP/1.1\r\n${G}Content-Length: 0\r\n\r\n${smug(t)}`);
}
for (const m of ['G"T', 'G:T', 'G\u007fT', 'G\u0000T', 'G(T', 'G,T', 'G/T', 'G\u00e9T', 'G\u0080T', '\u00c4GET', 'G@T', 'G[T', 'G{T']) {
  add('method', `method ${JSON.stringify(m)} (not a token)`, (t) => `${m} ${t.a} HTTP/1.1\r\n${G}\r\n${smug(t)}`);
}
add('request-line', 'two spaces after the method', (t) => `GET  ${t.a} HTTP/1.1\r\n${G}\r\n${smug(t)}`);
add('request-line', 'a tab as separator', (t) => `GET\t${t.a} HTTP/1.1\r\n${G}\r\n${smug(t)}`);
add('request-line', 'trailing space after the version', (t) => `GET ${t.a} HTTP/1.1 \r\n${G}\r\n${smug(t)}`);
add('request-line', 'HTTP/1.2', (t) => `GET ${t.a} HTTP/1.2\r\n${G}\r\n${smug(t)}`);
add('request-line', 'HTTP/1.10', (t) => `GET ${t.a} HTTP/1.10\r\n${G}\r\n${smug(t)}`);
add('request-line', 'http/1.1', (t) => `GET ${t.a} http/1.1\r\n${G}\r\n${smug(t)}`);
add('request-line', 'HTTP/1.0 with Host', (t) => `GET ${t.a} HTTP/1.0\r\n${G}\r\n${smug(t)}`);
add('request-line', 'bare LF after the request line', (t) => `GET ${t.a} HTTP/1.1\n${G}\r\n${smug(t)}`);
add('request-line', 'bare CR in the request line', (t) => `GET ${t.a}\r HTTP/1.1\r\n${G}\r\n${smug(t)}`);
add('request-line', 'a bare LF before the request line', (t) => `\nGET ${t.a} HTTP/1.1\r\n${G}\r\n`);
add('request-line', 'a space in the target', (t) => `GET ${t.a} x HTTP/1.1\r\n${G}\r\n${smug(t)}`);
add('request-line', 'NUL in the target', (t) => `GET ${t.a}\u0000y HTTP/1.1\r\n${G}\r\n${smug(t)}`);
add('request-line', 'DEL in the target', (t) => `GET ${t.a}\u007f HTTP/1.1\r\n${G}\r\n${smug(t)}`);
add('request-line', 'a version-less request line', (t) => `GET ${t.a}\r\n${G}\r\n${smug(t)}`);
add('request-line', 'a request after a garbage line', (t) => `garbage\r\n${smug(t)}`);

// Pipelines mixing a valid request and a hostile one.
add('pipeline', 'valid GET then obs-fold', (t) => `GET ${t.a} HTTP/1.1\r\n${G}\r\nGET ${t.b} HTTP/1.1\r\n${G}X: a\r\n b\r\n\r\n`);
add('pipeline', 'valid GET then duplicate CL hiding a request', (t) => `GET ${t.a} HTTP/1.1\r\n${G}\r\nPOST ${t.b} HTTP/1.1\r\n${G}Content-Length: 5\r\nContent-Length: ${CLBODY(t).length}\r\n\r\n${CLBODY(t)}`);
add('pipeline', 'valid GET then TE', (t) => `GET ${t.a} HTTP/1.1\r\n${G}\r\nPOST ${t.b} HTTP/1.1\r\n${G}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smug(t)}`, BOTH);
add('pipeline', 'valid GET then bad method', (t) => `GET ${t.a} HTTP/1.1\r\n${G}\r\ngEt ${t.b} HTTP/1.1\r\n${G}\r\n${smug(t)}`);
add('pipeline', 'valid GET to a gateway route then a smuggle to it', (t) => `GET ${t.s.replace('/s', '/0')} HTTP/1.1\r\n${G}\r\nPOST ${t.b} HTTP/1.1\r\n${G}Content-Length: 5\r\nContent-Length: ${5 + smugS(t).length}\r\n\r\nhello${smugS(t)}`);

// --- seeded mutations of valid requests ----------------------------------------------

const BASES: { label: string; route: Route; make: (t: Paths) => string }[] = [
  { label: 'POST CL + GET', route: 'd', make: (t) => post(t, 'Content-Length: 5\r\n', 'hello') + smug(t) },
  { label: 'POST chunked + GET', route: 'dc', make: (t) => te(t, '5\r\nhello\r\n0\r\n\r\n') + smug(t) },
  { label: 'POST chunked + trailer + GET', route: 'dc', make: (t) => te(t, '5;e=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n') + smugS(t) },
  { label: 'GET + GET', route: 'd', make: (t) => `GET ${t.a} HTTP/1.1\r\n${G}\r\nGET ${t.b} HTTP/1.1\r\n${G}\r\n` },
  { label: 'POST CL whose body is a request', route: 'd', make: (t) => post(t, `Content-Length: ${smugS(t).length}\r\n`, smugS(t)) + `GET ${t.b} HTTP/1.1\r\n${G}\r\n` },
];
const INTERESTING = [13, 10, 32, 9, 0x3a, 0x2c, 0x3b, 0x3d, 0x22, 0x30, 0x35, 0x61, 0x46, 0x2d, 0x2b, 0, 0x7f, 0x80, 0xff, 0x0b];

/** Offsets not inside a request-target (a mutation there only renames the request). */
function framingPositions(bytes: Buffer): number[] {
  const s = bytes.toString('latin1');
  const skip = new Uint8Array(bytes.length);
  for (const m of s.matchAll(/(?:^|\n)[A-Za-z-]+ (\/\S*)/g)) {
    const at = m.index! + m[0].length - m[1]!.length;
    skip.fill(1, at, at + m[1]!.length);
  }
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) if (!skip[i]) out.push(i);
  return out;
}

const mutationArb = fc.record({
  base: fc.nat({ max: BASES.length - 1 }),
  ops: fc.array(fc.record({ kind: fc.constantFrom('insert', 'delete', 'replace'), at: fc.nat(), byte: fc.constantFrom(...INTERESTING) }), { minLength: 1, maxLength: 3 }),
});

function mutate(bytes: Buffer, ops: { kind: string; at: number; byte: number }[]): { bytes: Buffer; text: string } {
  let b = Buffer.from(bytes);
  const desc: string[] = [];
  for (const op of ops) {
    const pos = framingPositions(b);
    if (pos.length === 0) break;
    const i = pos[op.at % pos.length]!;
    const hex = `0x${op.byte.toString(16)}`;
    if (op.kind === 'insert') { b = Buffer.concat([b.subarray(0, i), Buffer.from([op.byte]), b.subarray(i)]); desc.push(`insert ${hex} at ${i}`); }
    else if (op.kind === 'delete') { b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]); desc.push(`delete at ${i}`); }
    else { b[i] = op.byte; desc.push(`replace at ${i} with ${hex}`); }
  }
  return { bytes: b, text: desc.join(', ') };
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  let id = 0;
  const paths = (n: number, route: Route): Paths => ({ a: `/${route}/${n}/0`, b: `/${route}/${n}/1`, x: `/d/${n}/x`, s: `/ds/${n}/s` });
  for (const t of templates) {
    for (const route of t.routes) {
      const n = ++id;
      const m = t.make(paths(n, route));
      cases.push({ id: n, label: `${t.label}${t.routes.length > 1 ? ` [${route}]` : ''}`, group: t.group, route, bytes: typeof m === 'string' ? Buffer.from(m, 'latin1') : m });
    }
  }
  const samples = fc.sample(mutationArb, { seed: SEED, numRuns: MUTATIONS });
  samples.forEach((s, k) => {
    const n = ++id;
    const base = BASES[s.base]!;
    const m = mutate(Buffer.from(base.make(paths(n, base.route)), 'latin1'), s.ops);
    cases.push({ id: n, label: `mutation #${k} of "${base.label}": ${m.text}`, group: 'mutation', route: base.route, bytes: m.bytes });
  });
  return cases;
}

// --- running a case --------------------------------------------------------------------

interface Outcome {
  c: Case;
  strict: StrictResult;
  responses: ReadResponse[];
  closed: boolean;
  /** Bytes of the gateway's answer, for failure messages. */
  raw: Buffer;
  /** Offset in `raw` where reading responses stopped (raw.length when every byte was a whole response). */
  readTo: number;
}

/** How many answers a case should get at most: one per strict request, plus one refusal. */
function expectedAnswers(s: StrictResult): number {
  return s.requests.length + (s.error ? 1 : 0);
}

function runCase(port: number, c: Case): Promise<Outcome> {
  const strict = readRequests(c.bytes, { nonAsciiTarget: 'allow' });
  const want = expectedAnswers(strict);
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    let done = false;
    let quiet: NodeJS.Timeout | null = null;
    const headFor = (i: number) => strict.requests[i]?.method === 'HEAD';
    const parse = () => readResponses(Buffer.concat(chunks), headFor).responses.filter((r) => r.status >= 200);
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(hard);
      if (quiet) clearTimeout(quiet);
      sock.destroy();
      const raw = Buffer.concat(chunks);
      const read = readResponses(raw, headFor);
      resolve({ c, strict, responses: read.responses.filter((r) => r.status >= 200), closed, raw, readTo: read.rest });
    };
    const hard = setTimeout(finish, HARD_MS);
    const armQuiet = () => {
      if (quiet) clearTimeout(quiet);
      quiet = setTimeout(finish, QUIET_MS);
    };
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      if (quiet || parse().length >= want) armQuiet();
    });
    sock.on('error', () => { closed = true; finish(); });
    sock.on('close', () => { closed = true; finish(); });
    sock.on('connect', () => {
      sock.write(c.bytes);
      // Nothing complete to answer (the stream ends inside a request): wait a little for a stray answer.
      if (want === 0) armQuiet();
    });
  });
}

// --- evaluation ---------------------------------------------------------------------------

/** The target as the gateway forwards it: octets >= 0x80 percent-encoded. */
function forwardedForm(target: string): string {
  let out = '';
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    out += c >= 0x80 || c < 0x21 ? `%${c.toString(16).toUpperCase().padStart(2, '0')}` : target[i];
  }
  return out;
}

const caseOf = (target: string): number => {
  const m = /^\/(?:d|dc|ds)\/(\d+)\//.exec(target);
  return m ? Number(m[1]) : -1;
};

function reasonOf(r: ReadResponse | undefined): string {
  if (!r) return '';
  try { return String((JSON.parse(r.body.toString('utf8')) as { reason?: unknown }).reason ?? ''); } catch { return ''; }
}

function describeOutcome(o: Outcome): string {
  const s = o.strict;
  return `  case ${o.c.id} [${o.c.group}] ${o.c.label}\n    sent: ${show(o.c.bytes, 300)}\n    strict: ${s.requests.length} request(s) ${JSON.stringify(s.requests.map((r) => `${r.method} ${r.target}`))}`
    + `${s.error ? `, then ${s.error.code} (${s.error.detail}) in request ${s.error.requestIndex}` : ''}${s.partial ? ', then an unfinished request' : ''}\n`
    + `    gateway: ${JSON.stringify(o.responses.map((r) => `${r.status}${reasonOf(r) ? ` ${reasonOf(r)}` : ''}`))}${o.closed ? ', closed' : ', left open'}; raw ${show(o.raw, 200)}`;
}

interface Failure { invariant: string; caseId: number; head: string; why: string }

function evaluate(o: Outcome, upstream: readonly SeenHead[]): Failure[] {
  const out: Failure[] = [];
  const fail = (invariant: string, why: string) => out.push({ invariant, caseId: o.c.id, head: describeOutcome(o), why });
  const s = o.strict;
  const R = o.responses;
  const mine = upstream.filter((h) => caseOf(h.target) === o.c.id);
  const used = new Set<number>();
  // (b) Each upstream request maps to a distinct strict request (complete, or the head of the
  // unfinished/failing one when the upstream never got it complete).
  const mapped: number[] = [];
  for (const h of mine) {
    let k = s.requests.findIndex((q, i) => !used.has(i) && q.method === h.method && forwardedForm(q.target) === h.target);
    if (k >= 0) {
      used.add(k);
      mapped.push(k);
      const q = s.requests[k]!;
      if (h.complete && h.request && !h.request.body.equals(q.body)) fail('b', `upstream got ${h.method} ${h.target} with body ${show(h.request.body, 120)}, the strict reader reads ${show(q.body, 120)}`);
      continue;
    }
    const tail = s.partial?.headComplete ? s.partial : s.error?.headComplete ? s.error : null;
    if (tail && !h.complete && tail.method === h.method && forwardedForm(tail.target!) === h.target) {
      mapped.push(s.requests.length);
      continue;
    }
    fail('b', `upstream received ${h.complete ? 'a complete' : 'the head of a'} request ${h.method} ${h.target}${h.request ? ` (body ${show(h.request.body, 80)})` : ''} that is not a ${h.complete ? 'complete ' : ''}request to a strict reader`);
  }
  // (c) An answer 4xx is never forwarded (answers are in request order).
  R.forEach((r, k) => {
    if (r.status >= 400 && r.status < 500 && mapped.includes(k)) fail('c', `request ${k} was answered ${r.status} and forwarded`);
  });
  // (d) Refused framing: a refusal or a close, and nothing after it answered or forwarded.
  if (s.error) {
    const e = s.error.requestIndex;
    const r = R[e];
    // A refusal status, or any error status followed by a close (uWS answers its own parse errors 505 and closes).
    if (r !== undefined && !(REFUSAL.has(r.status) || (r.status >= 400 && o.closed))) {
      fail('d', `the strict reader refuses request ${e} (${s.error.code}); the gateway answered ${r.status}${o.closed ? '' : ' and left the connection open'}`);
    }
    if (r === undefined && !o.closed) {
      fail('d-answer', `the strict reader refuses request ${e} (${s.error.code}); the gateway neither answered nor closed the connection within ${HARD_MS} ms (nothing was served: a liveness finding)`);
    }
    if (R.length > e + 1) fail('d', `${R.length - e - 1} answer(s) after the refused request ${e}: ${R.slice(e + 1).map((x) => x.status).join(',')}`);
    for (const k of mapped) if (k > e) fail('d', `request ${k}, after the refused one, was forwarded`);
  }
  // Served but not forwarded (a gateway route): never more successful answers than requests;
  // past the last complete request, at most one refusal (of the unfinished one).
  if (!s.error) {
    const extra = R.slice(s.requests.length);
    if (extra.length > 1 || extra.some((r) => r.status < 400)) fail('b', `answers ${JSON.stringify(extra.map((r) => r.status))} past the ${s.requests.length} request(s) the strict reader sees`);
  }
  // (e) What the gateway sends back is whole, well-framed HTTP/1.1 responses.
  if (o.readTo < o.raw.length && o.closed) fail('e', `the gateway's answer is not well-framed HTTP/1.1 from byte ${o.readTo}: ${show(o.raw.subarray(o.readTo), 300)}`);
  // An upstream answer echoes the request it answers: answers never mixed up.
  R.forEach((r, k) => {
    if (fieldValues(r.headers, 'x-up-n').length === 0) return;
    const q = s.requests[k];
    let t = '';
    try { t = String((JSON.parse(r.body.toString('utf8')) as { target?: unknown }).target); } catch { /* not ours */ }
    if (!q || forwardedForm(q.target) !== t) fail('b', `answer ${k} is the upstream's answer to ${t}, the strict reader's request ${k} is ${q ? q.target : 'none'}`);
  });
  return out;
}

/** The gateway's promises on top of the invariants (issue 13). */
function evaluatePolicy(o: Outcome, upstream: readonly SeenHead[]): Failure[] {
  const out: Failure[] = [];
  const fail = (invariant: string, why: string) => out.push({ invariant, caseId: o.c.id, head: describeOutcome(o), why });
  const s = o.strict;
  const R = o.responses;
  const mine = upstream.filter((h) => caseOf(h.target) === o.c.id);
  const forwarded = (q: { method: string; target: string }) => mine.some((h) => h.method === q.method && h.target === forwardedForm(q.target));
  // Walk the strict requests up to the first one the policy refuses.
  for (let k = 0; k < s.requests.length; k++) {
    const q = s.requests[k]!;
    const later = s.requests.slice(k + 1);
    const badCase = STANDARD.includes(q.method.toUpperCase()) && !STANDARD.includes(q.method);
    if (badCase && o.c.bytes.length > q.end && R[k] === undefined && o.closed && !forwarded(q)) { noted.push(`closed without an answer (a request after the bad method): case ${o.c.id} ${o.c.label}`); return out; }
    if (badCase) {
      if (R[k]?.status !== 400 || reasonOf(R[k]) !== 'bad_method') fail('method', `request ${k} "${q.method}" should be answered 400 bad_method, got ${R[k] ? `${R[k]!.status} ${reasonOf(R[k])}` : 'nothing'}`);
      if (forwarded(q)) fail('method', `request ${k} "${q.method}" was forwarded`);
      return out;
    }
    if (q.framing === 'chunked') {
      const optIn = q.target.startsWith('/dc/');
      // uWS closes a connection on which a request arrives while an answer is pending (it refuses
      // async pipelining): with bytes after the chunked request, a close without an answer is fine.
      // uWS does not read a trailer section (it parses the first trailer line as the next request): the same.
      const followed = o.c.bytes.length > q.end || q.trailers.length > 0;
      if (followed && R[k] === undefined && o.closed && !forwarded(q) && o.readTo === o.raw.length) { noted.push(`closed without an answer (bytes after the chunked request): case ${o.c.id} ${o.c.label}`); return out; }
      // uWS's own chunked parser refusing (its HTML 400/505 and a close) is a refusal, stricter than RFC 9112 for some valid framings.
      if (R[k] !== undefined && R[k]!.status >= 400 && reasonOf(R[k]) === '' && o.closed && !forwarded(q) && R.length === k + 1) { noted.push(`uWS's parser refused (${R[k]!.status}): case ${o.c.id} ${o.c.label}`); return out; }
      // chunked_uploads accepts uWS's chunk decoder (docs/security.md): on chunk extensions and some
      // mutations it waits for bytes that never come, until its idle timeout. Nothing after it may be served.
      if (optIn && R[k] === undefined) {
        for (const l of later) if (forwarded(l)) fail('chunked_uploads', `${l.method} ${l.target}, after request ${k} with Transfer-Encoding, was forwarded`);
        noted.push(`uWS's chunk decoder still waiting (chunked_uploads): case ${o.c.id} ${o.c.label}`);
        return out;
      }
      if (!optIn) {
        if (R[k]?.status !== 411 || reasonOf(R[k]) !== 'length_required') fail('te', `request ${k} with Transfer-Encoding should be answered 411 length_required, got ${R[k] ? `${R[k]!.status} ${reasonOf(R[k])}` : 'nothing'}`);
        if (forwarded(q)) fail('te', `request ${k} with Transfer-Encoding was forwarded`);
      } else {
        if (!R[k] || R[k]!.status !== 200) fail('chunked_uploads', `request ${k} with Transfer-Encoding on a chunked_uploads route should be forwarded (200), got ${R[k]?.status ?? (o.readTo < o.raw.length ? 'an answer that is not well-framed HTTP/1.1 (see (e))' : 'nothing')}`);
        if (!forwarded(q)) fail('chunked_uploads', `request ${k} was not forwarded`);
      }
      if (!o.closed) fail(optIn ? 'chunked_uploads' : 'te', `the connection was left open after request ${k} with Transfer-Encoding`);
      if (R.length > k + 1) fail(optIn ? 'chunked_uploads' : 'te', `${R.length - k - 1} answer(s) after request ${k} with Transfer-Encoding`);
      for (const l of later) if (forwarded(l)) fail(optIn ? 'chunked_uploads' : 'te', `${l.method} ${l.target}, after request ${k} with Transfer-Encoding, was forwarded`);
      return out;
    }
  }
  if (s.error && !s.error.headComplete) {
    const e = s.error.requestIndex;
    // An empty Content-Length: 400 and closed.
    const head = o.c.bytes.subarray(e === 0 ? 0 : s.requests[e - 1]!.end).toString('latin1');
    const headOnly = head.slice(0, Math.max(0, head.indexOf('\r\n\r\n')));
    if (s.error.code === 'bad_content_length' && /\r\ncontent-length:[ \t]*\r\n/i.test(headOnly)) {
      if (R[e]?.status !== 400) fail('empty-cl', `an empty Content-Length should be answered 400, got ${R[e]?.status ?? 'nothing'}`);
      if (!o.closed) fail('empty-cl', 'the connection was left open after an empty Content-Length');
    }
    if (s.error.code === 'bad_method') {
      // uWS's own parser refuses some non-token bytes before the gateway sees the request (its HTML
      // 505 and a close); what the gateway sees it must answer 400 bad_method.
      const parserRefused = R[e] !== undefined && reasonOf(R[e]) === '' && R[e]!.status >= 400 && o.closed;
      if (R[e] && !parserRefused && (R[e]!.status !== 400 || reasonOf(R[e]) !== 'bad_method')) fail('method', `a method that is not a token should be answered 400 bad_method, got ${R[e]!.status} ${reasonOf(R[e])}`);
      if (!R[e] && !o.closed) fail('method', 'a method that is not a token got no answer and the connection stayed open');
    }
    if (s.error.code === 'empty_field_name') {
      if (R[e] && R[e]!.status !== 400) fail('empty-name', `an empty header name should be answered 400 (and closed), got ${R[e]!.status}`);
      if (R[e] && !o.closed) fail('empty-name', 'the connection was left open after an empty header name');
    }
  }
  return out;
}

// --- the suite ----------------------------------------------------------------------------

let gw: RunningGateway;
let up: RawUpstream;
let chunkedUploadsKnown = true;
const outcomes: Outcome[] = [];
/** Outcomes a policy accepts only because of a known uWS behaviour (printed, not failed). */
const noted: string[] = [];
const healthAfterBatch: { batch: number; status: number; alive: boolean }[] = [];
let cases: Case[] = [];
let elapsedMs = 0;

async function health(port: number): Promise<number> {
  const o = await runCase(port, { id: 0, label: 'health', group: 'health', route: 'd', bytes: Buffer.from('GET /health HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n') });
  return o.responses[0]?.status ?? 0;
}

function config(withChunked: boolean): Record<string, unknown> {
  return {
    server: { listen: LISTEN },
    upstreams: { up: { targets: [up.url], timeout: '2s' } },
    routes: [
      { name: 'health', match: { path: '/health' }, anonymous: true, respond: { status: 200, body: 'ok' } },
      { name: 'static', match: { path_prefix: '/ds/' }, anonymous: true, respond: { status: 200, body: 'static' } },
      { name: 'chunked', match: { path_prefix: '/dc/' }, anonymous: true, upstream: 'up', ...(withChunked ? { chunked_uploads: true } : {}) },
      { name: 'proxied', match: { path_prefix: '/' }, anonymous: true, upstream: 'up' },
    ],
  };
}

beforeAll(async () => {
  const t0 = Date.now();
  up = await startRawUpstream();
  try {
    gw = await startGateway(config(true), { timeoutMs: 15_000 });
  } catch {
    // A gateway that does not know `chunked_uploads` refuses the config: run without it (the policy test reports it).
    chunkedUploadsKnown = false;
    gw = await startGateway(config(false));
  }
  cases = buildCases();
  const port = gw.ports[0]!;
  for (let i = 0, batch = 0; i < cases.length; i += BATCH, batch++) {
    const slice = cases.slice(i, i + BATCH);
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < slice.length) outcomes.push(await runCase(port, slice[next++]!));
    }));
    healthAfterBatch.push({ batch, status: await health(port), alive: gw.proc.exitCode === null });
    if (gw.proc.exitCode !== null) break;
  }
  // The upstream's record is complete once every case has finished (the gateway
  // forwards a request before it answers it); a last health request flushes nothing but proves the gateway is still there.
  elapsedMs = Date.now() - t0;
  console.log(`framing-differential: ${cases.length} cases (${templates.length} templates, ${MUTATIONS} mutations, seed ${SEED}) in ${elapsedMs} ms; chunked_uploads known: ${chunkedUploadsKnown}`);
}, 120_000);

afterAll(async () => {
  if (noted.length) console.log(`framing policy: accepted because of known uWS behaviour (${new Set(noted).size}):\n  ${[...new Set(noted)].join('\n  ')}`);
  await gw?.stop();
  await up?.close();
});

/** One block per case: what was sent, what each side read, every way it failed. */
function report(failures: Failure[], what: string, mark = 'FAILED'): string {
  const by = new Map<number, { head: string; why: Set<string> }>();
  for (const f of failures) {
    const e = by.get(f.caseId) ?? { head: f.head, why: new Set<string>() };
    e.why.add(f.why);
    by.set(f.caseId, e);
  }
  const blocks = [...by.values()].map((e) => `${e.head}\n${[...e.why].map((w) => `    ${mark}: ${w}`).join('\n')}`);
  return `${by.size} ${what} (seed ${SEED}; PORTCULLIS_FUZZ_SEED=${SEED} PORTCULLIS_FUZZ_RUNS=${MUTATIONS} reproduces the run):\n${blocks.join('\n')}`;
}

/** uWS 20.57 ends its header list at an empty field name: the gateway cannot see that line nor any after it. */
const hidesBehindEmptyName = (o: Outcome) => o.strict.error?.code === 'empty_field_name' && o.strict.error.where === 'head';

/**
 * A chunked_uploads route accepts uWS's lax chunk decoding by choice
 * (docs/security.md): there the body the upstream gets may differ from a
 * strict reading, so (b)/(d) are replaced by evaluateOptIn's promises.
 */
const optIn = (o: Outcome) => o.c.route === 'dc' && /\r\ntransfer-encoding:/i.test(o.c.bytes.toString('latin1'));

/** chunked_uploads: at most the first request is forwarded (its method and target), nothing after it is answered, and the connection closes. */
function evaluateOptIn(o: Outcome, upstream: readonly SeenHead[]): Failure[] {
  const out: Failure[] = [];
  const fail = (invariant: string, why: string) => out.push({ invariant, caseId: o.c.id, head: describeOutcome(o), why });
  const mine = upstream.filter((h) => caseOf(h.target) === o.c.id);
  const first = o.strict.requests[0] ?? o.strict.partial ?? o.strict.error;
  if (mine.length > 1) fail('opt-in', `${mine.length} requests forwarded from one connection: ${mine.map((h) => `${h.method} ${h.target}`).join(', ')}`);
  for (const h of mine) if (!first || first.method !== h.method || forwardedForm(first.target!) !== h.target) fail('opt-in', `forwarded ${h.method} ${h.target}, which is not the first request on the connection`);
  if (o.responses.length > 1) fail('opt-in', `${o.responses.length} answers on one connection`);
  if (!o.closed && o.responses.length > 0) fail('opt-in', 'the connection was left open after the answer');
  return out;
}

function allFailures(pick: (o: Outcome, u: readonly SeenHead[]) => Failure[], invariant?: string, which: (o: Outcome) => boolean = (o) => !hidesBehindEmptyName(o) && !(pick === evaluate && optIn(o))): Failure[] {
  const heads = up.heads();
  return outcomes.filter(which).flatMap((o) => pick(o, heads)).filter((f) => invariant === undefined || f.invariant === invariant);
}

describe('framing differential: gateway vs a strict RFC 9112 reader', () => {
  it('ran the whole corpus', () => {
    expect(outcomes.length).toBe(cases.length);
    expect(cases.length).toBeGreaterThan(250);
  });

  it('(a) the gateway stays up: a health request works after every batch', () => {
    expect(healthAfterBatch.filter((h) => h.status !== 200 || !h.alive), JSON.stringify(healthAfterBatch)).toEqual([]);
  });

  it('(b) every request the upstream receives is a complete, valid request to a strict reader, with the same body', () => {
    const heads = up.heads();
    const stray = heads.filter((h) => caseOf(h.target) < 0 || caseOf(h.target) > cases.length);
    expect(stray.map((h) => `${h.method} ${h.target}`), 'requests the upstream got that no case sent as a request target').toEqual([]);
    const f = allFailures(evaluate, 'b');
    expect(f.length, report(f, 'cases break (b)')).toBe(0);
  });

  it('(b) the bytes the upstream receives are strict HTTP/1.1 on every connection', () => {
    const errs = up.errors();
    expect(errs.map((e) => `conn ${e.conn}: ${e.error.code} ${e.error.detail} in ${show(e.bytes.subarray(Math.max(0, e.error.offset - 200), e.error.offset + 100))}`)).toEqual([]);
  });

  it('(c) a request the gateway answered 4xx is never forwarded', () => {
    const f = allFailures(evaluate, 'c');
    expect(f.length, report(f, 'cases break (c)')).toBe(0);
  });

  it('(d) framing the strict reader refuses is answered 400/411/413/431 or closed, and nothing after it is served or forwarded', () => {
    const f = allFailures(evaluate, 'd');
    expect(f.length, report(f, 'cases break (d)')).toBe(0);
  });

  it('(e) the answers are well-framed HTTP/1.1 responses', () => {
    const f = allFailures(evaluate, 'e');
    expect(f.length, report(f, 'cases get an answer that is not well-framed')).toBe(0);
  });

  // Liveness, not safety: uWS 20.57 reads a lone CR (in a value, in the
  // request line) and some garbage as incomplete input and waits for more
  // bytes until its idle timeout. Nothing is served meanwhile — (b)–(d) hold —
  // so these are reported, not failed.
  it('(d) framing the strict reader refuses that neither gets an answer nor a close within the case deadline is reported (nothing served)', () => {
    const f = allFailures(evaluate, 'd-answer');
    if (f.length) console.log(report(f, 'cases neither answered nor closed within the deadline (uWS waits for more bytes; not a failure)', 'NOTED'));
    expect(allFailures(evaluate, 'd').filter((x) => f.some((y) => y.caseId === x.caseId))).toEqual([]);
  });

  it('on a chunked_uploads route: at most the first request is forwarded, nothing after it is answered, the connection closes', () => {
    const f = allFailures(evaluateOptIn, 'opt-in', optIn);
    expect(outcomes.filter(optIn).length).toBeGreaterThan(20);
    expect(f.length, report(f, 'cases break the chunked_uploads promises')).toBe(0);
  });

  // KNOWN uWS 20.57 LIMITATION: uWS ends its header list at an empty field name
  // (": x"), so the gateway sees neither that line nor any after it and can
  // forward the request cut there (without a hidden Content-Length or
  // Transfer-Encoding, but also without the rest of the head). Kept as it.fails:
  // when this starts passing, the gateway refuses these (400, closed): drop `.fails`.
  it.fails('(b)+(d) an empty header name in the head: refused (400, closed), nothing of it forwarded [uWS limitation]', () => {
    const f = [...allFailures(evaluate, undefined, hidesBehindEmptyName), ...allFailures(evaluatePolicy, 'empty-name', hidesBehindEmptyName)];
    expect(outcomes.filter(hidesBehindEmptyName).length).toBeGreaterThan(0);
    expect(f.length, report(f, 'cases with an empty header name')).toBe(0);
  });
});

describe('framing policy (issue 13)', () => {
  it('Transfer-Encoding is refused by default: 411 length_required, closed, never forwarded, nothing after it served', () => {
    const f = allFailures(evaluatePolicy, 'te');
    expect(f.length, report(f, 'cases break the Transfer-Encoding policy')).toBe(0);
  });

  it('a chunked_uploads route is a known option, forwards a chunked request and closes the connection after it', () => {
    expect(chunkedUploadsKnown, 'the gateway refused a config with routes[].chunked_uploads').toBe(true);
    const f = allFailures(evaluatePolicy, 'chunked_uploads');
    expect(f.length, report(f, 'cases break the chunked_uploads policy')).toBe(0);
  });

  it('a standard method in the wrong case, or a method that is not a token, is refused with 400 bad_method and never forwarded', () => {
    const f = allFailures(evaluatePolicy, 'method');
    expect(f.length, report(f, 'cases break the method policy')).toBe(0);
  });

  it('an empty Content-Length is answered 400 and the connection closed', () => {
    const f = allFailures(evaluatePolicy, 'empty-cl');
    expect(f.length, report(f, 'cases break the empty Content-Length policy')).toBe(0);
  });
});
