// Test helpers for authenticators: a small RequestView, configs validated by
// the real schema, and JWS signing with node:crypto (keys made at test time).
import { constants, createHmac, sign, type KeyObject } from 'node:crypto';
import type { Identity, RequestView } from '../../src/contracts.js';
import { makeCompileContext, validateConfig, type CompileContext } from '../../src/config/load.js';
import type { ConfigIssue } from '../../src/config/errors.js';

export interface ViewInit {
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly cookies?: Record<string, string>;
}

/** A RequestView over plain maps; it is never reused, so it is its own detached copy. */
export class TestView implements RequestView {
  method = 'GET';
  path = '/';
  query = '';
  host = 'gw.test';
  clientIp = '127.0.0.1';
  clientIp16 = new Uint8Array(16);
  clientIsV4 = true;
  routeIndex = 0;
  identity: Identity | null = null;
  reason = 0;
  retryAfter = 0;
  limitName = '';
  private readonly h: Map<string, string>;
  constructor(private readonly init: ViewInit = {}) {
    this.h = new Map(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  }
  header(lowerName: string): string {
    return this.h.get(lowerName) ?? '';
  }
  queryParam(name: string): string | undefined {
    return this.init.query?.[name];
  }
  cookie(name: string): string | undefined {
    return this.init.cookies?.[name];
  }
  detachView(): RequestView {
    return this;
  }
}

export const bearer = (token: string) => new TestView({ headers: { authorization: `Bearer ${token}` } });

/** A compile context for one authenticator, through the real schema (defaults, durations). */
export function contextFor(authenticators: Record<string, unknown>, extra: Record<string, unknown> = {}): {
  ctx: CompileContext; issues: ConfigIssue[]; config: ReturnType<typeof validateConfig>['config'];
} {
  const names = Object.keys(authenticators);
  const plan = validateConfig({
    upstreams: { u: { targets: ['http://127.0.0.1:9'] } },
    authenticators,
    routes: [{ name: 'r', match: { path_prefix: '/' }, authenticate: names, upstream: 'u' }],
    ...extra,
  });
  const issues: ConfigIssue[] = [];
  return { ctx: makeCompileContext(plan, issues), issues, config: plan.config };
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A compact JWS signed with `key` as `alg` says (no checks: tests forge on purpose). */
export function signJws(header: Record<string, unknown>, payload: Record<string, unknown> | string, key: KeyObject | Buffer | null, alg = String(header['alg'])): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${signature(input, key, alg).toString('base64url')}`;
}

export function signature(input: string, key: KeyObject | Buffer | null, alg: string): Buffer {
  const data = Buffer.from(input);
  const hash = `sha${alg.slice(2)}`;
  if (key === null) return Buffer.alloc(0);
  if (alg.startsWith('HS')) return createHmac(hash, key).update(data).digest();
  if (alg.startsWith('RS')) return sign(hash, data, key as KeyObject);
  if (alg.startsWith('PS')) return sign(hash, data, { key: key as KeyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  if (alg.startsWith('ES')) return sign(hash, data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
  if (alg === 'EdDSA') return sign(null, data, key as KeyObject);
  throw new Error(`test helper cannot sign ${alg}`);
}

export const nowSec = () => Math.floor(Date.now() / 1000);

/** A clock tests move by hand. */
export class Clock {
  constructor(public t = Date.now()) {}
  readonly now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}
