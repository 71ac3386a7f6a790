// Route matching: routes compiled once into flat records, matched in order
// (first match wins). The match loop compares strings and bit masks only:
// no allocation, no regex except a route's own `path_regex`, tried last.
import type { RouteConfig } from '../config/schema.js';

export interface Router {
  /** Number of compiled routes. */
  readonly size: number;
  /**
   * Index of the first route matching, or -1. `host` is the Host header with
   * the port removed (lower-case preferred; compared case-insensitively),
   * `path` the normalised path, `header` a request-header reader by lower-case name.
   */
  match(method: string, host: string, path: string, header: (lowerName: string) => string): number;
  /**
   * Only for a miss (-1): the methods of routes that match everything but the
   * method, as an `Allow` value ('' when none, i.e. answer 404 rather than 405).
   * Allocates; never call it for a request that matched.
   */
  allowedMethods(host: string, path: string, header: (lowerName: string) => string): string;
}

const METHOD_NAMES = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'] as const;
const METHOD_BIT = new Map<string, number>(METHOD_NAMES.map((m, i) => [m, 1 << i]));
/** Methods outside the list (extension methods) only match routes without `methods`. */
const OTHER_BIT = 1 << METHOD_NAMES.length;
const ALL_METHODS = (OTHER_BIT << 1) - 1;
const BIT_GET = METHOD_BIT.get('GET')!;
const BIT_HEAD = METHOD_BIT.get('HEAD')!;

const PATH_ANY = 0;
const PATH_EXACT = 1;
const PATH_PREFIX = 2; // segment-aware: the prefix, then end or '/'
const PATH_PREFIX_SLASH = 3; // prefix written with a trailing '/': plain startsWith

/** One route, flattened. Every instance has the same shape (monomorphic access in the loop). */
class CompiledRoute {
  constructor(
    readonly methodMask: number,
    readonly pathKind: number,
    readonly pathStr: string,
    /** Last char code of a prefix: a one-compare reject before startsWith. */
    readonly pathLast: number,
    readonly regex: RegExp | null,
    /** Exact host names, lower-case, no trailing dot. */
    readonly hostExact: readonly string[],
    /** Suffixes including the dot (".example.com"), lower-case. */
    readonly hostSuffix: readonly string[],
    readonly headerNames: readonly string[],
    readonly headerValues: readonly string[],
  ) {}
}

function compileHosts(hosts: readonly string[] | undefined): [string[], string[]] {
  const exact: string[] = [];
  const suffix: string[] = [];
  for (const raw of hosts ?? []) {
    // The caller strips the port from the Host header, so a port in a pattern
    // could never match; the pattern is taken without it.
    let h = raw.toLowerCase().replace(/:\d+$/, '');
    if (h.endsWith('.')) h = h.slice(0, -1);
    if (h.startsWith('*.')) suffix.push(h.slice(1));
    else exact.push(h);
  }
  return [exact, suffix];
}

function compileRoute(r: RouteConfig): CompiledRoute {
  const m = r.match;
  let mask = ALL_METHODS;
  if (m.methods && m.methods.length > 0) {
    mask = 0;
    for (const meth of m.methods) mask |= METHOD_BIT.get(meth.toUpperCase()) ?? 0;
    if (mask & BIT_GET) mask |= BIT_HEAD; // HEAD is GET without the body
  }
  let kind = PATH_ANY;
  let str = '';
  let regex: RegExp | null = null;
  if (m.path !== undefined) {
    kind = PATH_EXACT;
    str = m.path;
  } else if (m.path_prefix !== undefined && m.path_prefix !== '/') {
    str = m.path_prefix;
    kind = str.endsWith('/') ? PATH_PREFIX_SLASH : PATH_PREFIX;
  } else if (m.path_regex !== undefined) {
    regex = new RegExp(m.path_regex); // validated by the config check; no 'g' flag, so test() is stateless
  }
  const [exact, suffix] = compileHosts(m.hosts);
  const names: string[] = [];
  const values: string[] = [];
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    names.push(k.toLowerCase());
    values.push(v);
  }
  return new CompiledRoute(mask, kind, str, str.length > 0 ? str.charCodeAt(str.length - 1) : 0, regex, exact, suffix, names, values);
}

/** ASCII case-insensitive: does `s[off, off+p.length)` equal lower-case `p`? */
function eqLowerAt(s: string, off: number, p: string): boolean {
  for (let i = 0; i < p.length; i++) {
    let c = s.charCodeAt(off + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== p.charCodeAt(i)) return false;
  }
  return true;
}

function hostMatches(r: CompiledRoute, host: string): boolean {
  const ex = r.hostExact;
  const sx = r.hostSuffix;
  if (ex.length === 0 && sx.length === 0) return true;
  let n = host.length;
  if (n > 0 && host.charCodeAt(n - 1) === 46) n--; // "example.com." is "example.com"
  for (let i = 0; i < ex.length; i++) {
    const p = ex[i]!;
    if (p.length === n && (host === p || eqLowerAt(host, 0, p))) return true;
  }
  for (let i = 0; i < sx.length; i++) {
    const p = sx[i]!;
    // strictly longer: "*.example.com" does not match "example.com" nor ".example.com"
    if (n > p.length && eqLowerAt(host, n - p.length, p)) return true;
  }
  return false;
}

function pathMatches(r: CompiledRoute, path: string): boolean {
  switch (r.pathKind) {
    case PATH_EXACT:
      return path === r.pathStr;
    case PATH_PREFIX: {
      const p = r.pathStr;
      const n = p.length;
      if (path.length < n || path.charCodeAt(n - 1) !== r.pathLast) return false;
      return (path.length === n || path.charCodeAt(n) === 47) && path.startsWith(p);
    }
    case PATH_PREFIX_SLASH: {
      const n = r.pathStr.length;
      return path.length >= n && path.charCodeAt(n - 1) === r.pathLast && path.startsWith(r.pathStr);
    }
    default:
      return true;
  }
}

function headersMatch(r: CompiledRoute, header: (lowerName: string) => string): boolean {
  const names = r.headerNames;
  for (let i = 0; i < names.length; i++) {
    if (header(names[i]!) !== r.headerValues[i]) return false;
  }
  return true;
}

/** Everything but the method, cheapest checks first, the regex last. */
function matchesExceptMethod(r: CompiledRoute, host: string, path: string, header: (lowerName: string) => string): boolean {
  return pathMatches(r, path) && hostMatches(r, host) && headersMatch(r, header) && (r.regex === null || r.regex.test(path));
}

class RouterImpl implements Router {
  readonly size: number;
  constructor(private readonly routes: readonly CompiledRoute[]) {
    this.size = routes.length;
  }

  match(method: string, host: string, path: string, header: (lowerName: string) => string): number {
    if (path.indexOf(';') !== -1) path = withoutPathParams(path);
    const bit = METHOD_BIT.get(method) ?? OTHER_BIT;
    const routes = this.routes;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i]!;
      if ((r.methodMask & bit) === 0) continue;
      if (matchesExceptMethod(r, host, path, header)) return i;
    }
    return -1;
  }

  allowedMethods(host: string, path: string, header: (lowerName: string) => string): string {
    if (path.indexOf(';') !== -1) path = withoutPathParams(path);
    let mask = 0;
    for (const r of this.routes) {
      if (matchesExceptMethod(r, host, path, header)) mask |= r.methodMask;
    }
    if (mask === 0) return '';
    return METHOD_NAMES.filter((_, i) => (mask & (1 << i)) !== 0).join(', ');
  }
}

/**
 * The path as servlet containers (Tomcat, Jetty, Spring) read it: every
 * segment's `;params` removed, then empty segments collapsed. `/admin;x/secret`
 * is served as `/admin/secret` there, so it must be routed as that here, or it
 * would miss the `/admin` route and fall through to a less protected one.
 * Only paths containing ';' pay for this (it allocates).
 */
export function withoutPathParams(path: string): string {
  const parts = path.split('/');
  const out: string[] = [];
  for (let k = 1; k < parts.length; k++) {
    const seg = parts[k]!;
    const semi = seg.indexOf(';');
    const s = semi === -1 ? seg : seg.slice(0, semi);
    if (s !== '') out.push(s);
  }
  const trailing = parts.length > 1 && parts[parts.length - 1]!.split(';')[0] === '' && out.length > 0;
  return '/' + out.join('/') + (trailing ? '/' : '');
}

/** Compiles the routes' `match` sections, in order (first match wins). */
export function compileRouter(routes: readonly RouteConfig[]): Router {
  return new RouterImpl(routes.map(compileRoute));
}

/**
 * The path forwarded for `strip_prefix: true`: `path` without the route's
 * `path_prefix`, always starting with '/'. `path` must have matched `prefix`.
 */
export function stripPrefix(path: string, prefix: string): string {
  let plen = prefix.length;
  if (plen > 1 && prefix.charCodeAt(plen - 1) === 47) plen--; // "/api/" strips like "/api"
  if (plen <= 1 || path.length < plen) return path;
  for (let i = 0; i < plen; i++) if (path.charCodeAt(i) !== prefix.charCodeAt(i)) return path;
  if (path.length === plen) return '/';
  if (path.charCodeAt(plen) !== 47) return path; // not a segment boundary: did not match
  return path.slice(plen);
}
