import { describe, expect, it } from 'vitest';
import { normalizePath } from '../../src/router/normalize.js';

// [input, expected] — expected null means 400 bad_path.
const CORPUS: readonly (readonly [string, string | null])[] = [
  // clean paths pass unchanged
  ['/', '/'],
  ['/api', '/api'],
  ['/api/', '/api/'],
  ['/api/v1/orders/42', '/api/v1/orders/42'],
  ['/.well-known/openid-configuration', '/.well-known/openid-configuration'],
  ['/a.b/c..d/...', '/a.b/c..d/...'],
  ['/a;b=1/c', '/a;b=1/c'],
  // dot segments
  ['/api/../internal', '/internal'],
  ['/api/./x', '/api/x'],
  ['/api/.', '/api/'],
  ['/api/..', '/'],
  ['/a/b/../../c', '/c'],
  ['/a/b/../c/./d/', '/a/c/d/'],
  ['/.', '/'],
  ['/./', '/'],
  ['/..', null],
  ['/../etc/passwd', null],
  ['/a/../..', null],
  ['/a/../../b', null],
  // collapsed slashes
  ['//', '/'],
  ['//api//x', '/api/x'],
  ['/api//', '/api/'],
  ['///a/./..//b', '/b'],
  // percent-encoded unreserved characters are decoded (hex in any case)
  ['/%61pi', '/api'],
  ['/%7Euser', '/~user'],
  ['/%7euser', '/~user'],
  ['/a%2Db%5Fc%2E', '/a-b_c.'],
  ['/api/%2e%2e/internal', '/internal'],
  ['/api/%2E%2E/internal', '/internal'],
  ['/api/%2e%2E/internal', '/internal'],
  ['/api/.%2e/internal', '/internal'],
  ['/api/%2e/x', '/api/x'],
  ['/%2e%2e', null],
  ['/%2e%2e/%2e%2e/etc', null],
  // other encodings stay encoded, hex upper-cased
  ['/a%20b', '/a%20b'],
  ['/caf%c3%a9', '/caf%C3%A9'],
  ['/x%3a%40', '/x%3A%40'],
  ['/%2B', '/%2B'],
  // encoded delimiters that another server would decode into structure
  ['/api%2f..%2finternal', null],
  ['/api%2F..%2Finternal', null],
  ['/a%5cb', null],
  ['/a%5Cb', null],
  ['/a%3bb', null],
  ['/a%3Bb', null],
  ['/a%25b', null],
  ['/a%252e%252e', null],
  ['/a%3fb', null],
  ['/a%3Fb', null],
  ['/a%23b', null],
  // NUL and control characters, raw or encoded
  ['/a%00b', null],
  ['/a\u0000b', null],
  ['/a\tb', null],
  ['/a\nb', null],
  ['/a\u007fb', null],
  ['/a%0ab', null],
  ['/a%0Db', null],
  ['/a%7fb', null],
  // raw backslash and fragment
  ['/a\\b', null],
  ['/..\\..\\etc', null],
  ['/a#b', null],
  // invalid percent sequences
  ['/a%', null],
  ['/a%4', null],
  ['/a%zz', null],
  ['/a%g0', null],
  ['/a%%41', null],
  // must start with '/'
  ['', null],
  ['api', null],
  ['*', null],
  ['http://x/a', null],
  // path parameters on dot segments (Tomcat reads /a/..;/b as /b)
  ['/api/..;/internal', null],
  ['/api/.;/internal', null],
  ['/api/%2e%2e;/internal', null],
  ['/api/..;x=1/internal', null],
];

describe('normalizePath corpus', () => {
  for (const [input, expected] of CORPUS) {
    it(`${JSON.stringify(input)} → ${expected === null ? 'rejected' : JSON.stringify(expected)}`, () => {
      expect(normalizePath(input)).toBe(expected);
    });
  }
});

describe('normalizePath', () => {
  it('routes /api/../internal as /internal, never as /api', () => {
    const p = normalizePath('/api/../internal');
    expect(p).toBe('/internal');
    expect(p!.startsWith('/api')).toBe(false);
  });

  it('is idempotent on everything it accepts', () => {
    for (const [input] of CORPUS) {
      const once = normalizePath(input);
      if (once !== null) expect(normalizePath(once)).toBe(once);
    }
  });

  it('returns the very same string for a clean path (fast path)', () => {
    const raw = ['/api/v1', 'orders', '42'].join('/'); // a fresh, non-literal string
    expect(Object.is(normalizePath(raw), raw)).toBe(true);
  });

  it('never returns a path containing a dot segment or a double slash', () => {
    const parts = ['a', '.', '..', '%2e', '%2E%2e', '', 'b%41'];
    let n = 0;
    for (const x of parts) for (const y of parts) for (const z of parts) {
      const out = normalizePath(`/a/${x}/${y}/${z}`);
      n++;
      if (out === null) continue;
      expect(out.startsWith('/')).toBe(true);
      expect(out).not.toMatch(/\/\.\.?(\/|$)|\/\//);
    }
    expect(n).toBe(parts.length ** 3);
  });
});
