// Upstream groups: one undici Pool per target (keep-alive, bounded
// connections), round robin across targets, passive health: a target that
// failed to connect is skipped for `unhealthy_for`, unless every target is.
import { Pool } from 'undici';
import type { UpstreamConfig } from '../config/schema.js';

export class Target {
  readonly pool: Pool;
  readonly origin: string;
  /** Host header value for this target (host[:port]). */
  readonly hostHeader: string;
  /** Path prefix of the target URL ('' when the URL has none). */
  readonly basePath: string;
  unhealthyUntil = 0;
  failures = 0;

  constructor(url: string, cfg: UpstreamConfig) {
    const u = new URL(url);
    this.origin = u.origin;
    this.hostHeader = u.host;
    this.basePath = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
    this.pool = new Pool(this.origin, {
      connections: cfg.connections,
      pipelining: 1,
      connect: { timeout: cfg.connect_timeout },
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 60_000,
      headersTimeout: cfg.timeout,
      bodyTimeout: cfg.timeout,
      // The gateway validated and re-frames the request itself.
      strictContentLength: true,
    });
  }
}

export class UpstreamGroup {
  readonly targets: Target[];
  private next = 0;
  readonly timeout: number;
  readonly unhealthyFor: number;

  constructor(readonly name: string, readonly index: number, cfg: UpstreamConfig) {
    this.targets = cfg.targets.map((t) => new Target(t, cfg));
    this.timeout = cfg.timeout;
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
