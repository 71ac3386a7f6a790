// A strict RFC 9112 request-framing reader: the oracle of the framing tests.
// Given the bytes a client sent on one connection, it returns the requests a
// strict HTTP/1.1 server reads there (method, target, headers, body bytes),
// and where and why it stops: at an error, or because the bytes ran out in
// the middle of a request.
//
// Where RFC 9112/9110 let a recipient choose, this reader takes the stricter
// choice, because the gateway promises it takes it too:
//   - line ends are CRLF only: a bare LF or a bare CR anywhere in a head, a
//     chunk-size line or a trailer is an error (RFC 9112 §2.2 allows a
//     recipient to accept a bare LF; we never do);
//   - obs-fold (a field line starting with SP/HTAB) is an error, and so is
//     whitespace between the request line and the first field line (§2.2);
//   - a field name is 1*tchar immediately followed by ':' (whitespace before
//     the colon is an error, §5.1); a value has no CTL but HTAB, and no DEL;
//   - Content-Length is exactly 1*DIGIT; a list (`5, 5`), an empty value or
//     a second Content-Length line (even with the same value) is an error;
//   - Transfer-Encoding must be exactly one coding, `chunked` (case-
//     insensitive, as RFC 9110 makes coding names): any other coding, a
//     parameter, an empty list element, `chunked` twice (in one or two
//     lines) is an error; Transfer-Encoding in an HTTP/1.0 request, or with
//     Content-Length, is an error (§6.1, §6.3);
//   - chunk-size is 1*HEXDIG, at most 16 digits and at most 2^53-1 (no sign,
//     no `0x`, no leading whitespace);
//   - chunk extensions: by default (`chunkExtensions: 'rfc'`) exactly the RFC
//     9112 §7.1.1 grammar `*( BWS ";" BWS name [ BWS "=" BWS ( token /
//     quoted-string ) ] )`: `5;a=b`, `0;a`, `5 ;a` are valid, `1;`, `5;=x`,
//     `5 ` and `5;a b` are not. `'refuse'` refuses any extension. The
//     differential test uses 'rfc', so that the oracle never calls a valid
//     message invalid (a gateway that refuses more than the oracle is fine;
//     one that accepts what the oracle refuses is not);
//   - the trailer section is read as field lines with the same rules as the
//     head (so `0\r\naa:GET /x HTTP/1.1\r\nHost: x\r\n\r\n` is ONE request
//     whose trailers are `aa` and `Host`), and ends at an empty line;
//   - HTTP/1.1 requires exactly one Host line (§3.2);
//   - versions other than HTTP/1.0 and HTTP/1.1 are an error;
//   - the request-target is 1*( %x21-7E ); octets >= 0x80 are refused unless
//     `nonAsciiTarget: 'allow'` (they are not RFC 3986, but the gateway
//     accepts UTF-8 in a target and forwards it percent-encoded: that is not
//     a framing question).
// Empty lines (CRLF) before a request line are skipped (§2.2 "SHOULD ignore
// at least one empty line").
// All text is returned as latin1 (one char per byte).

export type StrictErrorCode =
  | 'bare_lf' | 'bare_cr'
  | 'bad_request_line' | 'bad_method' | 'bad_target' | 'bad_version'
  | 'ws_after_request_line' | 'obs_fold' | 'no_colon' | 'empty_field_name' | 'ws_before_colon' | 'bad_field_name' | 'ctl_in_value'
  | 'missing_host' | 'duplicate_host'
  | 'bad_content_length' | 'duplicate_content_length' | 'conflicting_content_length'
  | 'bad_transfer_encoding' | 'unsupported_transfer_coding' | 'te_in_http10' | 'cl_and_te'
  | 'bad_chunk_size' | 'chunk_size_too_large' | 'bad_chunk_ext' | 'chunk_data_not_crlf';

export type Where = 'request-line' | 'head' | 'chunk-size' | 'chunk-data' | 'trailer';

export interface StrictError {
  readonly code: StrictErrorCode;
  /** Byte offset in the stream where the problem is. */
  readonly offset: number;
  readonly where: Where;
  /** Index of the request being read (= number of complete requests before it). */
  readonly requestIndex: number;
  readonly detail: string;
  /** The failing request's method and target, once its request line was read. */
  readonly method?: string;
  readonly target?: string;
  /** The failing request's head was complete and valid (the error is in its body or trailers). */
  readonly headComplete: boolean;
}

export type Field = readonly [name: string, value: string];

export interface StrictRequest {
  /** Offset of the request line's first byte (after skipped empty lines). */
  readonly start: number;
  /** Offset just after the head's empty line. */
  readonly headEnd: number;
  /** Offset just after the whole message (body, trailers). */
  readonly end: number;
  readonly method: string;
  readonly target: string;
  readonly version: 'HTTP/1.0' | 'HTTP/1.1';
  /** Field lines in order: name as sent, value without surrounding OWS. */
  readonly headers: readonly Field[];
  readonly framing: 'none' | 'length' | 'chunked';
  readonly body: Buffer;
  readonly trailers: readonly Field[];
  /** Each chunk's extension text (after the size), in order, '' when none. */
  readonly chunkExtensions: readonly string[];
  /** The head's bytes, request line to the empty line included. */
  readonly head: Buffer;
}

/** A request the bytes ran out in: how far it got. */
export interface StrictPartial {
  readonly start: number;
  /** Present once the request line was read. */
  readonly method?: string;
  readonly target?: string;
  readonly headComplete: boolean;
  readonly framing?: 'none' | 'length' | 'chunked';
  /** Body bytes received so far (decoded for chunked). */
  readonly bodyReceived?: number;
  /** Declared length (framing 'length'). */
  readonly contentLength?: number;
}

export interface StrictResult {
  readonly requests: StrictRequest[];
  /** Why reading stopped, when it stopped at an error (nothing after it is a request). */
  readonly error: StrictError | null;
  /** The request the bytes ran out in (no error), or null. */
  readonly partial: StrictPartial | null;
  /** Offset up to which the stream was read as complete requests. */
  readonly consumed: number;
}

export interface StrictOptions {
  nonAsciiTarget?: 'refuse' | 'allow';
  chunkExtensions?: 'rfc' | 'refuse';
  /** Require exactly one Host in HTTP/1.1 (default true). */
  requireHost?: boolean;
  /** Stop after this many requests (default unlimited). */
  maxRequests?: number;
}

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;

const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;

export function isTchar(c: number): boolean {
  return TCHAR[c] === 1;
}

/** RFC 9110 token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (TCHAR[s.charCodeAt(i)] !== 1) return false;
  return true;
}

const HEX = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

class Stop {
  constructor(readonly error: StrictError | null, readonly partial: StrictPartial | null) {}
}

type Line = { readonly from: number; readonly to: number; readonly next: number };

/**
 * Reads every request in `bytes` (one client connection's stream).
 */
export function readRequests(bytes: Buffer | string, opts: StrictOptions = {}): StrictResult {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  const nonAscii = opts.nonAsciiTarget ?? 'refuse';
  const extMode = opts.chunkExtensions ?? 'rfc';
  const requireHost = opts.requireHost ?? true;
  const max = opts.maxRequests ?? Infinity;
  const requests: StrictRequest[] = [];
  let p = 0;
  // The request being read, for error reports.
  let cur: { method?: string; target?: string; headComplete: boolean } = { headComplete: false };

  const fail = (code: StrictErrorCode, offset: number, where: Where, detail: string): never => {
    throw new Stop({ code, offset, where, requestIndex: requests.length, detail, ...cur }, null);
  };
  const ranOut = (partial: StrictPartial): never => {
    throw new Stop(null, partial);
  };

  /** The CRLF-terminated line at `at`, null when the bytes end first. Bare CR/LF are errors. */
  const line = (at: number, where: Where): Line | null => {
    for (let i = at; i < b.length; i++) {
      const c = b[i]!;
      if (c === LF) fail('bare_lf', i, where, 'LF not preceded by CR');
      if (c === CR) {
        if (i + 1 >= b.length) return null;
        if (b[i + 1] !== LF) fail('bare_cr', i, where, 'CR not followed by LF');
        return { from: at, to: i, next: i + 2 };
      }
    }
    return null;
  };

  const text = (from: number, to: number) => b.toString('latin1', from, to);

  /** Field lines up to the empty line; returns fields and the offset after the empty line. */
  const fieldLines = (at: number, where: 'head' | 'trailer', partial: () => StrictPartial): { fields: Field[]; next: number } => {
    const fields: Field[] = [];
    let q = at;
    for (;;) {
      const l = line(q, where);
      if (l === null) {
        // Report what is already visibly wrong in the unfinished line.
        checkFieldPrefix(q, where);
        return ranOut(partial());
      }
      if (l.to === l.from) return { fields, next: l.next };
      fields.push(fieldLine(l, where, fields.length === 0 && where === 'head'));
      q = l.next;
    }
  };

  /** Errors visible in the first bytes of an unterminated field line. */
  const checkFieldPrefix = (at: number, where: Where) => {
    if (at < b.length && (b[at] === SP || b[at] === HTAB)) fail(where === 'head' ? 'obs_fold' : 'obs_fold', at, where, 'line starts with whitespace');
    if (at < b.length && b[at] === 0x3a) fail('empty_field_name', at, where, 'empty field name');
    for (let i = at; i < b.length && b[i] !== 0x3a && b[i] !== CR; i++) {
      if (b[i] === SP || b[i] === HTAB) {
        let j = i;
        while (j < b.length && (b[j] === SP || b[j] === HTAB)) j++;
        if (j < b.length && b[j] === 0x3a) fail('ws_before_colon', i, where, 'whitespace before colon');
      }
      if (TCHAR[b[i]!] !== 1 && b[i] !== SP && b[i] !== HTAB) fail('bad_field_name', i, where, `byte 0x${b[i]!.toString(16)} in field name`);
    }
  };

  const fieldLine = (l: Line, where: Where, first: boolean): Field => {
    const c0 = b[l.from]!;
    if (c0 === SP || c0 === HTAB) fail(first ? 'ws_after_request_line' : 'obs_fold', l.from, where, first ? 'whitespace before the first field line' : 'obs-fold');
    let colon = -1;
    for (let i = l.from; i < l.to; i++) if (b[i] === 0x3a) { colon = i; break; }
    if (colon < 0) fail('no_colon', l.from, where, 'field line without a colon');
    if (colon === l.from) fail('empty_field_name', l.from, where, 'empty field name');
    const last = b[colon - 1]!;
    if (last === SP || last === HTAB) fail('ws_before_colon', colon - 1, where, 'whitespace before colon');
    for (let i = l.from; i < colon; i++) if (TCHAR[b[i]!] !== 1) fail('bad_field_name', i, where, `byte 0x${b[i]!.toString(16)} in field name`);
    let vs = colon + 1;
    let ve = l.to;
    while (vs < ve && (b[vs] === SP || b[vs] === HTAB)) vs++;
    while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === HTAB)) ve--;
    for (let i = vs; i < ve; i++) {
      const c = b[i]!;
      if ((c < 0x20 && c !== HTAB) || c === 0x7f) fail('ctl_in_value', i, where, `control 0x${c.toString(16)} in field value`);
    }
    return [text(l.from, colon), text(vs, ve)];
  };

  const chunkExt = (from: number, to: number, at: number) => {
    if (from === to) return;
    if (extMode === 'refuse') fail('bad_chunk_ext', at, 'chunk-size', 'chunk extensions refused');
    let i = from;
    const bws = () => { while (i < to && (b[i] === SP || b[i] === HTAB)) i++; };
    const token = () => { const s = i; while (i < to && TCHAR[b[i]!] === 1) i++; return i > s; };
    while (i < to) {
      bws();
      if (b[i] !== 0x3b) fail('bad_chunk_ext', i, 'chunk-size', 'expected ";" in chunk extension');
      i++;
      bws();
      if (!token()) fail('bad_chunk_ext', i, 'chunk-size', 'chunk extension without a name');
      const save = i;
      bws();
      if (i < to && b[i] === 0x3d) {
        i++;
        bws();
        if (i < to && b[i] === 0x22) {
          i++;
          for (;;) {
            if (i >= to) fail('bad_chunk_ext', i, 'chunk-size', 'unterminated quoted-string');
            const c = b[i]!;
            if (c === 0x22) { i++; break; }
            if (c === 0x5c) {
              const d = b[i + 1];
              if (i + 1 >= to || d === undefined || !(d === HTAB || (d >= 0x20 && d !== 0x7f))) fail('bad_chunk_ext', i, 'chunk-size', 'bad quoted-pair');
              i += 2;
              continue;
            }
            if (!(c === HTAB || c === SP || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80)) fail('bad_chunk_ext', i, 'chunk-size', 'bad byte in quoted-string');
            i++;
          }
        } else if (!token()) fail('bad_chunk_ext', i, 'chunk-size', 'chunk extension value is neither token nor quoted-string');
      } else {
        i = save;
      }
    }
  };

  try {
    while (requests.length < max) {
      // Empty lines before a request line are ignored.
      for (;;) {
        if (p < b.length && b[p] === LF) fail('bare_lf', p, 'request-line', 'LF not preceded by CR');
        if (p + 1 < b.length && b[p] === CR && b[p + 1] === LF) { p += 2; continue; }
        if (p + 1 === b.length && b[p] === CR) ranOut({ start: p, headComplete: false });
        break;
      }
      if (p >= b.length) break;
      const start = p;
      cur = { headComplete: false };
      const rl = line(p, 'request-line');
      if (rl === null) {
        // Validate what is there of the method already.
        for (let i = p; i < b.length && b[i] !== SP; i++) if (TCHAR[b[i]!] !== 1 && b[i] !== CR) fail('bad_method', i, 'request-line', `byte 0x${b[i]!.toString(16)} in method`);
        ranOut({ start, headComplete: false });
      }
      const { from, to } = rl!;
      const sp1 = b.indexOf(SP, from);
      if (sp1 < 0 || sp1 >= to) fail('bad_request_line', from, 'request-line', 'no space in request line');
      if (sp1 === from) fail('bad_method', from, 'request-line', 'empty method');
      for (let i = from; i < sp1; i++) if (TCHAR[b[i]!] !== 1) fail('bad_method', i, 'request-line', `byte 0x${b[i]!.toString(16)} in method`);
      const sp2 = b.indexOf(SP, sp1 + 1);
      if (sp2 < 0 || sp2 >= to) fail('bad_request_line', sp1, 'request-line', 'request line needs exactly two spaces');
      if (sp2 === sp1 + 1) fail('bad_target', sp2, 'request-line', 'empty request-target (or two spaces)');
      for (let i = sp1 + 1; i < sp2; i++) {
        const c = b[i]!;
        const ok = (c >= 0x21 && c <= 0x7e) || (c >= 0x80 && nonAscii === 'allow');
        if (!ok) fail('bad_target', i, 'request-line', `byte 0x${c.toString(16)} in request-target`);
      }
      const version = text(sp2 + 1, to);
      if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') fail(/^HTTP\/\d\.\d$/.test(version) ? 'bad_version' : 'bad_request_line', sp2 + 1, 'request-line', `version ${JSON.stringify(version)}`);
      const method = text(from, sp1);
      const target = text(sp1 + 1, sp2);
      cur = { method, target, headComplete: false };
      const hp = (): StrictPartial => ({ start, method, target, headComplete: false });
      const { fields, next: headEnd } = fieldLines(rl!.next, 'head', hp);

      // Framing semantics.
      const named = (n: string) => fields.filter(([k]) => k.toLowerCase() === n);
      const hosts = named('host');
      if (requireHost && version === 'HTTP/1.1') {
        if (hosts.length === 0) fail('missing_host', start, 'head', 'HTTP/1.1 request without Host');
      }
      if (hosts.length > 1) fail('duplicate_host', start, 'head', 'more than one Host line');
      const cls = named('content-length');
      for (const [, v] of cls) if (!/^[0-9]+$/.test(v)) fail('bad_content_length', start, 'head', `Content-Length ${JSON.stringify(v)}`);
      if (cls.length > 1) {
        const same = cls.every(([, v]) => BigInt(v) === BigInt(cls[0]![1]));
        fail(same ? 'duplicate_content_length' : 'conflicting_content_length', start, 'head', `${cls.length} Content-Length lines`);
      }
      const tes = named('transfer-encoding');
      let framing: 'none' | 'length' | 'chunked' = 'none';
      let length = 0;
      if (tes.length > 0) {
        if (version === 'HTTP/1.0') fail('te_in_http10', start, 'head', 'Transfer-Encoding in an HTTP/1.0 request');
        const codings = tes.flatMap(([, v]) => v.split(',')).map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''));
        if (codings.some((c) => c === '')) fail('bad_transfer_encoding', start, 'head', 'empty transfer-coding list element');
        const last = codings[codings.length - 1]!.toLowerCase();
        if (last !== 'chunked') fail('bad_transfer_encoding', start, 'head', `final transfer-coding is ${JSON.stringify(codings[codings.length - 1])}, not chunked`);
        if (codings.length > 1) fail('unsupported_transfer_coding', start, 'head', `transfer-codings ${JSON.stringify(codings)}`);
        if (cls.length > 0) fail('cl_and_te', start, 'head', 'Content-Length together with Transfer-Encoding');
        framing = 'chunked';
      } else if (cls.length === 1) {
        const v = cls[0]![1];
        const n = v.length > 16 ? Infinity : Number(v);
        framing = 'length';
        length = n;
      }
      const headers = fields;
      const head = b.subarray(start, headEnd);
      cur = { method, target, headComplete: true };

      if (framing !== 'chunked') {
        if (headEnd + length > b.length) {
          ranOut({ start, method, target, headComplete: true, framing, bodyReceived: b.length - headEnd, contentLength: length });
        }
        const end = headEnd + length;
        requests.push({ start, headEnd, end, method, target, version, headers, framing, body: Buffer.from(b.subarray(headEnd, end)), trailers: [], chunkExtensions: [], head });
        p = end;
        continue;
      }

      // Chunked body.
      const chunks: Buffer[] = [];
      const exts: string[] = [];
      let received = 0;
      let q = headEnd;
      const bp = (): StrictPartial => ({ start, method, target, headComplete: true, framing: 'chunked', bodyReceived: received });
      for (;;) {
        const sl = line(q, 'chunk-size');
        if (sl === null) {
          // What is there must still look like the start of a size line.
          if (q < b.length && !HEX(b[q]!) && b[q] !== CR) fail('bad_chunk_size', q, 'chunk-size', `byte 0x${b[q]!.toString(16)} where a chunk size starts`);
          ranOut(bp());
        }
        let i = sl!.from;
        while (i < sl!.to && HEX(b[i]!)) i++;
        const digits = i - sl!.from;
        if (digits === 0) fail('bad_chunk_size', sl!.from, 'chunk-size', `chunk-size line ${JSON.stringify(text(sl!.from, sl!.to))}`);
        if (digits > 16) fail('chunk_size_too_large', sl!.from, 'chunk-size', 'more than 16 hex digits');
        const size = parseInt(text(sl!.from, i), 16);
        if (!Number.isSafeInteger(size)) fail('chunk_size_too_large', sl!.from, 'chunk-size', 'chunk size above 2^53-1');
        chunkExt(i, sl!.to, i);
        exts.push(text(i, sl!.to));
        q = sl!.next;
        if (size === 0) break;
        if (q + size > b.length) { received += b.length - q; ranOut(bp()); }
        chunks.push(b.subarray(q, q + size));
        received += size;
        q += size;
        if (q < b.length && b[q] !== CR) fail('chunk_data_not_crlf', q, 'chunk-data', 'chunk data not followed by CRLF');
        if (q + 1 < b.length && b[q + 1] !== LF) fail('chunk_data_not_crlf', q, 'chunk-data', 'chunk data not followed by CRLF');
        if (q + 2 > b.length) ranOut(bp());
        q += 2;
      }
      const { fields: trailers, next: end } = fieldLines(q, 'trailer', bp);
      requests.push({ start, headEnd, end, method, target, version, headers, framing, body: Buffer.concat(chunks), trailers, chunkExtensions: exts, head });
      p = end;
    }
    return { requests, error: null, partial: null, consumed: p };
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    return { requests, error: e.error, partial: e.partial, consumed: requests.length ? requests[requests.length - 1]!.end : 0 };
  }
}

/** Every value of field `name` (case-insensitive). */
export function fieldValues(fields: readonly Field[], name: string): string[] {
  const n = name.toLowerCase();
  return fields.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
}

/** Bytes as a readable JS string literal (latin1), for failure messages. */
export function show(bytes: Buffer | string, max = 600): string {
  const s = typeof bytes === 'string' ? bytes : bytes.toString('latin1');
  const j = JSON.stringify(s.length > max ? `${s.slice(0, max)}…(+${s.length - max})` : s);
  return j.replace(/[\u0080-\u00ff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
}

// --- responses (the gateway's side, read leniently: this is not an oracle) ----------

export interface ReadResponse {
  readonly status: number;
  readonly headers: readonly Field[];
  readonly body: Buffer;
}

/**
 * The responses in a server's byte stream, in order; stops at the first one
 * that is incomplete or unreadable. `headFor(i)` says whether response i
 * answers a HEAD (no body).
 */
export function readResponses(bytes: Buffer, headFor: (i: number) => boolean = () => false): { responses: ReadResponse[]; rest: number } {
  const out: ReadResponse[] = [];
  let p = 0;
  while (p < bytes.length) {
    const he = bytes.indexOf('\r\n\r\n', p, 'latin1');
    if (he < 0) break;
    const lines = bytes.toString('latin1', p, he).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (!m) break;
    const status = Number(m[1]);
    const headers: Field[] = [];
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      if (c > 0) headers.push([l.slice(0, c), l.slice(c + 1).trim()]);
    }
    let q = he + 4;
    const cl = fieldValues(headers, 'content-length')[0];
    const te = fieldValues(headers, 'transfer-encoding')[0];
    let body = Buffer.alloc(0);
    if (headFor(out.length) || status === 204 || status === 304 || (status >= 100 && status < 200)) {
      // no body
    } else if (te !== undefined && /chunked/i.test(te)) {
      const parts: Buffer[] = [];
      let ok = false;
      for (;;) {
        const nl = bytes.indexOf('\r\n', q, 'latin1');
        if (nl < 0) break;
        const size = parseInt(bytes.toString('latin1', q, nl), 16);
        if (!Number.isFinite(size)) break;
        if (size === 0) {
          const te2 = bytes.indexOf('\r\n\r\n', nl, 'latin1');
          if (te2 < 0) break;
          q = te2 + 4;
          ok = true;
          break;
        }
        if (nl + 2 + size + 2 > bytes.length) break;
        parts.push(bytes.subarray(nl + 2, nl + 2 + size));
        q = nl + 2 + size + 2;
      }
      if (!ok) break;
      body = Buffer.concat(parts);
    } else if (cl !== undefined) {
      const n = Number(cl);
      if (q + n > bytes.length) break;
      body = Buffer.from(bytes.subarray(q, q + n));
      q += n;
    } else {
      // Read to close: everything left.
      body = Buffer.from(bytes.subarray(q));
      q = bytes.length;
    }
    out.push({ status, headers, body });
    p = q;
  }
  return { responses: out, rest: p };
}
