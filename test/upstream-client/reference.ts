// An independent, whole-buffer reading of an HTTP/1.1 response (RFC 9112, as
// strictly as the client means to read it), written plainly (regular
// expressions on latin1 text, no streaming) so that it can serve as the oracle
// for the fuzz tests; plus a seeded PRNG, a generator of random valid
// responses and single-byte mutations.

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rng = () => number;
export const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

export type RefResult =
  | { kind: 'ok'; status: number; headers: Array<[string, string]>; body: Buffer; consumed: number; keepAlive: boolean }
  | { kind: 'no' }; // malformed, or not complete when the connection closed

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const VCHARS = '\\t\\x20-\\x7e\\x80-\\xff';
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5][0-9][0-9])(?: [\t\x20-\x7e\x80-\xff]*)?$/;
const FIELD_LINE = new RegExp(`^(${TOKEN}):[ \\t]*([${VCHARS}]*?)[ \\t]*$`);
const TRAILER_LINE = new RegExp(`^${TOKEN}:[${VCHARS}]*$`);
const SIZE_LINE = new RegExp(`^([0-9A-Fa-f]+)(?:[ \\t]*;[${VCHARS}]*)?$`);
const MAX_INTERIM = 8;

/**
 * Reads the response at the front of `b` as if the connection closed right
 * after `b`. `head`: it answers a HEAD request.
 */
export function refDecode(b: Buffer, head: boolean, maxHeaderSize: number): RefResult {
  const NO = { kind: 'no' } as const;
  const s = b.toString('latin1');
  let pos = 0;
  let interim = 0;
  for (;;) {
    const end = s.indexOf('\r\n\r\n', pos);
    if (end < 0 || end + 4 - pos > maxHeaderSize) return NO;
    const lines = s.slice(pos, end).split('\r\n');
    if (lines.some((l) => l.includes('\r') || l.includes('\n'))) return NO;
    const sl = STATUS_LINE.exec(lines[0]!);
    if (!sl) return NO;
    const http10 = sl[1] === '0';
    const status = Number(sl[2]);
    const headers: Array<[string, string]> = [];
    let cl = -1;
    let te = false;
    let close = http10;
    for (const line of lines.slice(1)) {
      const m = FIELD_LINE.exec(line);
      if (!m) return NO;
      const name = m[1]!;
      const value = m[2]!;
      headers.push([name, value]);
      const lower = name.toLowerCase();
      if (lower === 'content-length') {
        if (!/^[0-9]{1,15}$/.test(value)) return NO;
        const v = Number(value);
        if (cl >= 0 && cl !== v) return NO;
        cl = v;
      } else if (lower === 'transfer-encoding') {
        if (te || value.toLowerCase() !== 'chunked') return NO;
        te = true;
      } else if (lower === 'connection') {
        if (value.toLowerCase().split(',').some((t) => t.trim() === 'close')) close = true;
      }
    }
    if (te && http10) return NO;
    pos = end + 4;
    if (status < 200) {
      if (status === 101 || ++interim > MAX_INTERIM) return NO;
      continue;
    }
    if (te && cl >= 0) return NO;
    const done = (body: Buffer, consumed: number, keepAlive: boolean): RefResult => ({ kind: 'ok', status, headers, body, consumed, keepAlive });
    if (head || status === 204 || status === 304) return done(Buffer.alloc(0), pos, !close);
    if (te) {
      const parts: Buffer[] = [];
      for (;;) {
        const le = s.indexOf('\r\n', pos);
        if (le < 0) return NO;
        const line = s.slice(pos, le);
        if (line.includes('\r') || line.includes('\n')) return NO;
        const m = SIZE_LINE.exec(line);
        if (!m) return NO;
        const size = parseInt(m[1]!, 16);
        if (size > 2 ** 52) return NO;
        pos = le + 2;
        if (size === 0) break;
        if (pos + size + 2 > b.length || s.slice(pos + size, pos + size + 2) !== '\r\n') return NO;
        parts.push(b.subarray(pos, pos + size));
        pos += size + 2;
      }
      for (;;) {
        const le = s.indexOf('\r\n', pos);
        if (le < 0) return NO;
        const line = s.slice(pos, le);
        pos = le + 2;
        if (line === '') break;
        if (line.includes('\r') || line.includes('\n') || !TRAILER_LINE.test(line)) return NO;
      }
      return done(Buffer.concat(parts), pos, !close);
    }
    if (cl >= 0) return pos + cl <= b.length ? done(b.subarray(pos, pos + cl), pos + cl, !close) : NO;
    return done(b.subarray(pos), b.length, false); // read until close
  }
}

// --- generation ---------------------------------------------------------------------------------

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function randName(r: Rng): string {
  let n = pick(r, ['X-', 'x-', 'Via', 'ETag', 'Cache-Control', 'Server', '']);
  for (let i = int(r, 1, 10); i > 0; i--) n += pick(r, TCHARS.split(''));
  // Never one of the framing names by accident.
  return /^(content-length|transfer-encoding|connection)$/i.test(n) ? `X${n}` : n;
}

function randValue(r: Rng): string {
  let v = '';
  for (let i = int(r, 0, 24); i > 0; i--) {
    const k = r();
    v += k < 0.8 ? String.fromCharCode(int(r, 0x21, 0x7e)) : k < 0.9 ? ' ' : k < 0.95 ? '\t' : String.fromCharCode(int(r, 0x80, 0xff));
  }
  return v.trim();
}

const OWS = ['', '', '', ' ', '  ', '\t', ' \t '];

export function randBytes(r: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

export interface Generated {
  bytes: Buffer;
  status: number;
  body: Buffer;
  /** Offsets where body data lies in `bytes` (start, end) pairs: mutating there changes the body, not the framing. */
  dataRanges: Array<[number, number]>;
  framing: 'length' | 'chunked' | 'close' | 'none';
  head: boolean;
}

/** A random, valid response. `allowClose`: read-until-close framing may be chosen (the sender closes after). */
export function genResponse(r: Rng, allowClose: boolean): Generated {
  const head = r() < 0.08;
  let out = '';
  for (let i = int(r, 0, 3) - 1; i > 0; i--) out += `HTTP/1.1 ${pick(r, ['100 Continue', '102 Processing', '103 Early Hints'])}\r\n${r() < 0.5 ? 'Link: </a.css>; rel=preload\r\n' : ''}\r\n`;
  const http10 = r() < 0.1;
  const status = pick(r, [200, 200, 200, 201, 204, 206, 299, 301, 304, 400, 404, 418, 500, 503, 599]);
  const reason = pick(r, [' OK', ' ', '', ' Some Reason', ' caf\xe9 \xff', ' a\tb']);
  out += `HTTP/1.${http10 ? 0 : 1} ${status}${reason}\r\n`;
  const bodiless = head || status === 204 || status === 304;
  const framings: Generated['framing'][] = http10 ? ['length', 'length'] : ['length', 'chunked', 'chunked'];
  if (allowClose) framings.push('close');
  let framing: Generated['framing'] = pick(r, framings);
  const body = bodiless ? Buffer.alloc(0) : randBytes(r, pick(r, [0, 1, 2, int(r, 0, 40), int(r, 0, 700), int(r, 0, 5000)]));
  const lines: string[] = [];
  for (let i = int(r, 0, 6); i > 0; i--) lines.push(`${randName(r)}:${pick(r, OWS)}${randValue(r)}${pick(r, OWS)}`);
  if (r() < 0.15) lines.push(`${pick(r, ['Connection', 'connection', 'CONNECTION'])}: ${pick(r, ['keep-alive', 'close', 'Keep-Alive', 'upgrade, close'])}`);
  if (framing === 'length') {
    const name = pick(r, ['Content-Length', 'content-length', 'CONTENT-LENGTH']);
    lines.splice(int(r, 0, lines.length), 0, `${name}:${pick(r, OWS)}${'0'.repeat(int(r, 0, 1) * int(r, 0, 3))}${body.length}${pick(r, OWS)}`);
    if (r() < 0.1) lines.push(`Content-Length: ${body.length}`);
  } else if (framing === 'chunked') {
    lines.splice(int(r, 0, lines.length), 0, `${pick(r, ['Transfer-Encoding', 'transfer-encoding'])}:${pick(r, OWS)}${pick(r, ['chunked', 'Chunked', 'CHUNKED'])}${pick(r, OWS)}`);
  }
  if (bodiless && framing === 'close') framing = 'none';
  out += lines.map((l) => `${l}\r\n`).join('') + '\r\n';
  const pieces: Buffer[] = [Buffer.from(out, 'latin1')];
  const dataRanges: Array<[number, number]> = [];
  let at = pieces[0]!.length;
  const push = (b: Buffer, isData = false): void => {
    if (isData) dataRanges.push([at, at + b.length]);
    pieces.push(b);
    at += b.length;
  };
  if (!bodiless) {
    if (framing === 'chunked') {
      let p = 0;
      while (p < body.length) {
        const n = Math.min(body.length - p, pick(r, [1, 2, int(r, 1, 16), int(r, 1, 600), int(r, 1, 3000)]));
        let size = n.toString(16);
        size = r() < 0.5 ? size.toUpperCase() : size;
        if (r() < 0.1) size = `00${size}`;
        const ext = r() < 0.2 ? pick(r, [';a=b', ' ;x', ';q="1;2"', '\t;e', ';a;b=c']) : '';
        push(Buffer.from(`${size}${ext}\r\n`, 'latin1'));
        push(body.subarray(p, p + n), true);
        push(Buffer.from('\r\n', 'latin1'));
        p += n;
      }
      push(Buffer.from(`0${r() < 0.2 ? ';last' : ''}\r\n${r() < 0.3 ? `${randName(r)}: ${randValue(r)}\r\n` : ''}\r\n`, 'latin1'));
    } else {
      push(body, true);
    }
  }
  return { bytes: Buffer.concat(pieces), status, body, dataRanges, framing: bodiless ? 'none' : framing, head };
}

const INTERESTING = [0, 9, 10, 13, 32, 34, 44, 45, 43, 48, 49, 57, 58, 59, 65, 70, 97, 102, 127, 128, 255];

/** One random single-byte change: replace, insert or delete. */
export function mutate(r: Rng, b: Buffer): { bytes: Buffer; at: number } {
  const at = int(r, 0, b.length - 1);
  const byte = r() < 0.6 ? pick(r, INTERESTING) : int(r, 0, 255);
  const k = r();
  if (k < 0.6) {
    const c = Buffer.from(b);
    c[at] = byte;
    return { bytes: c, at };
  }
  if (k < 0.8) return { bytes: Buffer.concat([b.subarray(0, at), Buffer.from([byte]), b.subarray(at)]), at };
  return { bytes: Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]), at };
}

/** Cuts `b` at `n` random places. */
export function randomSplits(r: Rng, b: Buffer, n: number): Buffer[] {
  const cuts = new Set<number>();
  for (let i = 0; i < n && b.length > 1; i++) cuts.add(int(r, 1, b.length - 1));
  const sorted = [...cuts].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let p = 0;
  for (const c of sorted) { out.push(b.subarray(p, c)); p = c; }
  out.push(b.subarray(p));
  return out;
}
