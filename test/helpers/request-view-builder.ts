// A RequestView built by a test, as the pipeline would hand it to a stage.
import type { Identity, RequestView } from '../../src/contracts.js';

export interface ViewInit {
  method?: string;
  path?: string;
  query?: string;
  host?: string;
  clientIp?: string;
  routeIndex?: number;
  headers?: Record<string, string>;
  cookies?: Record<string, string>;
  identity?: Identity | null;
}

export function makeView(init: ViewInit = {}): RequestView {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(init.headers ?? {})) headers[k.toLowerCase()] = v;
  const cookies: Record<string, string> = { ...(init.cookies ?? {}) };
  if (headers.cookie) {
    for (const part of headers.cookie.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0) {
        const name = part.slice(0, eq).trim();
        if (!(name in cookies)) cookies[name] = part.slice(eq + 1).trim();
      }
    }
  }
  const query = init.query ?? '';
  const params = new URLSearchParams(query);
  const ip = init.clientIp ?? '127.0.0.1';
  return {
    method: init.method ?? 'GET',
    path: init.path ?? '/',
    query,
    host: (init.host ?? headers.host ?? '').replace(/:\d+$/, '').toLowerCase(),
    clientIp: ip,
    clientIp16: new Uint8Array(16),
    clientIsV4: !ip.includes(':'),
    routeIndex: init.routeIndex ?? 0,
    header: (n: string) => headers[n] ?? '',
    queryParam: (n: string) => params.get(n) ?? undefined,
    cookie: (n: string) => cookies[n],
    identity: init.identity ?? null,
    reason: 0,
    retryAfter: 0,
    limitName: '',
  };
}
