// `scope: cluster` limits: several gateways share one bucket per key through
// Redis, without the hot path ever waiting for it.
//
// Each gateway keeps deciding from its local bucket (store/). A take
// on a cluster limit also counts the token in the slot's `pending` word and,
// on the first one since the last sync, records the slot in the store's dirty
// ring. Every `cluster.sync_interval` one syncer per store (ownership is a
// CAS word in the buffer, so starting it in every thread is harmless):
//   1. drains the dirty ring into its set of active keys,
//   2. takes each active key's pending consumption,
//   3. runs ONE Lua script (EVALSHA) that, per key, refills the Redis bucket
//      (Redis' own clock, so gateway clocks need not agree), subtracts what
//      this gateway consumed and returns the tokens left cluster-wide,
//   4. sets each local bucket to that value minus what was consumed locally
//      while the script ran. Local buckets then refill at the full rate
//      until the next sync.
// Keys stay active (pulled even without local use) until their bucket would
// have refilled (2 × burst/rate, at least 5 intervals), so a gateway that
// sees a key again soon starts from the cluster's level.
//
// Overshoot bound. Between two syncs each of G gateways can admit what its
// local bucket holds: the cluster level at the last sync plus rate ×
// sync_interval of refill. Under sustained load the cluster admits at most
// about rate × sync_interval × G more than the limit per interval, and the
// excess is paid back as debt (the Redis bucket may go down to −burst), so
// over a longer window admitted ≤ rate × T + burst + G × rate × sync_interval.
// A synchronised first burst on a key unseen by every gateway can reach
// G × burst once (each gateway starts that key full).
//
// Redis unreachable (`failure_mode: local`): every gateway keeps enforcing
// its local buckets (each then admits up to the full limit: G × rate
// cluster-wide), logs once, ioredis reconnects with exponential backoff, and
// recovery is logged once. Consumption during the outage is not replayed, so
// nobody is locked out by a debt built while Redis was away.
//
// Redis: a URL, Sentinel or Cluster (src/lib/redis-target.ts). On a Cluster
// every key carries the prefix as a hash tag, so the one script's keys share
// a slot (one node holds every bucket: the sync is not sharded). Keys longer than the store's keyBytes are
// kept as a per-store keyed digest, so such keys are not shared between
// gateways (each gateway limits them locally) — keep cluster keys short.
import { randomInt } from 'node:crypto';
import type { Plan } from '../config/load.js';
import { resolveSecret } from '../config/secrets.js';
import { connectRedis, keyPrefixFor, redisTarget, type RedisClient } from '../lib/redis-target.js';
import { log } from '../observe/log.js';
import { KIND_BOOL, KIND_DIGEST, KIND_FIXED, KIND_IP4, KIND_IP6, KIND_NUM, KIND_STR, type RateLimitStore } from './store/index.js';
import type { LimitInfo, RateLimitRegistry } from './compile.js';

const SYNC_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local L = tonumber(ARGV[1])
local base = 1 + 3 * L
local out = {}
for i = 1, #KEYS do
  local j = tonumber(ARGV[base + 2 * i - 1])
  local n = tonumber(ARGV[base + 2 * i])
  local rpm = tonumber(ARGV[2 + 3 * j])
  local cap = tonumber(ARGV[3 + 3 * j])
  local ttl = tonumber(ARGV[4 + 3 * j])
  local v = redis.call('HMGET', KEYS[i], 'tk', 'ts')
  local tk = tonumber(v[1])
  local ts = tonumber(v[2])
  if tk == nil or ts == nil then tk = cap; ts = now end
  if now > ts then
    tk = tk + (now - ts) * rpm
    if tk > cap then tk = cap end
    ts = now
  end
  if n > 0 then
    tk = tk - n
    if tk < -cap then tk = -cap end
    redis.call('HSET', KEYS[i], 'tk', tostring(tk), 'ts', tostring(ts))
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  out[i] = tostring(tk)
end
return out
`;

/** Most keys pushed in one round; the rest wait for the next. */
const MAX_BATCH = 10_000;

type SyncRedis = RedisClient & {
  portcullisSync(numKeys: number, ...args: (string | number)[]): Promise<string[]>;
};

interface Tracked {
  readonly slot: number;
  readonly gen: number;
  readonly limit: LimitInfo;
  readonly key: string;
  carry: number;
  lastActive: number;
}

export interface ClusterSyncHandle {
  stop(): Promise<void>;
  /** Last round reached Redis. */
  readonly connected: boolean;
  /** Rounds that completed against Redis. */
  readonly rounds: number;
  /** This handle runs the sync for its store (one per store). */
  readonly owner: boolean;
}

export interface ClusterSyncOptions {
  /** Override the interval (ms) from cluster.sync_interval. */
  intervalMs?: number;
}

const NOOP: ClusterSyncHandle = { stop: async () => {}, connected: true, rounds: 0, owner: false };

function hex8(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0');
}

/** The Redis key of a bucket: prefix + limit + key, readable and the same on every gateway. */
function redisKeyOf(prefix: string, limit: LimitInfo, store: RateLimitStore, slot: number, kind: number, key: Uint8Array): string {
  const base = prefix + encodeURIComponent(limit.name) + ':';
  switch (kind) {
    case KIND_FIXED: return base + '*';
    case KIND_STR: return base + 's:' + String.fromCharCode(...key);
    case KIND_DIGEST: return base + 'd:' + hex8(store.sync.hashWord(slot)) + hex8(new DataView(key.buffer, key.byteOffset, 4).getInt32(0, true)) + ':' + store.sync.keyLength(slot);
    case KIND_IP4: return base + 'ip:' + key.join('.');
    case KIND_IP6: {
      const g: string[] = [];
      for (let i = 0; i < 8; i += 2) g.push(((key[i]! << 8) | key[i + 1]!).toString(16));
      return base + 'ip:' + g.join(':') + '::/64';
    }
    case KIND_NUM: return base + 'n:' + new DataView(key.buffer, key.byteOffset, 8).getFloat64(0, true);
    case KIND_BOOL: return base + 'b:' + (key[0] ? 'true' : 'false');
    default: return base + 'x:' + Buffer.from(key).toString('hex');
  }
}

/**
 * Starts syncing the registry's `scope: cluster` limits through
 * `plan.config.cluster.redis`. A no-op when there are none. Call stop() on
 * reload/shutdown (it waits for a round in flight and closes the connection).
 */
export function startClusterSync(plan: Plan, registry: RateLimitRegistry, opts: ClusterSyncOptions = {}): ClusterSyncHandle {
  const cfg = plan.config.cluster;
  const clusterLimits = registry.limits.filter((l) => l.cluster);
  if (!cfg || clusterLimits.length === 0) return NOOP;
  const store = registry.store;
  const interval = Math.max(10, opts.intervalMs ?? cfg.sync_interval);
  // The password was checked at load (config/load.ts): resolving it again cannot fail differently.
  const target = redisTarget(cfg.redis, typeof cfg.redis === 'string' ? undefined : resolveSecret(cfg.redis, 'password', 'cluster.redis', plan.baseDir, [], false));
  const where = target.where;
  const keyPrefix = keyPrefixFor(target, cfg.key_prefix);
  const byDir = new Map<number, LimitInfo>(clusterLimits.map((l) => [l.dir, l]));
  const limitIndex = new Map<LimitInfo, number>(clusterLimits.map((l, i) => [l, i]));
  const limitArgs: (string | number)[] = [];
  const idleMs = new Map<LimitInfo, number>();
  for (const l of clusterLimits) {
    const perMs = l.rate / l.per;
    const fullMs = Math.ceil(Math.max(l.burst, 1) / perMs);
    limitArgs.push(String(perMs), String(Math.max(l.burst, 1)), 2 * fullMs + 1000);
    idleMs.set(l, Math.min(600_000, Math.max(5 * interval, 2 * fullMs)));
  }

  const startedAt = Date.now();
  const connectTimeout = Math.max(1000, 10 * interval);
  let everReady = false;
  const redis = connectRedis(target, {
    commandTimeout: Math.max(1000, 5 * interval),
    connectTimeout,
    retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 8), Math.max(1000, 10 * interval)),
    connectionName: 'portcullis-ratelimit',
  }) as SyncRedis;
  redis.defineCommand('portcullisSync', { lua: SYNC_SCRIPT });
  redis.on('error', () => {}); // reported once per outage by the round below
  redis.on('ready', () => {
    everReady = true;
  });

  const token = randomInt(1, 0x7fffffff);
  const tracked = new Map<number, Tracked>();
  let owner = false;
  let connected = true;
  let downSince = 0;
  let rounds = 0;
  let stopped = false;
  let inFlight: Promise<void> | null = null;
  const warnedDigest = new Set<string>();

  const markDown = (err: unknown) => {
    if (!connected) return;
    connected = false;
    downSince = Date.now();
    log.warn('rate-limit cluster sync: redis unreachable; each gateway now enforces cluster limits locally', {
      redis: where,
      error: err instanceof Error ? err.message : String(err),
    });
  };
  const markUp = () => {
    rounds++;
    if (connected) return;
    connected = true;
    log.info('rate-limit cluster sync: redis reachable again; cluster limits shared', { redis: where, down_ms: Date.now() - downSince });
  };

  const track = (slot: number, now: number) => {
    const snap = store.sync.snapshot(slot);
    if (!snap) return;
    const limit = byDir.get(snap.dir);
    if (!limit) return;
    const old = tracked.get(slot);
    if (old && old.gen === snap.gen) {
      old.carry += snap.consumed;
      old.lastActive = now;
      return;
    }
    if (snap.kind === KIND_DIGEST && !warnedDigest.has(limit.name)) {
      warnedDigest.add(limit.name);
      log.warn('rate-limit cluster sync: keys longer than the store key size are limited per gateway, not cluster-wide', { limit: limit.name, max_key_chars: store.keyBytes });
    }
    const key = redisKeyOf(keyPrefix, limit, store, slot, snap.kind, snap.key);
    tracked.set(slot, { slot, gen: snap.gen, limit, key, carry: snap.consumed, lastActive: now });
  };

  const round = async () => {
    if (!owner) owner = store.sync.tryOwn(token);
    if (!owner) return;
    const now = registry.now();
    store.sync.drain((slot) => track(slot, now));
    const batch: Tracked[] = [];
    const consumed: number[] = [];
    for (const t of tracked.values()) {
      if (batch.length >= MAX_BATCH) break;
      const p = store.sync.takePending(t.slot, t.gen);
      if (p < 0) {
        tracked.delete(t.slot);
        continue;
      }
      const c = p + t.carry;
      t.carry = 0;
      if (c > 0) t.lastActive = now;
      else if (now - t.lastActive > idleMs.get(t.limit)!) {
        tracked.delete(t.slot);
        continue;
      }
      batch.push(t);
      consumed.push(c);
    }
    for (const t of batch) {
      // rotate so a huge active set is served fairly across rounds
      tracked.delete(t.slot);
      tracked.set(t.slot, t);
    }
    if (batch.length === 0) {
      // nothing to push: still notice a recovery (and say so) without waiting for traffic
      if (!connected && redis.status === 'ready') {
        await redis.ping();
        markUp();
      }
      return;
    }
    if (redis.status !== 'ready') {
      if (!everReady && Date.now() - startedAt < connectTimeout) return; // still connecting at startup
      markDown(new Error(`not connected (${redis.status})`));
      return; // consumption dropped: not replayed after the outage
    }
    const args: (string | number)[] = [batch.length];
    for (const t of batch) args.push(t.key);
    args.push(clusterLimits.length, ...limitArgs);
    for (let i = 0; i < batch.length; i++) args.push(limitIndex.get(batch[i]!.limit)!, consumed[i]!);
    const res = await redis.portcullisSync(...(args as [number, ...(string | number)[]]));
    const applyAt = registry.now();
    for (let i = 0; i < batch.length; i++) {
      const t = batch[i]!;
      const tokens = Number(res[i]);
      if (!Number.isFinite(tokens)) continue;
      if (!store.buckets.applyCluster(t.slot, t.gen, t.limit.dir, tokens, applyAt)) tracked.delete(t.slot);
    }
    markUp();
  };

  const tick = () => {
    if (stopped || inFlight) return;
    inFlight = round()
      .catch((err: unknown) => markDown(err))
      .finally(() => {
        inFlight = null;
      });
  };
  const timer = setInterval(tick, interval);
  timer.unref();

  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (inFlight) await inFlight;
      if (owner) store.sync.release(token);
      owner = false;
      redis.disconnect();
    },
    get connected() { return connected; },
    get rounds() { return rounds; },
    get owner() { return owner; },
  };
}
