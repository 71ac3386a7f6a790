// The response parser on its own, against the independent reference reading
// in reference.ts: every split of representative responses, every single-byte
// substitution of them (all 256 values at every position), seeded random
// valid responses with random splits and pauses, their random mutations, and
// random garbage. The parser must agree with the reference on what is a
// complete message and what its body is, and must never throw.
import { describe, expect, it } from 'vitest';
import { ResponseParser, type ResponseSink } from '../../src/proxy/h1/response-parser.js';
import { genResponse, int, mutate, pick, prng, randBytes, randomSplits, refDecode, type RefResult, type Rng } from './reference.js';

const MAX = 16 * 1024;

type Parsed =
  | { kind: 'ok'; status: number; headers: Array<[string, string]>; body: Buffer; consumed: number; keepAlive: boolean }
  | { kind: 'no'; why: string };

/**
 * Feeds `pieces` to a fresh parser as the connection would (re-feeding from
 * where it stopped after a pause), then signals the close. `pauses`: the
 * sink asks to stop on roughly that share of heads and body chunks.
 */
function parse(pieces: Buffer[], head: boolean, r: Rng | null = null, pauses = 0): Parsed {
  let status = 0;
  let headers: Array<[string, string]> = [];
  const body: Buffer[] = [];
  let ended = false;
  let heads = 0;
  let afterEnd = 0;
  const sink: ResponseSink = {
    onHead(s, raw) {
      heads++;
      status = s;
      headers = [];
      for (let i = 0; i + 1 < raw.length; i += 2) headers.push([raw[i]!.toString('latin1'), raw[i + 1]!.toString('latin1')]);
      return !(r && r() < pauses);
    },
    onBody(c) {
      if (ended) afterEnd++;
      body.push(Buffer.from(c));
      return !(r && r() < pauses);
    },
    onEnd() {
      if (ended) afterEnd++;
      ended = true;
    },
  };
  const p = new ResponseParser(sink, MAX);
  p.reset(head);
  let offset = 0;
  for (const piece of pieces) {
    let at = 0;
    for (let guard = 0; ; guard++) {
      if (guard > piece.length + 2) throw new Error('parser made no progress');
      const got = p.feed(piece, at);
      if (got === -1) {
        if (ended) throw new Error('error after the end');
        if (p.error?.code !== 'HPE_INVALID_RESPONSE') throw new Error('error without HPE_INVALID_RESPONSE');
        return { kind: 'no', why: p.error.message };
      }
      if (ended) {
        if (heads !== 1 || afterEnd > 0) throw new Error(`heads=${heads} afterEnd=${afterEnd}`);
        return { kind: 'ok', status, headers, body: Buffer.concat(body), consumed: offset + got, keepAlive: p.keepAlive };
      }
      if (got === piece.length) break;
      if (got < at || got > piece.length) throw new Error(`feed returned ${got} from ${at}`);
      at = got; // paused: resume where it stopped
    }
    offset += piece.length;
  }
  if (p.eof() && ended) return { kind: 'ok', status, headers, body: Buffer.concat(body), consumed: offset, keepAlive: p.keepAlive };
  return { kind: 'no', why: 'incomplete at close' };
}

function describeBytes(b: Buffer): string {
  return JSON.stringify(b.toString('latin1'));
}

/** The parser agrees with the reference. */
function agree(bytes: Buffer, pieces: Buffer[], head: boolean, ref: RefResult, got: Parsed): void {
  if (ref.kind === 'no') {
    if (got.kind !== 'no') expect.fail(`parser accepted what the reference refuses: ${describeBytes(bytes)} head=${head} → status ${got.status}, body ${describeBytes(got.body)}`);
    return;
  }
  if (got.kind !== 'ok') expect.fail(`parser refused (${got.why}) what the reference accepts: ${describeBytes(bytes)} head=${head}`);
  if (got.status !== ref.status || !got.body.equals(ref.body) || got.consumed !== ref.consumed || got.keepAlive !== ref.keepAlive) {
    expect.fail(`parser and reference disagree on ${describeBytes(bytes)} head=${head} (pieces ${pieces.map((p) => p.length).join('+')}):\n` +
      `parser: ${got.status} ${describeBytes(got.body)} consumed ${got.consumed} keepAlive ${got.keepAlive}\n` +
      `reference: ${ref.status} ${describeBytes(ref.body)} consumed ${ref.consumed} keepAlive ${ref.keepAlive}`);
  }
  expect(got.headers).toEqual(ref.headers);
}

const TEMPLATES: Array<[string, string, boolean]> = [
  ['content-length', 'HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 5\r\n\r\nhello', false],
  ['chunked with extension and trailer', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: v\r\n\r\n', false],
  ['interim then final', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', false],
  ['read until close', 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close', false],
  ['HEAD with a length', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', true],
  ['HTTP/1.0 304', 'HTTP/1.0 304 Not Modified\r\nETag: "a"\r\n\r\n', false],
];

describe('ResponseParser: every split', () => {
  for (const [name, text, head] of TEMPLATES) {
    it(`reads ${name} identically whatever two places it is cut at`, () => {
      const b = Buffer.from(text, 'latin1');
      const ref = refDecode(b, head, MAX);
      expect(ref.kind).toBe('ok');
      for (let i = 0; i <= b.length; i++) {
        for (let j = i; j <= b.length; j++) {
          const pieces = [b.subarray(0, i), b.subarray(i, j), b.subarray(j)].filter((p) => p.length > 0);
          agree(b, pieces, head, ref, parse(pieces, head));
        }
      }
      // …and one byte at a time.
      const bytes = [...b].map((x) => Buffer.from([x]));
      agree(b, bytes, head, ref, parse(bytes, head));
    });
  }
});

describe('ResponseParser: every single-byte substitution', () => {
  for (const [name, text, head] of TEMPLATES) {
    it(`agrees with the reference on all 256 values at every position of ${name}`, () => {
      const b = Buffer.from(text, 'latin1');
      const r = prng(b.length);
      let accepted = 0;
      for (let at = 0; at < b.length; at++) {
        for (let v = 0; v < 256; v++) {
          if (v === b[at]) continue;
          const m = Buffer.from(b);
          m[at] = v;
          const ref = refDecode(m, head, MAX);
          if (ref.kind === 'ok') accepted++;
          // Whole, and cut at one random place.
          agree(m, [m], head, ref, parse([m], head));
          const cut = int(r, 1, m.length - 1);
          const pieces = [m.subarray(0, cut), m.subarray(cut)];
          agree(m, pieces, head, ref, parse(pieces, head));
        }
      }
      expect(accepted).toBeGreaterThan(0); // some positions are harmless (values, reason, body)
    });
  }
});

describe('ResponseParser: seeded random responses', () => {
  it('decodes 4000 random valid responses exactly, with random splits and pauses', () => {
    const r = prng(0xc0ffee);
    const framings = new Set<string>();
    for (let n = 0; n < 4000; n++) {
      const g = genResponse(r, true);
      framings.add(g.framing);
      const ref = refDecode(g.bytes, g.head, MAX);
      if (ref.kind !== 'ok') expect.fail(`generated response refused by the reference: ${describeBytes(g.bytes)}`);
      expect(ref.status).toBe(g.status);
      expect(ref.body.equals(g.body)).toBe(true);
      expect(ref.consumed).toBe(g.bytes.length);
      const pieces = randomSplits(r, g.bytes, pick(r, [0, 1, 3, 10, 40]));
      agree(g.bytes, pieces, g.head, ref, parse(pieces, g.head, r, pick(r, [0, 0.3, 1])));
    }
    expect([...framings].sort()).toEqual(['chunked', 'close', 'length', 'none']);
  });

  it('agrees with the reference on 12000 single-byte mutations of random responses', () => {
    const r = prng(0xbadf00d);
    let okCount = 0;
    let noCount = 0;
    for (let n = 0; n < 12_000; n++) {
      const g = genResponse(r, true);
      const m = mutate(r, g.bytes).bytes;
      const ref = refDecode(m, g.head, MAX);
      if (ref.kind === 'ok') okCount++; else noCount++;
      const pieces = randomSplits(r, m, pick(r, [0, 2, 8]));
      agree(m, pieces, g.head, ref, parse(pieces, g.head, r, pick(r, [0, 0.5])));
    }
    // Both outcomes are well represented (the mutations are not all fatal, nor all harmless).
    expect(okCount).toBeGreaterThan(1000);
    expect(noCount).toBeGreaterThan(1000);
  });

  it('never throws on 20000 random byte strings, and agrees with the reference on them', () => {
    const r = prng(42);
    const prefixes = ['', 'HTTP/1.1 200 OK\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'HTTP/1.1 100 Continue\r\n\r\n'];
    const alphabet = Buffer.from('\r\n\r\n\r\n:;  \t0123456789abcdefABCDEFxHTTP/1.', 'latin1');
    for (let n = 0; n < 20_000; n++) {
      const len = int(r, 0, 200);
      const tail = r() < 0.5 ? randBytes(r, len) : Buffer.from(Array.from({ length: len }, () => alphabet[int(r, 0, alphabet.length - 1)]!));
      const b = Buffer.concat([Buffer.from(pick(r, prefixes), 'latin1'), tail]);
      const head = r() < 0.1;
      const pieces = randomSplits(r, b, pick(r, [0, 1, 5]));
      let got: Parsed;
      try {
        got = parse(pieces, head, r, 0.2);
      } catch (e) {
        expect.fail(`parser threw on ${describeBytes(b)}: ${(e as Error).stack}`);
      }
      agree(b, pieces, head, refDecode(b, head, MAX), got);
    }
  });
});

describe('ResponseParser: limits', () => {
  it('refuses a head one byte over maxHeaderSize and accepts one at the limit', () => {
    const make = (n: number): Buffer => {
      const base = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: \r\n\r\n';
      return Buffer.from(base.replace('X: ', `X: ${'v'.repeat(n - base.length)}`), 'latin1');
    };
    const sink: ResponseSink = { onHead: () => true, onBody: () => true, onEnd: () => {} };
    for (const [size, ok] of [[1024, true], [1025, false]] as const) {
      for (const split of [0, 20, 1000]) {
        const p = new ResponseParser(sink, 1024);
        p.reset(false);
        const b = make(size);
        expect(b.length).toBe(size);
        const r1 = split ? p.feed(b.subarray(0, split), 0) : 0;
        const r2 = r1 < 0 ? r1 : p.feed(b.subarray(split), 0);
        expect(r2 >= 0, `size ${size} split ${split}`).toBe(ok);
        expect(p.done).toBe(ok);
      }
    }
  });

  it('refuses a chunk size line longer than 4 KiB of extension', () => {
    const sink: ResponseSink = { onHead: () => true, onBody: () => true, onEnd: () => {} };
    const p = new ResponseParser(sink, MAX);
    p.reset(false);
    expect(p.feed(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;', 'latin1'), 0)).toBeGreaterThan(0);
    let last = 0;
    for (let i = 0; i < 10 && last >= 0; i++) last = p.feed(Buffer.alloc(1000, 0x61), 0);
    expect(last).toBe(-1);
    expect(p.error?.code).toBe('HPE_INVALID_RESPONSE');
  });
});
