// Upstream groups: one connection pool per target (keep-alive, bounded
// connections), round robin across targets, passive health: a target that
// failed to connect is skipped for `unhealthy_for`, unless every target is.
// The pool is Portcullis' own HTTP/1.1 client (src/proxy/h1/) unless the
// upstream says `client: undici`; both take the same handler (the Exchange).
import { Pool } from 'undici';
import type { UpstreamConfig } from '../config/schema.js';
import type { UpstreamHandler, UpstreamRequest } from './h1/connection.js';
import { H1Pool } from './h1/pool.js';
import { undiciTlsConnector, type UpstreamTlsOptions } from './upstream-tls.js';

/** What the Exchange needs of a target's connection pool. */
export interface UpstreamPool {
  dispatch(req: UpstreamRequest, handler: UpstreamHandler): boolean;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

/** undici's Pool behind the same interface (its options object is the request). */
class UndiciPool implements UpstreamPool {
  private readonly pool: Pool;
  constructor(origin: string, cfg: UpstreamConfig, tls: UpstreamTlsOptions | null) {
    this.pool = new Pool(origin, {
      connections: cfg.connections,
      pipelining: 1,
      connect: /^https:/i.test(origin) ? undiciTlsConnector({ timeout: cfg.connect_timeout, ...tls }) : { timeout: cfg.connect_timeout },
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 60_000,
      headersTimeout: cfg.timeout,
      bodyTimeout: cfg.timeout,
      // The gateway validated and re-frames the request itself.
      strictContentLength: true,
    });
  }
  dispatch(req: UpstreamRequest, handler: UpstreamHandler): boolean {
    return this.pool.dispatch({
      path: req.path,
      method: req.method as 'GET',
      headers: req.headers as string[],
      body: req.body,
      blocking: false,
      // Retrying is the gateway's to decide (only bodiless requests, on connect errors).
      idempotent: false,
    }, handler as unknown as Parameters<Pool['dispatch']>[1]);
  }
  close(): Promise<void> { return this.pool.close(); }
  destroy(): Promise<void> { return this.pool.destroy(); }
}

export class Target {
  readonly pool: UpstreamPool;
  readonly origin: string;
  /** Host header value for this target (host[:port]). */
  readonly hostHeader: string;
  /** Path prefix of the target URL ('' when the URL has none). */
  readonly basePath: string;
  /** upstreams.*.tls for an https:// target (null otherwise): WebSocket relays dial with it too. */
  readonly tls: UpstreamTlsOptions | null;
  unhealthyUntil = 0;
  failures = 0;

  constructor(url: string, cfg: UpstreamConfig, tls: UpstreamTlsOptions | null = null) {
    const u = new URL(url);
    this.origin = u.origin;
    this.hostHeader = u.host;
    this.basePath = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
    this.tls = u.protocol === 'https:' ? tls : null;
    this.pool = cfg.client === 'undici'
      ? new UndiciPool(this.origin, cfg, u.protocol === 'https:' ? tls : null)
      : new H1Pool(this.origin, {
        tls: u.protocol === 'https:' ? tls : null,
        connections: cfg.connections,
        connectTimeout: cfg.connect_timeout,
        keepAliveTimeout: 4_000,
        headersTimeout: cfg.timeout,
        bodyTimeout: cfg.timeout,
      });
  }
}

export class UpstreamGroup {
  readonly targets: Target[];
  private next = 0;
  readonly timeout: number;
  readonly connectTimeout: number;
  readonly unhealthyFor: number;

  constructor(readonly name: string, readonly index: number, cfg: UpstreamConfig, tls: UpstreamTlsOptions | null = null) {
    this.targets = cfg.targets.map((t) => new Target(t, cfg, tls));
    this.timeout = cfg.timeout;
    this.connectTimeout = cfg.connect_timeout;
    this.unhealthyFor = cfg.unhealthy_for;
  }

  /** Next healthy target in round robin; when all are unhealthy, the next one anyway (better than failing closed on stale health). */
  pick(now: number, exclude: Target | null = null): Target {
    const t = this.targets;
    const n = t.length;
    for (let i = 0; i < n; i++) {
      const cand = t[(this.next + i) % n]!;
      if (cand.unhealthyUntil <= now && cand !== exclude) {
        this.next = (this.next + i + 1) % n;
        return cand;
      }
    }
    const cand = t[this.next % n]!;
    this.next = (this.next + 1) % n;
    return cand;
  }

  markFailed(target: Target, now: number): void {
    target.failures++;
    target.unhealthyUntil = now + this.unhealthyFor;
  }

  markOk(target: Target): void {
    if (target.failures) {
      target.failures = 0;
      target.unhealthyUntil = 0;
    }
  }

  healthy(now: number): number {
    let n = 0;
    for (const t of this.targets) if (t.unhealthyUntil <= now) n++;
    return n;
  }

  async close(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.pool.close().catch(() => t.pool.destroy())));
  }
}
