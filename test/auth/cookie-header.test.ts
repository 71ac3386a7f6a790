// Reading one cookie from a Cookie header in place (cookieRange) must give
// exactly what the substring-making reading gave before (the reference below),
// and the session cache probed by range must hit and miss like one probed by
// the value itself.
import { describe, expect, it } from 'vitest';
import { cookieEnd, cookieRange, findCookie } from '../../src/auth/cookie-header.js';
import { TailKeyedCache } from '../../src/workers/expiring-cache.js';

/**
 * The reference reading: pairs split at ';', a pair without '=' skipped, the
 * value trimmed like String.prototype.trim and unquoted once.
 */
function reference(header: string, name: string): string | undefined {
  for (const pair of header.split(';')) {
    const p = pair.replace(/^ +/, '');
    const eq = p.indexOf('=');
    if (eq < 0 || p.slice(0, eq) !== name) continue;
    let v = p.slice(eq + 1).trim();
    if (v.length >= 2 && v.charCodeAt(0) === 34 && v.charCodeAt(v.length - 1) === 34) v = v.slice(1, -1);
    return v;
  }
  return undefined;
}

const CASES: Array<[string, string]> = [
  ['sid=abc', 'sid'], ['a=1; sid=abc; b=2', 'sid'], ['a=1;sid=abc', 'sid'], ['sid=', 'sid'], ['sid', 'sid'],
  ['xsid=1; sid=2', 'sid'], ['sidx=1; sid=2', 'sid'], ['sid="quoted"', 'sid'], ['sid=""', 'sid'], ['sid="', 'sid'],
  ['sid= spaced \t', 'sid'], ['sid=\u00a0nbsp\u00a0', 'sid'], ['sid=" q " ', 'sid'], ['a=1; b=2', 'sid'], ['', 'sid'],
  ['sid=a=b=c', 'sid'], ['sid=1; sid=2', 'sid'], [';;; sid=x;;', 'sid'], ['a="x;y"; sid=z', 'sid'], ['__Host-s=v', '__Host-s'],
  // a cookie without '=' (document.cookie = "foo") must not hide the next one
  ['foo; sid=abc', 'sid'], ['a=1; foo; sid=abc', 'sid'], ['foo;sid=abc', 'sid'], ['=x; sid=y', 'sid'],
  ['sid="a"b"', 'sid'], ['sid=\r\n x \r\n', 'sid'], ['sid=\ufeffx', 'sid'], ['sid=x\u180e', 'sid'],
];

describe('cookieRange', () => {
  it.each(CASES)('%j → the same value as the reference reading of %s', (header, name) => {
    expect(findCookie(header, name)).toBe(reference(header, name));
    const a = cookieRange(header, name);
    expect(a < 0 ? undefined : header.slice(a, cookieEnd[0])).toBe(reference(header, name));
  });

  it('finds the session cookie behind a nameless cookie', () => {
    expect(findCookie('foo; sid=abc', 'sid')).toBe('abc');
    expect(findCookie('a=1; foo; bar; sid=abc; z=2', 'sid')).toBe('abc');
    expect(findCookie('sid', 'sid')).toBeUndefined();
  });

  it('agrees with the reference on 20,000 random headers', () => {
    let seed = 12345;
    const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
    const alphabet = ['s', 'i', 'd', '=', ';', ' ', '\t', '"', 'a', '\u00a0', 'x', '\u2028', '\ufeff', '\u3000', '\r', '\n'];
    for (let k = 0; k < 20_000; k++) {
      let h = '';
      const len = rnd(24);
      for (let i = 0; i < len; i++) h += alphabet[rnd(alphabet.length)];
      expect(findCookie(h, 'sid'), JSON.stringify(h)).toBe(reference(h, 'sid'));
    }
  });
});

describe('TailKeyedCache.getIn', () => {
  const until = () => Date.now() + 60_000;
  const value = 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..iv.ciphertext-of-the-session.tag-of-the-session-0123456789';

  it('hits a value stored by itself when it is found inside any Cookie header', () => {
    const c = new TailKeyedCache<{ who: string }>(10);
    const id = { who: 'alice' };
    c.set(value, id, until());
    for (const h of [`s=${value}`, `_ga=1; s=${value}; theme=dark`, `_ga=2; s=${value}; theme=dark`]) {
      const a = cookieRange(h, 's');
      expect(c.getIn(h, a, cookieEnd[0]!)).toBe(id);
    }
  });

  it('misses a value of the same length and tail that differs before the tail', () => {
    const c = new TailKeyedCache<{ who: string }>(10);
    c.set(value, { who: 'alice' }, until());
    const other = `X${value.slice(1)}`;
    const h = `s=${other}`;
    expect(c.getIn(h, 2, h.length)).toBeUndefined();
    // …also right after a hit recorded the header it was found in.
    const good = `s=${value}`;
    expect(c.getIn(good, 2, good.length)).toBeDefined();
    const again = `s=${other}`;
    expect(c.getIn(again, 2, again.length)).toBeUndefined();
  });

  it('drops an expired entry', () => {
    const c = new TailKeyedCache<{ who: string }>(10);
    c.set(value, { who: 'alice' }, Date.now() + 5);
    const h = `s=${value}`;
    return new Promise<void>((resolve) => setTimeout(() => {
      expect(c.getIn(h, 2, h.length)).toBeUndefined();
      expect(c.size).toBe(0);
      resolve();
    }, 30));
  });
});
