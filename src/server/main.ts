// The process: the main thread's gateway, extra event-loop threads when
// `server.threads` > 1, and reload/shutdown across all of them.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { loadConfigFile, type Plan } from '../config/load.js';
import { ConfigError } from '../config/errors.js';
import { log } from '../observe/log.js';
import { Gateway, type BoundListener } from './gateway.js';
import { makeSink, type SinkHandle } from './sink.js';
import type { SharedState } from './stages.js';

export interface Running {
  readonly plan: Plan;
  readonly listeners: readonly BoundListener[];
  readonly threads: number;
  readonly gateway: Gateway;
  readonly sink: SinkHandle;
  /** Re-reads the config file; on any problem the running plan stays. */
  reload(): Promise<{ ok: boolean; issues: string[] }>;
  stop(deadlineMs?: number): Promise<void>;
}

export function threadCount(plan: Plan): number {
  const t = plan.config.server.threads;
  return t === 'auto' ? Math.max(1, os.availableParallelism()) : t;
}

export async function startGateway(configFile: string): Promise<Running> {
  let plan = loadConfigFile(configFile);
  const threads = threadCount(plan);
  const shared: SharedState = { threadSlot: 0, threads };
  const sink = makeSink(plan, shared);
  const gateway = await Gateway.start(plan, shared, sink.sink);
  const workers: Worker[] = [];

  const message = (w: Worker, type: string): Promise<{ ok?: boolean; error?: string; listeners?: BoundListener[] }> =>
    new Promise((resolve, reject) => {
      const onMsg = (m: { type: string }) => {
        if (m.type === type || m.type === 'failed') {
          w.off('message', onMsg);
          w.off('error', onErr);
          if (m.type === 'failed') reject(new Error((m as { error?: string }).error ?? 'thread failed'));
          else resolve(m as never);
        }
      };
      const onErr = (e: Error) => { w.off('message', onMsg); reject(e); };
      w.on('message', onMsg);
      w.once('error', onErr);
    });

  if (threads > 1) {
    const threadShared = (slot: number): SharedState => ({ ...shared, threadSlot: slot, listenPorts: gateway.listeners.map((l) => l.port) });
    for (let slot = 1; slot < threads; slot++) {
      const w = new Worker(new URL('./thread-entry.js', import.meta.url), {
        workerData: { configFile, shared: threadShared(slot) },
      });
      workers.push(w);
      await message(w, 'listening');
      w.on('error', (e) => log.error('event-loop thread crashed', { slot, error: e.message }));
    }
  }
  log.info('portcullis listening', {
    listeners: gateway.listeners.map((l) => `${l.tls ? 'https' : 'http'}://${l.host}:${l.port}`),
    threads,
    routes: plan.config.routes.length,
  });

  let reloading: Promise<{ ok: boolean; issues: string[] }> | null = null;
  const doReload = async (): Promise<{ ok: boolean; issues: string[] }> => {
    let next: Plan;
    try {
      next = loadConfigFile(configFile);
      await gateway.reload(next);
    } catch (e) {
      const issues = e instanceof ConfigError ? e.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)) : [String((e as Error).message ?? e)];
      log.error('reload rejected; the running config stays', { file: configFile, problems: issues });
      return { ok: false, issues };
    }
    const results = await Promise.all(workers.map((w) => { w.postMessage({ type: 'reload' }); return message(w, 'reloaded'); }));
    const failed = results.filter((r) => !r.ok).map((r) => r.error ?? 'reload failed in a thread');
    plan = next;
    sink.reload(next);
    if (failed.length) {
      log.error('reload failed in some threads', { problems: failed });
      return { ok: false, issues: failed };
    }
    log.info('config reloaded', { file: configFile, routes: next.config.routes.length });
    return { ok: true, issues: [] };
  };

  return {
    get plan() { return plan; },
    listeners: gateway.listeners,
    threads,
    gateway,
    sink,
    reload() {
      // Coalesce concurrent reloads (SIGHUP storms): one at a time.
      reloading ??= doReload().finally(() => { reloading = null; });
      return reloading;
    },
    async stop(deadlineMs = plan.config.server.shutdown_timeout) {
      await Promise.all([
        gateway.shutdown(deadlineMs),
        ...workers.map(async (w) => {
          w.postMessage({ type: 'shutdown', deadline: deadlineMs });
          await Promise.race([message(w, 'stopped'), new Promise((r) => setTimeout(r, deadlineMs + 2000))]);
          await w.terminate();
        }),
      ]);
      sink.close();
    },
  };
}
