// The main thread's side of the callout lanes: every HTTP callout goes to a
// worker thread over a lane (a MessagePort opened by tasks/http.ts#attach),
// calls made in one turn of the event loop leave as one message per lane,
// and answers come back batched. What Piscina would do per task is done here
// for all of them at once: at most `perLane` calls in flight per lane, a
// bounded FIFO beyond that (full: overloaded), and one deadline timer per
// distinct timeout (deadline-queue.ts) instead of one per call.
import type { MessagePort } from 'node:worker_threads';
import type { CalloutAnswer, CalloutRequest } from './callout.js';
import { DeadlineQueue, type Expiring } from './deadline-queue.js';
import { decodeAnswers, encodeCall, encodeCalls } from './lane-wire.js';

const DEFAULT_MAX_BODY = 1024 * 1024;

export interface LaneErrors {
  overloaded(msg: string): Error;
  timeout(msg: string): Error;
}

class Pending implements Expiring {
  settled = false;
  lane: Lane | null = null;
  constructor(
    readonly id: number,
    readonly req: CalloutRequest,
    readonly expiresAt: number,
    private readonly timeoutMs: number,
    readonly resolve: (a: CalloutAnswer) => void,
    readonly reject: (e: Error) => void,
    private readonly onTimeout: () => void,
    private readonly errors: LaneErrors,
  ) {}
  expire(): void {
    this.settled = true;
    this.onTimeout();
    this.reject(this.errors.timeout(`http did not answer within ${this.timeoutMs}ms`));
  }
}

class Lane {
  inflight = 0;
  out: unknown[] = [];
  /** The worker thread's id, from its first message. */
  thread = -1;
  constructor(readonly port: MessagePort) {}
}

export interface LaneStats {
  queued: number;
  running: number;
  completed: number;
  timeouts: number;
  rejected: number;
}

export class CalloutLanes {
  private readonly lanes: Lane[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly queue: (Pending | undefined)[] = [];
  private qHead = 0;
  /** Queued entries not yet settled (expired ones stay in `queue` until they reach its head). */
  private queuedLive = 0;
  private nextId = 1;
  private readonly deadlines = new DeadlineQueue();
  private flushArmed = false;
  private readonly toFlush = new Set<Lane>();
  private drained: (() => void) | null = null;
  readonly stats: LaneStats = { queued: 0, running: 0, completed: 0, timeouts: 0, rejected: 0 };

  /**
   * @param perLane calls in flight per lane (concurrent tasks per worker)
   * @param maxQueue calls waiting for a free lane slot before new ones are refused
   * @param onSettled time from submission to answer, ms (the pool's p50 ring)
   * @param onLaneLost a lane's worker went away, or a second lane reached one worker: the pool opens a new one
   */
  constructor(
    private readonly perLane: number,
    private readonly maxQueue: number,
    private readonly onSettled: (ms: number) => void,
    private readonly onLaneLost: () => void,
    private readonly errors: LaneErrors,
  ) {}

  get laneCount(): number {
    return this.lanes.length;
  }

  attach(port: MessagePort): void {
    const lane = new Lane(port);
    this.lanes.push(lane);
    port.on('message', (msg: string | number) => {
      if (typeof msg === 'string') this.answers(lane, msg);
      else this.hello(lane, msg);
    });
    port.once('close', () => this.lost(lane));
    // The lane never keeps the process alive: pending calls do, through their deadline timers.
    port.unref();
    this.dispatch();
  }

  /** Rejects with LaneOverloaded when the queue is full, LaneTimeout at the deadline. */
  submit(req: CalloutRequest, timeoutMs: number): Promise<CalloutAnswer> {
    return new Promise<CalloutAnswer>((resolve, reject) => {
      const lane = this.freeLane();
      if (lane === null && this.queuedLive >= this.maxQueue) {
        this.stats.rejected++;
        reject(this.errors.overloaded(`worker pool queue is full (${this.maxQueue} waiting); raise workers.max_queue or workers.threads`));
        return;
      }
      const t0 = performance.now();
      const p: Pending = new Pending(this.nextId++, req, t0 + timeoutMs, timeoutMs, (a) => { this.onSettled(performance.now() - t0); resolve(a); }, reject, () => {
        this.stats.timeouts++;
        if (p.lane === null) this.queuedLive--; // still queued: no longer waiting
        this.checkDrained();
      }, this.errors);
      this.deadlines.add(p, timeoutMs);
      if (lane !== null) this.send(lane, p);
      else {
        this.queue.push(p);
        this.queuedLive++;
      }
    });
  }

  private freeLane(): Lane | null {
    let best: Lane | null = null;
    for (const l of this.lanes) if (l.inflight < this.perLane && (best === null || l.inflight < best.inflight)) best = l;
    return best;
  }

  private send(lane: Lane, p: Pending): void {
    lane.inflight++;
    p.lane = lane;
    this.pending.set(p.id, p);
    const r = p.req;
    encodeCall(lane.out, p.id, { url: r.url, method: r.method, headers: r.headers, body: r.body, maxBody: r.maxBody ?? DEFAULT_MAX_BODY, deadline: r.deadline! });
    this.toFlush.add(lane);
    if (!this.flushArmed) {
      this.flushArmed = true;
      // Calls made in this turn of the event loop (many requests' callouts) leave in one message per lane.
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushArmed = false;
    for (const lane of this.toFlush) {
      const batch = lane.out;
      lane.out = [];
      if (batch.length > 0) lane.port.postMessage(encodeCalls(batch));
    }
    this.toFlush.clear();
  };

  private answers(lane: Lane, msg: string): void {
    decodeAnswers(msg, (id, a) => {
      const p = this.pending.get(id);
      if (p === undefined) return;
      this.pending.delete(id);
      lane.inflight--;
      this.stats.completed++;
      if (p.settled) return;
      p.settled = true;
      p.resolve(a);
    });
    this.dispatch();
    this.checkDrained();
  }

  /** Queued calls to lanes with free slots, oldest first; expired ones are dropped. */
  private dispatch(): void {
    while (this.qHead < this.queue.length) {
      const p = this.queue[this.qHead]!;
      if (p.settled) {
        this.queue[this.qHead++] = undefined;
        continue;
      }
      const lane = this.freeLane();
      if (lane === null) break;
      this.queue[this.qHead++] = undefined;
      this.queuedLive--;
      this.send(lane, p);
    }
    if (this.qHead === this.queue.length) {
      this.queue.length = 0;
      this.qHead = 0;
    }
  }

  /**
   * A lane's first message names its worker thread. Piscina may hand two
   * attach tasks to one thread; the second lane there is closed (its calls
   * still answer) so that the pool opens one on another thread.
   */
  private hello(lane: Lane, thread: number): void {
    lane.thread = thread;
    if (this.lanes.some((l) => l !== lane && l.thread === thread) && lane.inflight === 0) {
      this.lanes.splice(this.lanes.indexOf(lane), 1);
      lane.port.close();
      this.onLaneLost();
    }
  }

  /** The lane's worker is gone: its calls fail (as a network error), and the pool opens another. */
  private lost(lane: Lane): void {
    const i = this.lanes.indexOf(lane);
    if (i < 0) return;
    this.lanes.splice(i, 1);
    for (const [id, p] of this.pending) {
      if (p.lane !== lane) continue;
      this.pending.delete(id);
      this.stats.completed++;
      if (!p.settled) {
        p.settled = true;
        p.reject(new Error('the worker thread running the callout exited'));
      }
    }
    this.checkDrained();
    this.onLaneLost();
  }

  counts(): { queued: number; running: number } {
    let running = 0;
    for (const l of this.lanes) running += l.inflight;
    return { queued: this.queuedLive, running };
  }

  /** Resolves once no call is in flight or queued unsettled (each ends by its deadline). */
  drain(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((r) => (this.drained = r));
  }

  private idle(): boolean {
    for (const p of this.pending.values()) if (!p.settled) return false;
    for (let i = this.qHead; i < this.queue.length; i++) if (!this.queue[i]!.settled) return false;
    return true;
  }

  private checkDrained(): void {
    if (this.drained !== null && this.idle()) {
      const d = this.drained;
      this.drained = null;
      d();
    }
  }

  close(): void {
    this.deadlines.close();
    for (const l of this.lanes) l.port.close();
    this.lanes.length = 0;
  }
}
