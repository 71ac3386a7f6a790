// CORS at the edge (routes[].cors), compiled once per route. A preflight
// (OPTIONS with Origin and Access-Control-Request-Method) is answered by the
// gateway before authentication — a browser sends it without credentials —
// and never reaches the upstream. Actual requests from an allowed origin get
// Access-Control-Allow-Origin (the origin echoed, never `*` with
// credentials), -Allow-Credentials and -Expose-Headers on every answer, the
// gateway's own 401/403/429 included, so the page can read why. CORS never
// bypasses authentication: it only decides which headers an answer carries.
import type { CompileContext } from '../config/load.js';
import type { CorsConfig } from '../config/schema.js';

/**
 * A request on a CORS route whose Origin is absent or not allowed: no CORS
 * headers (and none from the upstream), but Vary: Origin, so a shared cache
 * never serves this answer to an allowed origin.
 */
export const NO_CORS: readonly string[] = Object.freeze(['vary', 'Origin']);
/** Origins longer than this are never cached (an attacker's distinct origins must not fill memory). */
const MAX_CACHED_ORIGIN = 256;

const DEFAULT_METHODS = ['GET', 'HEAD', 'POST'];
/** Bounded: `https://*.example.com` admits unboundedly many origins. */
const MAX_CACHED_ORIGINS = 4096;

interface WildcardOrigin {
  readonly scheme: string; // "https://"
  readonly suffix: string; // ".example.com" (+ ":port" when given)
}

export interface CorsPolicy {
  /** The flat header list for an answer to `origin`, or null when the origin is not allowed. No allocation for a seen origin. */
  actualHeaders(origin: string): readonly string[] | null;
  /** The preflight answer's headers, or null to refuse (origin, method or a requested header not allowed). */
  preflight(origin: string, method: string, requestHeaders: string): readonly string[] | null;
}

/** Parses `https://host[:port]` or `https://*.domain[:port]`; reports bad ones. */
function compileOrigins(list: readonly string[], at: string, credentials: boolean, ctx: CompileContext) {
  const exact = new Set<string>();
  const wild: WildcardOrigin[] = [];
  let any = false;
  list.forEach((o, i) => {
    const p = `${at}.allow_origins[${i}]`;
    if (o === '*') {
      if (credentials) ctx.issue(p, '"*" cannot be used with allow_credentials: true (browsers refuse it); list the origins');
      any = true;
      return;
    }
    const m = /^(https?:\/\/)(\*\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*)(:\d{1,5})?$/.exec(o);
    if (m === null) {
      ctx.issue(p, `"${o}" is not an origin; write scheme://host[:port] (e.g. https://app.example.com) or https://*.example.com, lower-case, no path`);
      return;
    }
    if (m[2] !== undefined) wild.push({ scheme: m[1]!, suffix: `.${m[3]}${m[4] ?? ''}` });
    else exact.add(o);
  });
  return { exact, wild, any };
}

/** `${at}.allow_origins` (the same forms as cors.allow_origins) as a test, for routes[].websocket. */
export function compileOriginTest(list: readonly string[], at: string, ctx: CompileContext): (origin: string) => boolean {
  const { exact, wild, any } = compileOrigins(list, at, false, ctx);
  return (origin) => {
    if (any || exact.has(origin)) return true;
    for (const w of wild) {
      if (origin.length > w.scheme.length + w.suffix.length && origin.startsWith(w.scheme) && origin.endsWith(w.suffix) &&
        isLabel(origin, w.scheme.length, origin.length - w.suffix.length)) return true;
    }
    return false;
  };
}

/** origin[from, to) is one DNS label (a-z, 0-9, inner hyphens), checked in place. */
function isLabel(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
    if (!alnum && !(c === 45 && i !== from && i !== to - 1)) return false;
  }
  return true;
}

export function compileCors(cfg: CorsConfig, at: string, ctx: CompileContext): CorsPolicy {
  const { exact, wild, any } = compileOrigins(cfg.allow_origins, at, cfg.allow_credentials, ctx);
  const methods = new Set(cfg.allow_methods ?? DEFAULT_METHODS);
  const allowHeaders = new Set((cfg.allow_headers ?? []).map((h) => h.toLowerCase()));
  const methodsValue = [...methods].join(', ');
  const headersValue = [...allowHeaders].join(', ');
  const expose = (cfg.expose_headers ?? []).map((h) => h.toLowerCase()).join(', ');
  const maxAge = cfg.max_age !== undefined ? String(Math.floor(cfg.max_age / 1000)) : '';

  /** 0: not allowed; 1: listed (echo it); 2: only through "*" (answer "*"). */
  const allowed = (origin: string): number => {
    if (exact.has(origin)) return 1;
    for (const w of wild) {
      // One label exactly: scheme and port must match, `https://example.com.evil.test` never does.
      if (origin.length > w.scheme.length + w.suffix.length && origin.startsWith(w.scheme) && origin.endsWith(w.suffix)) {
        const label = origin.slice(w.scheme.length, origin.length - w.suffix.length);
        if (/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(label)) return 1;
      }
    }
    return any ? 2 : 0;
  };

  const base = (origin: string, how: number): string[] => {
    const h = how === 2 ? ['access-control-allow-origin', '*'] : ['access-control-allow-origin', origin, 'vary', 'Origin'];
    if (cfg.allow_credentials) h.push('access-control-allow-credentials', 'true');
    return h;
  };

  const actual = new Map<string, readonly string[] | null>();
  const pre = new Map<string, readonly string[] | null>();
  /** Only allowed origins are cached (refusals are recomputed: cheap, and unbounded in kind). */
  const remember = <T>(m: Map<string, T>, k: string, v: T): T => {
    if (v === null || k.length > MAX_CACHED_ORIGIN) return v;
    if (m.size >= MAX_CACHED_ORIGINS) m.clear();
    m.set(k, v);
    return v;
  };

  return {
    actualHeaders(origin) {
      const hit = actual.get(origin);
      if (hit !== undefined) return hit;
      const how = allowed(origin);
      if (how === 0) return remember(actual, origin, null);
      const h = base(origin, how);
      if (expose !== '') h.push('access-control-expose-headers', expose);
      return remember(actual, origin, Object.freeze(h));
    },
    preflight(origin, method, requestHeaders) {
      if (!methods.has(method)) return null;
      if (requestHeaders !== '') {
        for (const raw of requestHeaders.split(',')) {
          const n = raw.trim().toLowerCase();
          if (n !== '' && !allowHeaders.has(n)) return null;
        }
      }
      let h = pre.get(origin);
      if (h === undefined) {
        const how = allowed(origin);
        if (how === 0) h = null;
        else {
          const l = base(origin, how);
          l.push('access-control-allow-methods', methodsValue);
          if (headersValue !== '') l.push('access-control-allow-headers', headersValue);
          if (maxAge !== '') l.push('access-control-max-age', maxAge);
          h = Object.freeze(l);
        }
        remember(pre, origin, h);
      }
      return h;
    },
  };
}
