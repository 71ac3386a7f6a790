// Stage 1: what the request is — method, path, query, Host and its framing —
// read from uWS once, checked before any route is looked at.
//
// Framing is checked for every request that declares a body, proxied or not:
// uWS takes the first of several Content-Length headers and reads any
// Transfer-Encoding as chunked, so a front proxy that reads them otherwise
// would disagree with us about where this request ends.
import { acceptableMethod } from '../lib/http-syntax.js';
import { R } from '../reasons.js';
import type { HttpRequest } from './uws.js';
import type { LiveView } from './view.js';

/**
 * Reads stage 1. Its refusals are answered on the next turn of the event loop
 * and the connection closed (SyncReply.rejectDeferred): uWS keeps parsing the
 * same bytes after the handler returns, and while our answer is pending it
 * closes the connection instead of serving what it parsed next (a smuggled
 * request).
 */
export class RequestParser {
  /** Content-Length > 0 or Transfer-Encoding: the request has a body to claim. */
  bodyDeclared = false;
  /**
   * Transfer-Encoding (chunked). Every answer to it is given outside the uWS
   * handler, on a connection then closed: uWS parses the chunked body after
   * the handler returns and reads some framings unlike RFC 9112 (a trailer
   * section as a next request, `5;a=b`, `1G`, bare LF…); with our answer
   * pending, it closes the connection instead of serving them.
   */
  chunked = false;
  /** Declared Content-Length ('' when absent). */
  contentLength = '';

  private clCount = 0;
  private teCount = 0;
  private teBad = false;
  private readonly scan = (k: string, val: string): void => {
    if (k === 'content-length') this.clCount++;
    else if (k === 'transfer-encoding') {
      this.teCount++;
      if (!isChunked(val)) this.teBad = true;
    }
  };

  /**
   * Fills the view's method, query, host and path (the path normalised by
   * `normalize`; the raw URL when it is refused). 0, or the reason to refuse.
   */
  parse(req: HttpRequest, v: LiveView, normalize: (raw: string) => string | null): number {
    v.method = req.getCaseSensitiveMethod();
    v.query = req.getQuery() ?? '';
    v.host = normHost(req.getHeader('host'));
    const cl = req.getHeader('content-length');
    const te = req.getHeader('transfer-encoding');
    this.contentLength = cl;
    this.bodyDeclared = (cl !== '' && cl !== '0') || te !== '';
    this.chunked = te !== '';
    let reason = 0;
    if ((cl !== '' || te !== '') && !this.framingOk(req)) reason = R.bad_header;
    else if (!acceptableMethod(v.method)) reason = R.bad_method;
    else {
      const path = normalize(req.getUrl());
      if (path !== null) { v.path = path; return 0; }
      reason = R.bad_path;
    }
    v.path = req.getUrl();
    return reason;
  }

  /** One Content-Length at most, one Transfer-Encoding at most and only `chunked` (uWS already refuses CL together with TE). */
  private framingOk(req: HttpRequest): boolean {
    this.clCount = 0;
    this.teCount = 0;
    this.teBad = false;
    req.forEach(this.scan);
    return this.clCount <= 1 && this.teCount <= 1 && !this.teBad && !(this.clCount > 0 && this.teCount > 0);
  }
}

/** Host header lower-cased with the port removed; allocation only when it has either. */
export function normHost(h: string): string {
  if (h === '') return h;
  let end = h.length;
  if (h.charCodeAt(0) === 91) { // [v6]:port
    const close = h.indexOf(']');
    end = close > 0 ? close + 1 : end;
  } else {
    const colon = h.lastIndexOf(':');
    if (colon >= 0) end = colon;
  }
  let lower = true;
  for (let i = 0; i < end; i++) {
    const c = h.charCodeAt(i);
    if (c >= 65 && c <= 90) { lower = false; break; }
  }
  const s = end === h.length ? h : h.slice(0, end);
  return lower ? s : s.toLowerCase();
}

/** Every X-Forwarded-For line joined with ", " (only for trusted peers: it allocates). */
export function allXff(req: HttpRequest): string {
  let out = '';
  req.forEach((k, val) => {
    if (k === 'x-forwarded-for') out = out === '' ? val : `${out}, ${val}`;
  });
  return out;
}

/** Transfer-Encoding value is exactly `chunked` (case-insensitive, surrounding blanks allowed). */
function isChunked(val: string): boolean {
  let a = 0;
  let b = val.length;
  while (a < b && (val.charCodeAt(a) === 32 || val.charCodeAt(a) === 9)) a++;
  while (b > a && (val.charCodeAt(b - 1) === 32 || val.charCodeAt(b - 1) === 9)) b--;
  if (b - a !== 7) return false;
  const CHUNKED = 'chunked';
  for (let i = 0; i < 7; i++) {
    let c = val.charCodeAt(a + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== CHUNKED.charCodeAt(i)) return false;
  }
  return true;
}
