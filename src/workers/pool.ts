// The one Piscina pool of the process: slow decisions (OIDC code exchange,
// token introspection, external authn/authz callouts) run here so the event
// loop keeps serving the hot path.
//
// HTTP callouts (task "http") do not go through Piscina's per-task path: each
// worker thread opens a callout lane (tasks/http.ts#attach) and the calls
// travel batched over it (callout-lanes.ts), with the same bounds — tasks per
// thread, max_queue, the deadline. Other tasks (OIDC) run as Piscina tasks.
//
// Why no AbortSignal is handed to Piscina: aborting a *running* Piscina task
// terminates its worker thread, and with several tasks per worker that would
// kill unrelated callouts. Instead every task gets an absolute deadline it
// enforces itself (the worker's sweep frees the socket of a call past it, and
// a task that starts after it returns early), and the caller's promise is
// rejected by a timer at the deadline whatever the worker does.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { CalloutRequest } from './callout.js';
import { CalloutLanes } from './callout-lanes.js';

export interface PoolStats {
  /** Tasks waiting for a worker. */
  readonly queued: number;
  /** Tasks handed to a worker and not yet settled. */
  readonly running: number;
  /** Tasks settled (answered or failed) since start. */
  readonly completed: number;
  /** Callers whose deadline passed before the task answered. */
  readonly timeouts: number;
  /** Tasks refused because the queue was full (→ 503 overloaded). */
  readonly rejected: number;
  /** Median time from submission to answer over the last 1024 tasks, ms. */
  readonly taskMsP50: number;
}

export interface WorkerPool {
  /**
   * Runs `task` ("file" or "file#export" under workers/tasks/) with `input`.
   * The input gets a `deadline` field (epoch ms) the task must honour.
   * Rejects with PoolOverloadedError when the queue is full and with
   * PoolTimeoutError when `deadlineMs` passes first.
   */
  run<T>(task: string, input: Record<string, unknown>, deadlineMs: number): Promise<T>;
  stats(): PoolStats;
  /** True once the worker threads were started (by start() or the first task). */
  readonly started: boolean;
  /** An inert pool (`portcullis check`) starts no thread and refuses every task. */
  readonly inert: boolean;
  /**
   * Starts the threads and loads the task files now, so the first slow
   * request does not pay for thread start-up inside its deadline. Compile
   * functions of slow authenticators/authorizers call it; idempotent.
   * Resolves when every thread has loaded the callout task.
   */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface WorkerPoolOptions {
  threads: number | 'auto';
  maxQueue: number;
  /** Concurrent tasks per worker thread; callouts are I/O-bound, so many. */
  tasksPerThread?: number;
  /** For `portcullis check`: compile everything, start nothing, call nobody. */
  inert?: boolean;
}

/** The queue is full: the caller answers 503 (R.overloaded), it never waits unbounded. */
export class PoolOverloadedError extends Error {
  override readonly name = 'PoolOverloadedError';
}
/** The task's deadline passed before it answered. */
export class PoolTimeoutError extends Error {
  override readonly name = 'PoolTimeoutError';
}

const RING = 1024;

/** Task files live beside this module in dist/; under vitest (running src/) use the built ones. */
function taskDir(): URL {
  const here = new URL('./tasks/', import.meta.url);
  if (existsSync(new URL('./http.js', here))) return here;
  const built = fileURLToPath(here).replace(/([\\/])src([\\/])workers([\\/])tasks([\\/])$/, '$1dist$2workers$3tasks$4');
  if (existsSync(`${built}http.js`)) return pathToFileURL(built);
  throw new Error(`worker task files not found in ${fileURLToPath(here)} nor ${built}; run "npx tsc -p tsconfig.json" first`);
}

export function resolveThreads(threads: number | 'auto'): number {
  if (threads !== 'auto') return threads;
  // The event loops already use cores; callouts are I/O-bound and multiplexed per thread.
  return Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));
}

export function createWorkerPool(opts: WorkerPoolOptions): WorkerPool {
  const threads = resolveThreads(opts.threads);
  const tasksPerThread = opts.tasksPerThread ?? 64;
  let piscina: Piscina | null = null;
  let dir: URL | null = null;
  const files = new Map<string, { filename: string; name: string }>();
  let inWorker = 0;
  let completed = 0;
  let timeouts = 0;
  let rejected = 0;
  const ring = new Float64Array(RING);
  let ringN = 0;
  let closed = false;
  let warmed: Promise<void> = Promise.resolve();
  const record = (ms: number): void => {
    ring[ringN++ % RING] = ms;
  };
  const lanes = new CalloutLanes(tasksPerThread, opts.maxQueue, record, () => openLane(), {
    overloaded: (m) => new PoolOverloadedError(m),
    timeout: (m) => new PoolTimeoutError(m),
  });
  /** Lanes opened so far; bounded, so a thread that keeps getting a second lane cannot loop. */
  let laneOpens = 0;

  function openLane(): Promise<void> {
    const p = piscina;
    if (p === null || closed || laneOpens >= threads * 4) return Promise.resolve();
    laneOpens++;
    return p.run({}, target('http#attach')).then(
      (port: MessagePort) => {
        if (closed) port.close();
        else lanes.attach(port);
      },
      () => undefined,
    );
  }

  function start(): Piscina {
    dir = taskDir();
    const p = new Piscina({
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: tasksPerThread,
      maxQueue: opts.maxQueue,
      recordTiming: false,
      // 'sync' would block an idle worker in Atomics.wait, and its event loop would never see the callout lane's messages.
      atomics: 'async',
      closeTimeout: 10_000,
    });
    piscina = p;
    // Load the callout module on the threads and open one callout lane per thread.
    const warm: Promise<unknown>[] = [];
    for (let i = 0; i < threads; i++) warm.push(openLane());
    warmed = Promise.all(warm).then(() => undefined);
    return p;
  }

  function target(task: string): { filename: string; name: string } {
    let t = files.get(task);
    if (t === undefined) {
      const hash = task.indexOf('#');
      const file = hash === -1 ? task : task.slice(0, hash);
      if (!/^[a-z0-9-]+$/.test(file)) throw new Error(`bad worker task name "${task}"`);
      t = { filename: new URL(`./${file}.js`, dir!).href, name: hash === -1 ? 'default' : task.slice(hash + 1) };
      files.set(task, t);
    }
    return t;
  }

  const inert = opts.inert === true;
  return {
    get started() {
      return piscina !== null;
    },
    inert,
    start(): Promise<void> {
      if (piscina === null && !closed && !inert) start();
      return warmed;
    },
    run<T>(task: string, input: Record<string, unknown>, deadlineMs: number): Promise<T> {
      if (closed || inert) return Promise.reject(new PoolOverloadedError(inert ? 'the worker pool is inert (check mode)' : 'the worker pool is closed (shutting down)'));
      const p = piscina ?? start();
      const deadline = Date.now() + deadlineMs;
      input.deadline = deadline;
      if (task === 'http') return lanes.submit(input as CalloutRequest, deadlineMs) as Promise<T>;
      const t = target(task);
      const t0 = performance.now();
      return new Promise<T>((resolve, reject) => {
        let settled = false;
        const timer = setTimeout(() => {
          if (settled) return;
          settled = true;
          timeouts++;
          reject(new PoolTimeoutError(`${task} did not answer within ${deadlineMs}ms`));
        }, deadlineMs);
        inWorker++;
        p.run(input, t).then(
          (v: T) => {
            inWorker--;
            completed++;
            ring[ringN++ % RING] = performance.now() - t0;
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(v);
          },
          (e: unknown) => {
            inWorker--;
            const full = e instanceof Error && /queue is at limit|No task queue available/.test(e.message);
            if (full) rejected++;
            else completed++;
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            reject(full ? new PoolOverloadedError(`worker pool queue is full (${opts.maxQueue} waiting); raise workers.max_queue or workers.threads`) : e);
          },
        );
      });
    },
    stats(): PoolStats {
      const n = Math.min(ringN, RING);
      let p50 = 0;
      if (n > 0) {
        const s = ring.slice(0, n).sort();
        p50 = s[n >> 1]!;
      }
      const queued = piscina?.queueSize ?? 0;
      const l = lanes.counts();
      const ls = lanes.stats;
      return {
        queued: queued + l.queued,
        running: Math.max(0, inWorker - queued) + l.running,
        completed: completed + ls.completed,
        timeouts: timeouts + ls.timeouts,
        rejected: rejected + ls.rejected,
        taskMsP50: p50,
      };
    },
    async close() {
      closed = true;
      const p = piscina;
      piscina = null;
      // Graceful: running tasks and callouts end by their own deadlines; destroy() races their answers.
      await lanes.drain();
      lanes.close();
      if (p) await p.close();
    },
  };
}
