// Answers the gateway gives itself (rejections, respond routes, redirects).
// Status lines and JSON bodies are precomputed; writing one costs a few uWS calls.
import { R, REASONS, REASON_BODY } from '../reasons.js';
import { endWithoutBody, type HttpResponse } from './uws.js';

const STATUS_TEXT: Record<number, string> = {
  100: 'Continue', 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 206: 'Partial Content',
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 411: 'Length Required', 413: 'Content Too Large', 415: 'Unsupported Media Type',
  422: 'Unprocessable Content', 426: 'Upgrade Required', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  499: 'Client Closed Request', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
};

const statusLines: string[] = [];
/** "404 Not Found", cached per status code. */
export function statusLine(status: number): string {
  let s = statusLines[status];
  if (s === undefined) {
    s = `${status} ${STATUS_TEXT[status] ?? 'Status'}`;
    statusLines[status] = s;
  }
  return s;
}

const statusLineBytes: Buffer[] = [];
/** statusLine() as bytes, cached per status code: uWS copies a Buffer as is, a string is converted on every call. */
export function statusLineBuffer(status: number): Buffer {
  let b = statusLineBytes[status];
  if (b === undefined) {
    b = Buffer.from(statusLine(status), 'latin1');
    if (status >= 100 && status < 1000) statusLineBytes[status] = b;
  }
  return b;
}

/** Per reason id: its status line. */
export const REASON_STATUS_LINE: readonly string[] = REASONS.map((r) => statusLine(r.status));

// Rejections are written from bytes encoded once: uWS copies a Buffer as it
// is, while every JS string argument is converted to UTF-8 on each call.
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const REASON_STATUS_BYTES: readonly Buffer[] = REASON_STATUS_LINE.map(latin1);
const REASON_BODY_BYTES: readonly Buffer[] = REASON_BODY.map((b) => Buffer.from(b, 'utf8'));
const H_CONTENT_TYPE = latin1('content-type');
const V_JSON = latin1('application/json');
const H_CACHE_CONTROL = latin1('cache-control');
const V_NO_STORE = latin1('no-store');


/**
 * Rejections after which the connection is closed: the request's framing is not
 * trusted (duplicate Content-Length, bad Transfer-Encoding…), so the bytes that
 * follow on the connection must never be parsed as a next request. Note uWS
 * honours the close only once it is done parsing the bytes it holds, which is
 * why the pipeline writes these answers outside the uWS handler
 * (Pipeline.rejectFraming; test/core/smuggling.test.ts).
 */
const CLOSE_AFTER = new Uint8Array(REASONS.length);
CLOSE_AFTER[R.bad_header] = 1;
CLOSE_AFTER[R.bad_request] = 1;
CLOSE_AFTER[R.bad_method] = 1;
CLOSE_AFTER[R.length_required] = 1;
CLOSE_AFTER[R.bad_path] = 1;
CLOSE_AFTER[R.unsafe_header_value] = 1;
const NO_HEADERS: readonly string[] = [];

/** 429 bodies naming the limit, by limit name: built when a plan is compiled, never per request. */
const LIMIT_BODY = new Map<string, Buffer>();

/** Precomputes `{"error":"rate_limited","reason":"rate_limited","limit":NAME}` for each limit (runtime build). */
export function defineLimitBodies(names: readonly string[]): void {
  for (const n of names) {
    if (!LIMIT_BODY.has(n)) LIMIT_BODY.set(n, Buffer.from(JSON.stringify({ error: 'rate_limited', reason: 'rate_limited', limit: n }), 'utf8'));
  }
}

/**
 * Writes a rejection with the reason's precomputed JSON body. `extra` is a flat
 * [name, value…] list (WWW-Authenticate, Retry-After, RateLimit…). A 429 with
 * `limitName` (view.limitName) gets that limit's precomputed body.
 * Returns the body's length in bytes (for the access log).
 * Must be called synchronously inside the uWS handler or inside res.cork().
 */
export function writeRejection(
  res: HttpResponse, reasonId: number, extra: readonly string[] = NO_HEADERS, requestId = '', limitName = '',
  close = CLOSE_AFTER[reasonId] === 1, cors: readonly string[] = NO_HEADERS,
): number {
  res.writeStatus(REASON_STATUS_BYTES[reasonId]!);
  res.writeHeader(H_CONTENT_TYPE, V_JSON);
  res.writeHeader(H_CACHE_CONTROL, V_NO_STORE);
  if (requestId) res.writeHeader('x-request-id', requestId);
  for (let i = 0; i + 1 < extra.length; i += 2) res.writeHeader(extra[i]!, extra[i + 1]!);
  for (let i = 0; i + 1 < cors.length; i += 2) res.writeHeader(cors[i]!, cors[i + 1]!);
  const body = reasonId === R.rate_limited && limitName !== '' ? LIMIT_BODY.get(limitName) ?? REASON_BODY_BYTES[reasonId]! : REASON_BODY_BYTES[reasonId]!;
  res.end(body, close);
  return body.length;
}

/** Writes a full answer with a status, flat headers and a body (and the request id, when given). */
export function writeDirect(
  res: HttpResponse, status: number, headers: readonly string[], body: string, head = false, close = false,
  cors: readonly string[] = NO_HEADERS, requestId = '',
): void {
  res.writeStatus(statusLine(status));
  if (requestId) res.writeHeader('x-request-id', requestId);
  for (let i = 0; i + 1 < headers.length; i += 2) res.writeHeader(headers[i]!, headers[i + 1]!);
  for (let i = 0; i + 1 < cors.length; i += 2) res.writeHeader(cors[i]!, cors[i + 1]!);
  if (status === 204 || status === 304) endWithoutBody(res, -1, close); // no Content-Length (RFC 9110 §8.6)
  else if (head) endWithoutBody(res, Buffer.byteLength(body), close);
  else res.end(body, close);
}
