// routes[].cors compiled: origin patterns (exact, one-label wildcard, "*"),
// preflight decisions, and the config errors.
import { describe, expect, it } from 'vitest';
import { compileCors } from '../../src/policy/cors.js';
import type { CompileContext } from '../../src/config/load.js';

function ctx(issues: string[]): CompileContext {
  return { plan: null as never, issue: (p, m) => issues.push(`${p}: ${m}`), resolvePath: (p) => p, secret: () => undefined };
}
const compile = (cfg: Record<string, unknown>, issues: string[] = []) =>
  compileCors({ allow_credentials: false, ...cfg } as never, 'routes[0].cors', ctx(issues));

describe('origin matching', () => {
  const c = compile({ allow_origins: ['https://app.example.com', 'https://*.example.com', 'http://*.local.test:8080'], allow_credentials: true });
  const ok = (o: string) => c.actualHeaders(o) !== null;

  it('exact origins and one label under a wildcard match', () => {
    expect(ok('https://app.example.com')).toBe(true);
    expect(ok('https://shop.example.com')).toBe(true);
    expect(ok('https://a-1.example.com')).toBe(true);
    expect(ok('http://x.local.test:8080')).toBe(true);
  });

  for (const o of [
    'https://example.com.evil.test', 'https://evil.test/.example.com', 'https://a.b.example.com', 'https://.example.com',
    'http://shop.example.com', 'https://shop.example.com:8443', 'https://shopexample.com', 'https://-x.example.com',
    'https://x-.example.com', 'http://x.local.test', 'http://x.local.test:80800', 'https://APP.example.com', 'null',
    'https://app.example.com.', 'https://app.example.com/', ' https://app.example.com', 'https://x_y.example.com',
    'https://x%2eevil.example.com', 'https://x.example.com\r\nx: y',
  ]) {
    it(`never matches ${JSON.stringify(o)}`, () => expect(ok(o)).toBe(false));
  }

  it('echoes the origin with Vary and credentials, never *', () => {
    expect(c.actualHeaders('https://shop.example.com')).toEqual([
      'access-control-allow-origin', 'https://shop.example.com', 'vary', 'Origin', 'access-control-allow-credentials', 'true',
    ]);
  });

  it('reuses the same list for a seen origin (no allocation per request)', () => {
    expect(c.actualHeaders('https://app.example.com')).toBe(c.actualHeaders('https://app.example.com'));
  });
});

describe('preflight', () => {
  const c = compile({
    allow_origins: ['https://app.example.com'], allow_methods: ['GET', 'PUT'], allow_headers: ['Authorization', 'content-type'],
    expose_headers: ['x-request-id'], max_age: 600_000,
  });

  it('answers an allowed origin, method and headers with the precompiled headers', () => {
    expect(c.preflight('https://app.example.com', 'PUT', 'authorization, Content-Type')).toEqual([
      'access-control-allow-origin', 'https://app.example.com', 'vary', 'Origin',
      'access-control-allow-methods', 'GET, PUT', 'access-control-allow-headers', 'authorization, content-type', 'access-control-max-age', '600',
    ]);
  });
  it('refuses a method, a header or an origin not listed', () => {
    expect(c.preflight('https://app.example.com', 'DELETE', '')).toBeNull();
    expect(c.preflight('https://app.example.com', 'put', '')).toBeNull();
    expect(c.preflight('https://app.example.com', 'GET', 'x-secret')).toBeNull();
    expect(c.preflight('https://evil.example.com', 'GET', '')).toBeNull();
  });
  it('expose_headers go on actual answers only', () => {
    expect(c.actualHeaders('https://app.example.com')).toContain('access-control-expose-headers');
  });
});

describe('"*"', () => {
  it('answers * without credentials', () => {
    expect(compile({ allow_origins: ['*'] }).actualHeaders('https://any.test')).toEqual(['access-control-allow-origin', '*']);
  });
  it('is a config error with allow_credentials', () => {
    const issues: string[] = [];
    compile({ allow_origins: ['*'], allow_credentials: true }, issues);
    expect(issues.join('\n')).toMatch(/routes\[0\]\.cors\.allow_origins\[0\]: "\*" cannot be used with allow_credentials/);
  });
});

it('a malformed origin is a config error naming the field', () => {
  const issues: string[] = [];
  compile({ allow_origins: ['https://app.example.com/path', 'app.example.com', 'https://*.*.example.com'] }, issues);
  expect(issues).toHaveLength(3);
  expect(issues[0]).toMatch(/^routes\[0\]\.cors\.allow_origins\[0\]: .* is not an origin/);
});
