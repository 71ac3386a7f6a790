// This thread's open WebSockets: one sweep a second closes those idle past
// their route's idle_timeout (1001) and those whose credential expired
// (close_on_expiry, 1008) — cheaper than a timer per socket for thousands of
// them. Drain and reload close sockets (1001) through here as well.
import { WebSocketMetrics } from '../observe/websocket-metrics.js';
import { clockNow } from '../lib/clock.js';
import { CLOSE_GOING_AWAY, CLOSE_POLICY, Relay, type RelayOwner } from './relay.js';
import type { WebSocketRoute } from './route.js';

const SWEEP_MS = 1000;

export class WebSocketHub implements RelayOwner {
  private readonly open = new Set<Relay>();
  readonly metrics = new WebSocketMetrics();
  private timer: NodeJS.Timeout | null = null;

  /** A relay for one upgrade request (not yet counted: it is when the client socket opens). */
  relay(route: WebSocketRoute, routeName: string, expiresAt: number, generation: object): Relay {
    return new Relay(this, route, this.metrics.route(routeName), route.closeOnExpiry ? expiresAt : Infinity, generation);
  }

  get size(): number {
    return this.open.size;
  }

  opened(r: Relay): void {
    this.open.add(r);
    r.stats.open++;
    if (this.timer === null) {
      this.timer = setInterval(this.sweep, SWEEP_MS);
      this.timer.unref();
    }
  }

  closed(r: Relay): void {
    this.open.delete(r);
    if (this.open.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Closes every socket (or those opened on `generation`) with 1001; returns how many. */
  closeAll(reason: string, generation?: object): number {
    let n = 0;
    for (const r of [...this.open]) {
      if (generation !== undefined && r.generation !== generation) continue;
      r.close(CLOSE_GOING_AWAY, reason);
      n++;
    }
    return n;
  }

  private readonly sweep = (): void => {
    const now = clockNow();
    for (const r of this.open) {
      if (now >= r.expiresAt) r.close(CLOSE_POLICY, 'credentials expired');
      else if (now - r.lastActivity > r.route.idleMs) r.close(CLOSE_GOING_AWAY, 'idle timeout');
    }
  };

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
