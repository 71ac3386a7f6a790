// Builds the stages that need other modules' compilers (authenticators, rate
// limits, external authorizers) and owns their lifecycle across a reload.
import type { CompileContext, Plan } from '../config/load.js';
import type { ExternalAuthorizer, RouteRateLimit } from '../contracts.js';
import type { AuthChainFace } from './runtime.js';

/** State that outlives one Runtime: shared across reloads and threads. */
export interface SharedState {
  /** Thread slot (0 = main) for per-thread metrics. */
  readonly threadSlot: number;
  /** Number of event-loop threads. */
  readonly threads: number;
  /** Ports bound by the main thread, so extra threads share them (port 0 in config). */
  readonly listenPorts?: readonly number[];
}

export interface Stages {
  chain(names: readonly string[], at: string): AuthChainFace | null;
  rateLimit(names: readonly string[], at: string): RouteRateLimit | null;
  authorizer(name: string, at: string): ExternalAuthorizer | null;
  ready(): Promise<void>;
  readonly collectors: (() => string)[];
  close(): Promise<void>;
}

export function buildStages(plan: Plan, ctx: CompileContext, _shared: SharedState, _upstreamIndex: ReadonlyMap<string, number>): Stages {
  const c = plan.config;
  return {
    chain(names, at) {
      ctx.issue(at, `authenticators are not available in this build (${names.join(', ')})`);
      return null;
    },
    rateLimit(_names, at) {
      ctx.issue(at, 'rate limits are not available in this build');
      return null;
    },
    authorizer(name, at) {
      if (!c.authorizers[name]) ctx.issue(at, `unknown authorizer ${name}`);
      ctx.issue(at, 'external authorizers are not available in this build');
      return null;
    },
    ready: () => Promise.resolve(),
    collectors: [],
    close: () => Promise.resolve(),
  };
}
