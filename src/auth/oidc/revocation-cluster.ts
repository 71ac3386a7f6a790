// `revocation: cluster`: a logout on one gateway ends the session on every
// gateway that shares `cluster.redis`.
//
// Each revocation is a Redis key `<prefix><key hex>` = "<authenticator>\t<exp>\t<before>"
// that expires with the session (PXAT), plus a PUBLISH on `<prefix>events`.
// Every event-loop thread with a cluster authenticator holds one link (two
// connections: commands, and a subscriber): events go into the process's
// revocation table (and its file) as they arrive, and on every (re)connection
// the link subscribes first, then SCANs the keys, so what was published while
// this gateway was away or not yet started is caught up.
//
// Redis away: revocations made here are already in this process's table and
// file before anything is sent, so this gateway keeps refusing them; they wait
// in a bounded queue and are published when Redis is back. Nothing throws; the
// outage and the recovery are logged once each. Other gateways learn of a
// logout made during an outage only once Redis is back.
import { connectRedis, keyPrefixFor, scanNodes, type RedisTarget } from '../../lib/redis-target.js';
import { log } from '../../observe/log.js';
import { keyFromHex, keyToHex, type RevocationKey } from './revocation.js';

/** Receives a revocation from the cluster. */
export type RevocationSink = (key: RevocationKey, expSec: number, beforeSec: number) => void;

export interface RevocationLink {
  publish(authenticator: string, key: RevocationKey, expSec: number, beforeSec: number): void;
  /**
   * Routes cluster revocations of `authenticator` to `sink`; `known` lists
   * what this gateway holds (its file), written back to Redis on every
   * (re)connection. Returns the unregister function.
   */
  register(authenticator: string, sink: RevocationSink, known?: () => readonly KnownRevocation[]): () => void;
  readonly connected: boolean;
  /**
   * Claims a one-time id (a logout token's jti) cluster-wide for `ttlMs`:
   * true the first time, false when a gateway claimed it before, null when
   * Redis cannot answer now (the caller decides on its own memory then).
   */
  claimOnce(id: string, ttlMs: number): Promise<boolean | null>;
  /**
   * Resolves once the revocations stored in Redis were read (or after
   * FIRST_SYNC_MS when Redis does not answer): a gateway that starts does not
   * serve a session another gateway revoked while it was down.
   */
  readonly firstSync: Promise<void>;
  close(): void;
}

const MAX_PENDING = 10_000;
const FIRST_SYNC_MS = 3_000;
const HEX32 = /^[0-9a-f]{32}$/;
const SCAN_PAGES = 1_000;

export interface KnownRevocation { readonly hex: string; readonly exp: number; readonly before: number }
interface Pending extends KnownRevocation { readonly name: string }

const links = new Map<string, RevocationLink>();

/** This thread's link to `target` (one per target and prefix). */
export function revocationLink(target: RedisTarget, prefix: string): RevocationLink {
  const id = `${target.id}\n${prefix}`;
  let l = links.get(id);
  if (l === undefined) {
    l = openLink(target, keyPrefixFor(target, prefix), () => links.delete(id));
    links.set(id, l);
  }
  return l;
}

/** Closes every link of this thread (shutdown). */
export function closeRevocationLinks(): void {
  for (const l of [...links.values()]) l.close();
}

function openLink(target: RedisTarget, prefix: string, onClose: () => void): RevocationLink {
  const where = target.where;
  const channel = `${prefix}events`;
  const opts = {
    commandTimeout: 2000,
    connectTimeout: 2000,
    autoResubscribe: false,
    retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  };
  const cmd = connectRedis(target, { ...opts, connectionName: 'portcullis-revocation' });
  const sub = connectRedis(target, { ...opts, connectionName: 'portcullis-revocation-sub' });
  // Per authenticator name, every registration still open, newest last: a
  // reload compiles the new authenticator before the old one closes, and a
  // reload that fails closes the new one while the old one keeps serving.
  interface Reg { readonly sink: RevocationSink; readonly known: (() => readonly KnownRevocation[]) | undefined }
  const regs = new Map<string, Reg[]>();
  const pending: Pending[] = [];
  let up = true;
  let downSince = 0;
  let closed = false;
  let dropped = 0;
  let synced: () => void = () => {};
  const firstSync = new Promise<void>((resolve) => { synced = resolve; });
  const syncTimer = setTimeout(() => {
    log.warn('OIDC revocation: redis did not answer at start; serving with the revocations this process knows (its file)', { redis: where });
    synced();
  }, FIRST_SYNC_MS);
  syncTimer.unref();

  const down = (err: unknown) => {
    if (!up || closed) return;
    up = false;
    downSince = Date.now();
    log.warn('OIDC revocation: redis unreachable; this gateway keeps refusing the sessions it revoked, other gateways learn of new logouts when redis is back', {
      redis: where, error: err instanceof Error ? err.message : String(err),
    });
  };
  const recovered = () => {
    if (up) return;
    up = true;
    log.info('OIDC revocation: redis reachable again', { redis: where, down_ms: Date.now() - downSince, queued: pending.length });
  };
  cmd.on('error', down);
  sub.on('error', down);
  // A lost connection is an outage even before a reconnect attempt fails.
  cmd.on('close', () => down(new Error('connection closed')));
  sub.on('close', () => down(new Error('connection closed')));

  const deliver = (name: string, hex: string, exp: number, before: number) => {
    const sink = regs.get(name)?.at(-1)?.sink;
    const key = keyFromHex(hex);
    if (sink === undefined || key === null || !(exp > Date.now() / 1000) || !Number.isFinite(before)) return;
    sink(key, exp, before);
  };

  const send = async (p: Pending): Promise<void> => {
    await cmd.multi()
      .set(`${prefix}${p.hex}`, `${p.name}\t${p.exp}\t${p.before}`, 'PXAT', p.exp * 1000)
      .publish(channel, `${p.name}\t${p.hex}\t${p.exp}\t${p.before}`)
      .exec();
  };

  let flushing = false;
  const flush = async () => {
    if (flushing || closed) return;
    flushing = true;
    try {
      while (pending.length > 0 && cmd.status === 'ready') {
        const p = pending[0]!;
        if (p.exp > Date.now() / 1000) await send(p);
        pending.shift();
      }
    } catch (e) {
      down(e);
    } finally {
      flushing = false;
    }
  };

  const catchUp = async () => {
    for (const node of scanNodes(cmd)) await catchUpOn(node);
  };
  const catchUpOn = async (node: ReturnType<typeof scanNodes>[number]) => {
    let cursor = '0';
    for (let page = 0; page < SCAN_PAGES; page++) {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      const ours = keys.filter((k) => HEX32.test(k.slice(prefix.length))); // revocations only, not jti claims
      if (ours.length > 0) {
        const vals = await cmd.mget(...ours);
        for (let i = 0; i < ours.length; i++) {
          const v = vals[i];
          if (typeof v !== 'string') continue;
          const [name, exp, before] = v.split('\t');
          if (name !== undefined) deliver(name, ours[i]!.slice(prefix.length), Number(exp), Number(before));
        }
      }
      cursor = next;
      if (cursor === '0') return;
    }
    log.warn('OIDC revocation: stopped reading revocations from redis after too many SCAN pages', { redis: where });
  };

  sub.on('message', (ch: string, msg: string) => {
    if (ch !== channel) return;
    const [name, hex, exp, before] = msg.split('\t');
    if (name !== undefined && hex !== undefined) deliver(name, hex, Number(exp), Number(before));
  });
  // Subscribe first, then read what is stored: nothing published in between is missed.
  sub.on('ready', () => {
    void (async () => {
      try {
        await sub.subscribe(channel);
        for (let i = 0; i < 50 && cmd.status !== 'ready' && !closed; i++) await new Promise((r) => setTimeout(r, 100));
        await catchUp();
        clearTimeout(syncTimer);
        synced();
        recovered();
        // A Redis that restarted empty (no persistence) gets back what this gateway knows.
        for (const [name, list] of regs) {
          const known = list.at(-1)?.known;
          if (known !== undefined) for (const k of known()) enqueue({ name, ...k });
        }
        void flush();
      } catch (e) {
        down(e);
      }
    })();
  });
  cmd.on('ready', () => void flush());

  const enqueue = (p: Pending) => {
    if (pending.length >= MAX_PENDING) {
      pending.shift();
      if (dropped++ === 0) log.error('OIDC revocation: too many logouts waiting for redis; the oldest are not shared with other gateways', { redis: where, queued: MAX_PENDING });
    }
    pending.push(p);
  };

  return {
    publish(name, key, exp, before) {
      enqueue({ name, hex: keyToHex(key), exp: Math.floor(exp), before: Math.floor(before) });
      void flush();
    },
    register(name, sink, known) {
      const reg: Reg = { sink, known };
      const list = regs.get(name) ?? [];
      list.push(reg);
      regs.set(name, list);
      return () => {
        const i = list.indexOf(reg);
        if (i < 0) return;
        list.splice(i, 1);
        if (list.length === 0) regs.delete(name);
        if (regs.size === 0) this.close();
      };
    },
    get connected() { return up && cmd.status === 'ready'; },
    async claimOnce(id, ttlMs) {
      if (cmd.status !== 'ready') return null;
      try {
        // `<prefix>jti\t…` is no revocation key (not 32 hex digits): the catch-up SCAN skips it.
        return (await cmd.set(`${prefix}jti\t${id}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK';
      } catch (e) {
        down(e);
        return null;
      }
    },
    firstSync,
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(syncTimer);
      synced();
      onClose();
      cmd.disconnect();
      sub.disconnect();
    },
  };
}
