// Plans and request views for the rate-limit tests.
import { isIP } from 'node:net';
import { validateConfig, type Plan } from '../../src/config/load.js';
import type { Identity, RequestView } from '../../src/contracts.js';

/** A plan with the given limits and one authenticated route naming `route` (default: all of them). */
export function planWith(limits: Record<string, Record<string, unknown>>, route?: string[], extra: Record<string, unknown> = {}): Plan {
  return validateConfig({
    authenticators: { keys: { type: 'api_key', from: { header: 'x-api-key' }, keys_file: 'keys.yaml' } },
    upstreams: { up: { targets: ['http://127.0.0.1:9'] } },
    rate_limits: limits,
    routes: [{ name: 'r', match: { path_prefix: '/' }, authenticate: ['keys'], upstream: 'up', rate_limit: route ?? Object.keys(limits) }],
    ...extra,
  });
}

export function ip16(ip: string): Uint8Array {
  const out = new Uint8Array(16);
  if (isIP(ip) === 4) {
    out[10] = 0xff;
    out[11] = 0xff;
    ip.split('.').forEach((p, i) => (out[12 + i] = Number(p)));
    return out;
  }
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 255;
  });
  return out;
}

export function identity(consumer: string, claims: Record<string, unknown> = {}): Identity {
  return { authenticator: 'keys', consumer, claims, scopes: new Set(), forwardHeaders: [], expiresAt: Infinity };
}

export interface TestView extends RequestView {
  setIp(ip: string): void;
  headers: Record<string, string>;
}

export function view(opts: { ip?: string; identity?: Identity | null; headers?: Record<string, string> } = {}): TestView {
  const v = {
    method: 'GET', path: '/', query: '', host: '', clientIp: '', clientIp16: new Uint8Array(16), clientIsV4: true, routeIndex: 0,
    headers: { ...(opts.headers ?? {}) } as Record<string, string>,
    header(n: string) { return this.headers[n] ?? ''; },
    queryParam: () => undefined, cookie: () => undefined,
    identity: opts.identity ?? null, reason: 0, retryAfter: 0, limitName: '',
    setIp(ip: string) {
      (this as { clientIp: string }).clientIp = ip;
      this.clientIp16.set(ip16(ip));
      (this as { clientIsV4: boolean }).clientIsV4 = isIP(ip) === 4;
    },
  };
  v.setIp(opts.ip ?? '192.0.2.1');
  return v as TestView;
}

/** A clock the test moves by hand. */
export function manualClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => { t += ms; }, set: (ms: number) => { t = ms; } };
}
