// A strict, incremental HTTP/1.1 response parser (RFC 9112) for the upstream
// client. Strict because a proxy that reads a response differently from the
// next hop is a desync: no bare LF, no obs-fold, no whitespace before the
// colon, one Content-Length (or identical repeats), Transfer-Encoding only as
// the single coding "chunked", never both framings, no 101, no bytes after the
// message (nothing is pipelined, so they can only be an attack or a bug).
// Header names and values are handed on as subarrays of the socket's chunk,
// copied only when a head spans chunks.
import { invalidResponse, type UpstreamError } from './errors.js';

export interface ResponseSink {
  /** A final (non-1xx) head. `raw` is [name, value, …] as bytes. false: stop until `resume`. */
  onHead(status: number, raw: Buffer[]): boolean;
  /** Body bytes (after chunked decoding). false: stop until `resume`. */
  onBody(chunk: Buffer): boolean;
  /** The message ended where its framing said. */
  onEnd(): void;
}

const HEAD = 0;
const BODY_LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_EXT_BWS = 3;
const CHUNK_EXT = 4;
const CHUNK_SIZE_LF = 5;
const CHUNK_DATA = 6;
const CHUNK_DATA_CR = 7;
const CHUNK_DATA_LF = 8;
const TRAILER_LINE_START = 9;
const TRAILER_NAME = 10;
const TRAILER_LINE = 11;
const TRAILER_LF = 12;
const TRAILER_END_LF = 13;
const BODY_EOF = 14;
const DONE = 15;
const FAILED = 16;

const CR = 13;
const LF = 10;
const SP = 32;
const HT = 9;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const HTTP1 = Buffer.from('HTTP/1.', 'latin1');
const CONTENT_LENGTH = Buffer.from('content-length', 'latin1');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding', 'latin1');
const CONNECTION = Buffer.from('connection', 'latin1');
const KEEP_ALIVE = Buffer.from('keep-alive', 'latin1');

/** RFC 9110 tchar. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;
/** Allowed in a field value or reason phrase: HTAB, SP, VCHAR, obs-text. */
const VALUE = new Uint8Array(256);
VALUE[HT] = 1;
for (let c = 32; c < 256; c++) if (c !== 127) VALUE[c] = 1;
const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) { HEX[65 + c] = 10 + c; HEX[97 + c] = 10 + c; }

/** At most this many interim (1xx) heads before the final one. */
const MAX_INTERIM = 8;
/** Chunk sizes above 2^52 are refused (they would lose precision as numbers). */
const MAX_CHUNK = 2 ** 52;
const MAX_CHUNK_LINE = 4096;

function equalsLower(b: Buffer, start: number, end: number, lower: Buffer): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = b[start + i]!;
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lower[i]) return false;
  }
  return true;
}

/** Is there a line ending other than CRLF in b[from…] (a bare LF, or a CR followed by another byte)? */
function bareLineEnd(b: Buffer, from: number, start: number): boolean {
  for (let i = b.indexOf(LF, from); i >= 0; i = b.indexOf(LF, i + 1)) if (i === start || b[i - 1] !== CR) return true;
  for (let i = b.indexOf(CR, from); i >= 0 && i + 1 < b.length; i = b.indexOf(CR, i + 1)) if (b[i + 1] !== LF) return true;
  return false;
}

/** Does the comma-separated list in b[start,end) hold `token` (case-insensitive)? */
function listHas(b: Buffer, start: number, end: number, token: string): boolean {
  return b.toString('latin1', start, end).toLowerCase().split(',').some((t) => t.trim() === token);
}

export class ResponseParser {
  private state = HEAD;
  /** Bytes of a head that did not arrive in one chunk. */
  private partial: Buffer | null = null;
  private remaining = 0;
  private lineBytes = 0;
  private sawSizeDigit = false;
  private interim = 0;
  private noBody = false;
  /** The sink asked to stop right after the head. */
  private hold = false;
  /** The connection may carry another request after this message. */
  keepAlive = true;
  /** What went wrong, when feed returned -1. */
  error: UpstreamError | null = null;
  /** Message bytes seen so far (0: nothing came yet; a reused connection may be retried). */
  received = 0;

  constructor(private readonly sink: ResponseSink, private readonly maxHeaderSize: number) {}

  /** Ready for the response to a new request (HEAD requests have no body whatever the head says). */
  reset(headRequest: boolean): void {
    this.state = HEAD;
    this.partial = null;
    this.interim = 0;
    this.noBody = headRequest;
    this.keepAlive = true;
    this.error = null;
    this.received = 0;
  }

  get done(): boolean {
    return this.state === DONE;
  }

  /** Reading until the connection closes is how this message ends. */
  get untilClose(): boolean {
    return this.state === BODY_EOF;
  }

  /**
   * Parses b[from…]. Returns where it stopped: b.length when all was used;
   * less when the sink paused (call again with the rest after resuming) or the
   * message ended early (the rest is unsolicited); -1 on a protocol error.
   */
  feed(b: Buffer, from: number): number {
    this.received += b.length - from;
    let i = from;
    const n = b.length;
    while (i < n) {
      switch (this.state) {
        case HEAD: {
          const r = this.head(b, i);
          if (r < 0) return r === -2 ? n : -1; // -2: need more bytes (kept in partial)
          i = r;
          if ((this.state as number) === DONE) { this.sink.onEnd(); return i; } // no body (HEAD, 204, 304, length 0)
          if (this.hold) { this.hold = false; return i; }
          break;
        }
        case BODY_LENGTH: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          const chunk = b.subarray(i, i + take);
          i += take;
          if (this.remaining === 0) this.state = DONE;
          const go = this.sink.onBody(chunk);
          if (this.state === DONE) { this.sink.onEnd(); return i; }
          if (!go) return i;
          break;
        }
        case BODY_EOF: {
          const chunk = i === 0 ? b : b.subarray(i);
          i = n;
          if (!this.sink.onBody(chunk)) return i;
          break;
        }
        case CHUNK_DATA: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          const chunk = b.subarray(i, i + take);
          i += take;
          if (this.remaining === 0) this.state = CHUNK_DATA_CR;
          if (!this.sink.onBody(chunk)) return i;
          break;
        }
        case DONE:
          return i;
        case FAILED:
          return -1;
        default:
          i = this.chunkFraming(b, i);
          if (i < 0) return -1;
          if (this.state === DONE) { this.sink.onEnd(); return i; }
      }
    }
    return i;
  }

  /** The connection closed: the end of a read-until-close body, else an error. */
  eof(): boolean {
    if (this.state === BODY_EOF) {
      this.state = DONE;
      this.sink.onEnd();
      return true;
    }
    return this.state === DONE;
  }

  private fail(what: string): number {
    this.state = FAILED;
    this.error = invalidResponse(what);
    return -1;
  }

  // --- head ---------------------------------------------------------------------

  /** Returns the index after the head, -2 when more bytes are needed, -1 on error. */
  private head(chunk: Buffer, from: number): number {
    let b = chunk;
    let start = from;
    let searchFrom = from;
    if (this.partial !== null) {
      const prev = this.partial;
      b = Buffer.concat([prev, chunk.subarray(from)]);
      start = 0;
      searchFrom = Math.max(0, prev.length - 3);
    }
    const end = b.indexOf(CRLFCRLF, searchFrom);
    if (end < 0) {
      if (b.length - start > this.maxHeaderSize) return this.fail(`head larger than ${this.maxHeaderSize} bytes`);
      // Refused now, not at the headers timeout: a head of bare-LF lines never shows a CRLFCRLF.
      if (bareLineEnd(b, b === chunk ? start : Math.max(0, this.partial!.length - 1), start)) return this.fail('line ending other than CRLF in head');
      this.partial = start === 0 && b !== chunk ? b : Buffer.from(b.subarray(start));
      return -2;
    }
    if (end + 4 - start > this.maxHeaderSize) return this.fail(`head larger than ${this.maxHeaderSize} bytes`);
    const consumedFromChunk = this.partial !== null ? end + 4 - this.partial.length + from : end + 4;
    this.partial = null;
    const r = this.parseHead(b, start, end + 2);
    if (r < 0) return -1;
    return consumedFromChunk;
  }

  /** Parses the head in b[start, end) (end: after the last header line's CRLF). */
  private parseHead(b: Buffer, start: number, end: number): number {
    // status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF
    if (end - start < 14 || HTTP1.compare(b, start, start + 7) !== 0) return this.fail('no HTTP/1.x status line');
    const minor = b[start + 7]!;
    if ((minor !== 48 && minor !== 49) || b[start + 8] !== SP) return this.fail('bad HTTP version');
    const d0 = b[start + 9]! - 48;
    const d1 = b[start + 10]! - 48;
    const d2 = b[start + 11]! - 48;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return this.fail('bad status code');
    const status = d0 * 100 + d1 * 10 + d2;
    let i = start + 12;
    if (b[i] === SP) {
      i++;
      while (b[i] !== CR) {
        if (VALUE[b[i]!] === 0) return this.fail('bad character in reason phrase');
        i++;
      }
    }
    if (b[i] !== CR || b[i + 1] !== LF) return this.fail('bad status line');
    i += 2;

    const raw: Buffer[] = [];
    let contentLength = -1;
    let chunked = false;
    let sawTe = false;
    let close = minor === 48; // HTTP/1.0: one response per connection
    while (i < end) {
      const lineStart = i;
      if (TCHAR[b[i]!] === 0) return this.fail(b[i] === SP || b[i] === HT ? 'obsolete line folding' : 'bad header name');
      while (TCHAR[b[i]!] === 1) i++;
      const nameEnd = i;
      if (b[i] !== 58 /* : */) return this.fail('bad header name');
      i++;
      while (b[i] === SP || b[i] === HT) i++;
      const valueStart = i;
      while (b[i] !== CR) {
        if (VALUE[b[i]!] === 0) return this.fail('bad character in header value');
        i++;
      }
      if (b[i + 1] !== LF) return this.fail('bare CR in head');
      let valueEnd = i;
      while (valueEnd > valueStart && (b[valueEnd - 1] === SP || b[valueEnd - 1] === HT)) valueEnd--;
      i += 2;
      const len = nameEnd - lineStart;
      if (len === 14 && equalsLower(b, lineStart, nameEnd, CONTENT_LENGTH)) {
        const v = this.digits(b, valueStart, valueEnd);
        if (v < 0) return this.fail('bad Content-Length');
        if (contentLength >= 0 && v !== contentLength) return this.fail('conflicting Content-Length');
        contentLength = v;
      } else if (len === 17 && equalsLower(b, lineStart, nameEnd, TRANSFER_ENCODING)) {
        // Only "chunked", once: anything else is a framing we would relay wrongly.
        if (sawTe || b.toString('latin1', valueStart, valueEnd).toLowerCase() !== 'chunked') return this.fail('unsupported Transfer-Encoding');
        sawTe = true;
        chunked = true;
      } else if (len === 10 && equalsLower(b, lineStart, nameEnd, CONNECTION)) {
        // nginx & co. send "Connection: keep-alive" on every response: no string for that.
        const plain = valueEnd - valueStart === 10 && equalsLower(b, valueStart, valueEnd, KEEP_ALIVE);
        if (!plain && listHas(b, valueStart, valueEnd, 'close')) close = true;
      }
      raw.push(b.subarray(lineStart, nameEnd), b.subarray(valueStart, valueEnd));
    }

    // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
    if (sawTe && minor === 48) return this.fail('Transfer-Encoding in an HTTP/1.0 response');
    if (status < 200) {
      if (status === 101) return this.fail('unexpected 101 Switching Protocols');
      if (++this.interim > MAX_INTERIM) return this.fail('too many interim responses');
      this.received = 0; // an interim head alone does not make the response started
      return 0; // state stays HEAD: the final head follows
    }
    if (chunked && contentLength >= 0) return this.fail('both Content-Length and Transfer-Encoding');
    if (close) this.keepAlive = false;
    if (this.noBody || status === 204 || status === 304) {
      this.state = DONE;
    } else if (chunked) {
      this.state = CHUNK_SIZE;
      this.remaining = 0;
      this.lineBytes = 0;
      this.sawSizeDigit = false;
    } else if (contentLength >= 0) {
      this.remaining = contentLength;
      this.state = contentLength === 0 ? DONE : BODY_LENGTH;
    } else {
      this.state = BODY_EOF;
      this.keepAlive = false;
    }
    this.hold = !this.sink.onHead(status, raw);
    return 0;
  }

  private digits(b: Buffer, start: number, end: number): number {
    if (start === end || end - start > 15) return -1;
    let v = 0;
    for (let i = start; i < end; i++) {
      const c = b[i]! - 48;
      if (c < 0 || c > 9) return -1;
      v = v * 10 + c;
    }
    return v;
  }

  // --- chunked framing --------------------------------------------------------------

  /** Size lines, the CRLF after data, trailers: byte by byte (they are short). */
  private chunkFraming(b: Buffer, from: number): number {
    let i = from;
    const n = b.length;
    while (i < n) {
      const c = b[i]!;
      switch (this.state) {
        case CHUNK_SIZE: {
          const h = HEX[c]!;
          if (h >= 0) {
            this.remaining = this.remaining * 16 + h;
            if (this.remaining > MAX_CHUNK) return this.fail('chunk size too large');
            this.sawSizeDigit = true;
          } else if (!this.sawSizeDigit) {
            return this.fail('bad chunk size');
          } else if (c === CR) {
            this.state = CHUNK_SIZE_LF;
          } else if (c === 59 /* ; */) {
            this.state = CHUNK_EXT;
          } else if (c === SP || c === HT) {
            this.state = CHUNK_EXT_BWS;
          } else {
            return this.fail('bad chunk size');
          }
          break;
        }
        case CHUNK_EXT_BWS:
          // chunk-ext = *( BWS ";" … ): whitespace after the size only before a ";".
          if (c === 59 /* ; */) this.state = CHUNK_EXT;
          else if (c !== SP && c !== HT) return this.fail('bad chunk size');
          break;
        case CHUNK_EXT:
          if (c === CR) this.state = CHUNK_SIZE_LF;
          else if (VALUE[c] === 0) return this.fail('bad chunk extension');
          break;
        case CHUNK_SIZE_LF:
          if (c !== LF) return this.fail('bad chunk size line');
          if (this.remaining === 0) {
            this.state = TRAILER_LINE_START;
          } else {
            this.state = CHUNK_DATA;
            this.lineBytes = 0;
            return i + 1;
          }
          break;
        case CHUNK_DATA_CR:
          if (c !== CR) return this.fail('chunk data longer than its size');
          this.state = CHUNK_DATA_LF;
          break;
        case CHUNK_DATA_LF:
          if (c !== LF) return this.fail('bad chunk terminator');
          this.state = CHUNK_SIZE;
          this.remaining = 0;
          this.sawSizeDigit = false;
          this.lineBytes = 0;
          break;
        case TRAILER_LINE_START:
          if (c === CR) this.state = TRAILER_END_LF;
          else if (TCHAR[c] === 0) return this.fail('bad trailer');
          else this.state = TRAILER_NAME;
          break;
        case TRAILER_NAME:
          // field-name ":" — no whitespace before the colon, no line without one.
          if (c === 58 /* : */) this.state = TRAILER_LINE;
          else if (TCHAR[c] === 0) return this.fail('bad trailer');
          break;
        case TRAILER_LINE:
          if (c === CR) this.state = TRAILER_LF;
          else if (VALUE[c] === 0 && c !== 58) return this.fail('bad trailer');
          break;
        case TRAILER_LF:
          if (c !== LF) return this.fail('bad trailer');
          this.state = TRAILER_LINE_START;
          break;
        case TRAILER_END_LF:
          if (c !== LF) return this.fail('bad end of chunked body');
          this.state = DONE;
          return i + 1;
        default:
          return i;
      }
      // Size lines and trailers are bounded (a stream of extension bytes is not a body).
      if (++this.lineBytes > (this.state >= TRAILER_LINE_START ? this.maxHeaderSize : MAX_CHUNK_LINE)) return this.fail('chunk size line or trailers too long');
      i++;
    }
    return i;
  }
}
