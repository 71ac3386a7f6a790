// `cluster.redis` in its three forms — a redis:// URL, Sentinel
// ({ sentinels, name }) or Redis Cluster ({ cluster: [...] }) — made into an
// ioredis client the same way for every user (rate-limit sync, session
// revocation), so a failover is handled by ioredis and never by our code.
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisTargetConfig =
  | string
  | { readonly sentinels: readonly string[]; readonly name: string; readonly db?: number }
  | { readonly cluster: readonly string[] };

export interface RedisTarget {
  readonly kind: 'url' | 'sentinel' | 'cluster';
  readonly config: RedisTargetConfig;
  /** AUTH password for the data nodes (object forms; a URL carries its own). */
  readonly password: string | undefined;
  /** For logs: where, never a password. */
  readonly where: string;
  /** Identity of the target, for sharing one connection per target in a thread. */
  readonly id: string;
}

/** Options every user sets; per-form details are added by connectRedis. */
export interface RedisClientOptions {
  readonly connectionName: string;
  readonly commandTimeout: number;
  readonly connectTimeout: number;
  readonly retryStrategy: (times: number) => number;
  readonly autoResubscribe?: boolean;
}

export type RedisClient = Redis | Cluster;

export function redisTarget(config: RedisTargetConfig, password?: string): RedisTarget {
  if (typeof config === 'string') return { kind: 'url', config, password: undefined, where: urlWhere(config), id: config };
  if ('sentinels' in config) {
    const where = `sentinel ${config.name} via ${config.sentinels.join(',')}`;
    return { kind: 'sentinel', config, password, where, id: `${where}/${config.db ?? 0}` };
  }
  const where = `cluster ${config.cluster.join(',')}`;
  return { kind: 'cluster', config, password, where, id: where };
}

/**
 * Redis Cluster runs a script or a MULTI only on keys of one hash slot: on a
 * cluster every key of ours carries the prefix as a hash tag (`{prefix}…`),
 * unless the prefix already has one. Other forms keep the prefix as written.
 */
export function keyPrefixFor(target: RedisTarget, prefix: string): string {
  if (target.kind !== 'cluster' || /\{[^}]+\}/.test(prefix)) return prefix;
  return `{${prefix}}`;
}

export function connectRedis(target: RedisTarget, o: RedisClientOptions): RedisClient {
  const common: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: o.commandTimeout,
    connectTimeout: o.connectTimeout,
    connectionName: o.connectionName,
    ...(o.autoResubscribe !== undefined ? { autoResubscribe: o.autoResubscribe } : {}),
  };
  const c = target.config;
  if (typeof c === 'string') return new Redis(c, { ...common, retryStrategy: o.retryStrategy });
  const auth = target.password !== undefined ? { password: target.password } : {};
  if ('sentinels' in c) {
    return new Redis({
      ...common, ...auth,
      sentinels: c.sentinels.map(hostPort),
      name: c.name,
      db: c.db ?? 0,
      // A failover: the sentinels name the new master; reconnect there rather than fail commands.
      retryStrategy: o.retryStrategy,
      sentinelRetryStrategy: o.retryStrategy,
      failoverDetector: true,
    });
  }
  const { enableOfflineQueue, ...node } = common;
  return new Cluster(c.cluster.map(hostPort), {
    enableOfflineQueue,
    clusterRetryStrategy: o.retryStrategy,
    redisOptions: { ...node, ...auth },
    slotsRefreshTimeout: o.connectTimeout,
  });
}

/** Every master of a cluster (a SCAN must visit each), or the client itself. */
export function scanNodes(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

function hostPort(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  return m ? { host: m[1]!, port: Number(m[2]) } : { host: s, port: 6379 };
}

function urlWhere(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}:${u.port || 6379}`; // never the password
  } catch {
    return 'redis';
  }
}
