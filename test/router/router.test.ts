import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../../src/config/schema.js';
import { compileRouter, stripPrefix } from '../../src/router/router.js';

type Match = RouteConfig['match'];
const route = (name: string, match: Match): RouteConfig =>
  ({ name, match, anonymous: true, strip_prefix: false, upstream: 'u' }) as RouteConfig;

const noHeaders = (_: string) => '';
const headersOf = (h: Record<string, string>) => (name: string) => h[name] ?? '';

// The routing table the cases below run against (first match wins).
const TABLE: RouteConfig[] = [
  route('ping', { path: '/ping' }),
  route('orders-v2', { path_prefix: '/orders', headers: { 'X-Api-Version': '2' } }),
  route('orders', { hosts: ['api.example.com'], path_prefix: '/orders', methods: ['GET', 'post'] }),
  route('tenant', { hosts: ['*.tenants.example.com'], path_prefix: '/' }),
  route('items', { path_regex: '^/items/[0-9]+$' }),
  route('docs', { path_prefix: '/docs/' }),
  route('api', { path_prefix: '/api', methods: ['DELETE'] }),
  route('internal', { path_prefix: '/internal' }),
  route('apex', { hosts: ['Example.COM:8080'], path: '/' }),
];

const CASES: readonly (readonly [string, string, string, Record<string, string>, string | null])[] = [
  // method, host, path, headers, expected route name (null = 404)
  ['GET', 'any', '/ping', {}, 'ping'],
  ['POST', 'any', '/ping', {}, 'ping'],
  ['GET', 'any', '/ping/', {}, null],
  ['GET', 'any', '/pingx', {}, null],
  ['GET', 'api.example.com', '/orders', { 'x-api-version': '2' }, 'orders-v2'],
  ['GET', 'api.example.com', '/orders', { 'x-api-version': '3' }, 'orders'],
  ['GET', 'api.example.com', '/orders', {}, 'orders'],
  ['GET', 'API.Example.com', '/orders/1', {}, 'orders'],
  ['GET', 'api.example.com.', '/orders/1', {}, 'orders'],
  ['HEAD', 'api.example.com', '/orders/', {}, 'orders'],
  ['POST', 'api.example.com', '/orders', {}, 'orders'],
  ['PUT', 'api.example.com', '/orders', {}, null],
  ['GET', 'api.example.com', '/ordersx', {}, null],
  ['GET', 'other.example.com', '/orders', {}, null],
  ['GET', 'a.tenants.example.com', '/anything', {}, 'tenant'],
  ['GET', 'a.b.tenants.example.com', '/', {}, 'tenant'],
  ['GET', 'A.TENANTS.example.com', '/', {}, 'tenant'],
  ['GET', 'tenants.example.com', '/x', {}, null],
  ['GET', '.tenants.example.com', '/x', {}, null],
  ['GET', 'eviltenants.example.com', '/x', {}, null],
  ['GET', 'any', '/items/42', {}, 'items'],
  ['GET', 'any', '/items/42/x', {}, null],
  ['GET', 'any', '/items/abc', {}, null],
  ['GET', 'any', '/docs/', {}, 'docs'],
  ['GET', 'any', '/docs/a/b', {}, 'docs'],
  ['GET', 'any', '/docs', {}, null],
  ['DELETE', 'any', '/api', {}, 'api'],
  ['DELETE', 'any', '/api/x', {}, 'api'],
  ['DELETE', 'any', '/apix', {}, null],
  ['GET', 'any', '/api', {}, null],
  ['get', 'any', '/api', {}, null],
  ['GET', 'any', '/internal', {}, 'internal'],
  ['GET', 'example.com', '/', {}, 'apex'],
  ['GET', 'www.example.com', '/', {}, null],
];

describe('router: routing table', () => {
  const router = compileRouter(TABLE);
  for (const [method, host, path, headers, expected] of CASES) {
    it(`${method} ${host}${path} ${JSON.stringify(headers)} → ${expected ?? '404'}`, () => {
      const i = router.match(method, host, path, headersOf(headers));
      expect(i === -1 ? null : TABLE[i]!.name).toBe(expected);
    });
  }
});

describe('router', () => {
  it('first match wins', () => {
    const r = compileRouter([route('a', { path_prefix: '/' }), route('b', { path: '/x' })]);
    expect(r.match('GET', 'h', '/x', noHeaders)).toBe(0);
  });

  it('prefix / matches every path', () => {
    const r = compileRouter([route('all', { path_prefix: '/' })]);
    for (const p of ['/', '/a', '/a/b/']) expect(r.match('GET', '', p, noHeaders)).toBe(0);
  });

  it('a route without match conditions matches everything', () => {
    const r = compileRouter([route('all', {})]);
    expect(r.match('PATCH', 'x', '/y', noHeaders)).toBe(0);
  });

  it('a route listing GET also matches HEAD, but not the other way round', () => {
    const r = compileRouter([route('g', { path: '/g', methods: ['GET'] }), route('h', { path: '/h', methods: ['HEAD'] })]);
    expect(r.match('HEAD', '', '/g', noHeaders)).toBe(0);
    expect(r.match('GET', '', '/h', noHeaders)).toBe(-1);
  });

  it('regex is anchored only as written', () => {
    const r = compileRouter([route('re', { path_regex: 'admin' })]);
    expect(r.match('GET', '', '/x/admin/y', noHeaders)).toBe(0);
  });

  it('header matches are exact and need every listed header', () => {
    const r = compileRouter([route('h', { headers: { 'x-a': '1', 'x-b': 'two' } })]);
    expect(r.match('GET', '', '/', headersOf({ 'x-a': '1', 'x-b': 'two' }))).toBe(0);
    expect(r.match('GET', '', '/', headersOf({ 'x-a': '1' }))).toBe(-1);
    expect(r.match('GET', '', '/', headersOf({ 'x-a': '1', 'x-b': 'Two' }))).toBe(-1);
  });

  it('reports the allowed methods for a path that matched only by method (405)', () => {
    const r = compileRouter(TABLE);
    expect(r.match('PUT', 'api.example.com', '/orders', noHeaders)).toBe(-1);
    expect(r.allowedMethods('api.example.com', '/orders', noHeaders)).toBe('GET, HEAD, POST');
    expect(r.allowedMethods('nowhere', '/nothing', noHeaders)).toBe('');
  });
});

describe('stripPrefix', () => {
  const cases: readonly (readonly [string, string, string])[] = [
    ['/api/x', '/api', '/x'],
    ['/api', '/api', '/'],
    ['/api/', '/api', '/'],
    ['/api/x/y', '/api/', '/x/y'],
    ['/api/', '/api/', '/'],
    ['/x', '/', '/x'],
    ['/apix', '/api', '/apix'],
    ['/a/b/c', '/a/b', '/c'],
  ];
  for (const [path, prefix, out] of cases) {
    it(`${path} without ${prefix} is ${out}`, () => expect(stripPrefix(path, prefix)).toBe(out));
  }
});
