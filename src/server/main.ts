// The process: the main thread's gateway, extra event-loop threads when
// `server.threads` > 1, and reload/shutdown across all of them.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Plan } from '../config/load.js';
import { checkConfigFile } from './check.js';
import { ConfigError, formatIssue } from '../config/errors.js';
import { log } from '../observe/log.js';
import { assertPortFree, Gateway, type BoundListener } from './gateway.js';
import { makeSink, type SinkHandle } from './sink.js';
import { adoptRateLimitStore, closeThreadResources, type SharedState } from './stages.js';
import { createRateLimitStore } from '../ratelimit/store/index.js';
import { revocationBuffer } from '../auth/oidc/revocation.js';
// Type only: admin.ts imports uWS statically, and uWS reads
// UWS_HTTP_MAX_HEADERS_SIZE once when it first loads. A static import here loaded
// it before loadUws() (Gateway.start) could set server.limits.max_header_bytes,
// so every listener ran on uWS's 4 KiB default (431 for a 5 KiB header).
import type { AdminServer } from '../observe/admin.js';
import { createLive, type Live } from '../observe/live.js';
import { createGatewayInfo } from '../observe/metrics.js';
import { upstreamHealthFamilies } from './component-figures.js';
import { notifyReady, notifyReloading, notifyStopping } from '../observe/sd-notify.js';
import { resolveSecret } from '../config/secrets.js';

export interface Running {
  readonly plan: Plan;
  readonly listeners: readonly BoundListener[];
  readonly threads: number;
  readonly gateway: Gateway;
  readonly sink: SinkHandle;
  /** Bound admin port, when `admin` is configured. */
  readonly adminPort: number | null;
  /** Re-reads the config file; on any problem the running plan stays. */
  reload(): Promise<{ ok: boolean; issues: string[] }>;
  stop(deadlineMs?: number): Promise<void>;
  /** Reopens the access log in every thread (SIGUSR1). */
  reopenLogs(): void;
}

export function threadCount(plan: Plan): number {
  const t = plan.config.server.threads;
  return t === 'auto' ? Math.max(1, os.availableParallelism()) : t;
}

export async function startGateway(configFile: string): Promise<Running> {
  // Everything `check` refuses, refused here the same way, in one pass.
  let plan = await checkConfigFile(configFile);
  const threads = threadCount(plan);
  // Extra threads join the main thread's port through SO_REUSEPORT, which Linux
  // refuses for a port the kernel chose (port 0): the second bind failed with a
  // misleading "address in use". Say what is wrong instead.
  if (threads > 1) {
    const zero = plan.config.server.listen.flatMap((l, i) => (l.port === 0 ? [i] : []));
    if (zero.length) {
      throw new ConfigError(configFile, zero.map((i) => ({
        path: `server.listen[${i}].port`,
        message: `port 0 (any free port) cannot be shared by ${threads} event-loop threads; give a fixed port, or set server.threads: 1`,
      })));
    }
  }
  // Several threads share one rate-limit table (Atomics), made before they start.
  const capacity = plan.config.server.rate_limit_capacity;
  const store = threads > 1 ? createRateLimitStore({ capacity }) : null;
  // Likewise one table of revoked OIDC sessions, so a logout on any thread ends the session on all.
  let shared: SharedState = { threadSlot: 0, threads, rateLimitCapacity: capacity, rateLimitBuffer: store?.buffer, ...(threads > 1 ? { revocationBuffer: revocationBuffer() } : {}) };
  if (store) adoptRateLimitStore(store);
  const sink = makeSink(plan, shared);
  shared = { ...shared, metricsBuffer: sink.metrics.buffer };
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
  let live: Live | null = null;
  const makeLive = (): Live => createLive({
    metrics: sink.metrics,
    openWebSockets: () => gateway.pipeline.websockets.size,
    upstreamHealth: () => gateway.current.upstreams.map((u) => {
      const up = u.healthy(Date.now());
      return { name: u.name, healthy: up > 0, detail: `${up}/${u.targets.length} targets up` };
    }),
  });
  let admin: AdminServer | null = null;
  const info = createGatewayInfo();
  const running = { reload: async () => ({ ok: false, issues: ['not started'] as string[] }) };
  if (plan.config.admin) {
    const a = plan.config.admin;
    const issues: { path: string; message: string }[] = [];
    const token = resolveSecret(a as unknown as Record<string, unknown>, 'token', 'admin', plan.baseDir, issues, false);
    if (issues.length) throw new ConfigError(configFile, issues);
    live = makeLive();
    try {
      const { startAdmin } = await import('../observe/admin.js'); // after loadUws(): see the import above
      admin = await startAdmin({
        host: a.listen.host,
        port: a.listen.port,
        token,
        metrics: () => sink.metrics.renderPrometheus([
          info.collector, () => upstreamHealthFamilies(gateway.current.upstreams), ...gateway.current.collectors,
          gateway.pipeline.websockets.metrics.collector,
        ]),
        config: () => plan.config,
        reload: () => running.reload(),
        ready: () => {
          const checks: Record<string, boolean> = { plan_loaded: true, listening: gateway.listeners.length > 0, not_draining: !gateway.pipeline.draining, ...gateway.current.readiness() };
          return { ok: Object.values(checks).every(Boolean), checks };
        },
        live: () => live!.snapshot(),
        jwks: () => gateway.current.assertion?.jwksJson ?? null,
      });
    } catch (e) {
      await gateway.shutdown(0);
      throw new Error(`admin.listen ${a.listen.host}:${a.listen.port}: ${(e as Error).message}`);
    }
  }
  log.info('portcullis listening', {
    listeners: gateway.listeners.map((l) => `${l.tls ? 'https' : 'http'}://${l.host}:${l.port}`),
    threads,
    routes: plan.config.routes.length,
    admin: admin ? `http://${plan.config.admin!.listen.host}:${admin.port}` : null,
  });
  if (plan.config.server.listen.some((l) => l.proxy_protocol) && plan.config.server.trusted_proxies.length === 0) {
    log.warn('proxy_protocol is on and trusted_proxies is empty: any client that reaches this port can choose its source address (ip rules, per-IP limits)', {
      fix: 'list the load balancers in server.trusted_proxies, or make the port reachable only from them',
    });
  }
  void notifyReady();

  let reloading: Promise<{ ok: boolean; issues: string[] }> | null = null;
  const doReload = async (): Promise<{ ok: boolean; issues: string[] }> => {
    let next: Plan;
    void notifyReloading();
    try {
      next = await checkConfigFile(configFile);
      await gateway.reload(next);
    } catch (e) {
      const issues = e instanceof ConfigError ? e.issues.map((i) => formatIssue(i, configFile)) : [String((e as Error).message ?? e)];
      log.error('reload rejected; the running config stays', { file: configFile, problems: issues });
      info.reloaded(false);
      void notifyReady();
      return { ok: false, issues };
    }
    const newMetrics = sink.reload(next);
    if (newMetrics && live) { live.close(); live = makeLive(); }
    const results = await Promise.all(workers.map((w) => { w.postMessage({ type: 'reload', metricsBuffer: sink.metrics.buffer }); return message(w, 'reloaded'); }));
    void notifyReady();
    const failed = results.filter((r) => !r.ok).map((r) => r.error ?? 'reload failed in a thread');
    plan = next;
    if (failed.length) {
      log.error('reload failed in some threads', { problems: failed });
      info.reloaded(false);
      return { ok: false, issues: failed };
    }
    log.info('config reloaded', { file: configFile, routes: next.config.routes.length });
    info.reloaded(true);
    return { ok: true, issues: [] };
  };

  const reload = () => {
    // Coalesce concurrent reloads (SIGHUP storms): one at a time.
    reloading ??= doReload().finally(() => { reloading = null; });
    return reloading;
  };
  running.reload = reload;

  return {
    get plan() { return plan; },
    adminPort: admin ? admin.port : null,
    listeners: gateway.listeners,
    threads,
    gateway,
    sink,
    reload,
    reopenLogs() {
      sink.reopen();
      for (const w of workers) w.postMessage({ type: 'reopen' });
    },
    async stop(deadlineMs = plan.config.server.shutdown_timeout) {
      void notifyStopping();
      // The admin listener stays up while in-flight requests drain, so /readyz
      // answers 503 (not_draining: false) and a load balancer takes this node out.
      gateway.pipeline.draining = true;
      await Promise.all([
        gateway.shutdown(deadlineMs),
        ...workers.map(async (w) => {
          w.postMessage({ type: 'shutdown', deadline: deadlineMs });
          await Promise.race([message(w, 'stopped'), new Promise((r) => setTimeout(r, deadlineMs + 2000))]);
          await w.terminate();
        }),
      ]);
      admin?.close();
      live?.close();
      await closeThreadResources();
      await sink.close();
    },
  };
}
