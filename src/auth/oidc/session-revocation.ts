// What an OIDC authenticator revokes and how it checks: the keys of a session
// (its own id, and with back-channel logout the provider's sid and subject),
// recorded in this process's table (revocation.ts, shared by its threads), its
// file (revocation-file.ts, across restarts) and, with `revocation: cluster`,
// Redis (revocation-cluster.ts, across gateways).
import path from 'node:path';
import type { CompileContext } from '../../config/load.js';
import type { OidcConfig } from '../../config/schema.js';
import { redisTarget } from '../../lib/redis-target.js';
import { log } from '../../observe/log.js';
import { relSec, revocationKey, revocationTable, type RevocationCheck, type RevocationKey } from './revocation.js';
import { RevocationFile, revocationFileProblem } from './revocation-file.js';
import { revocationLink, type RevocationLink } from './revocation-cluster.js';

/** The parts of a session payload revocation uses (epoch seconds). */
export interface RevocableSession {
  readonly sid: string;
  readonly iat: number;
  readonly exp: number;
  readonly psid?: string;
  readonly psub?: string;
}

export interface SessionRevocation {
  /** What a cache entry keeps for the check on each hit (made once per entry). */
  checkFor(s: RevocableSession): RevocationCheck;
  /** The hit path's check (allocation-free). */
  isRevoked(c: RevocationCheck): boolean;
  /** Logout: this session, until its own end. */
  revokeSession(s: RevocableSession): void;
  /** Back-channel logout: every session of this provider session (`sid`) or subject begun until now. */
  revokeProvider(by: 'sid' | 'sub', value: string): void;
  /** Claims a one-time id cluster-wide (null: no cluster, or Redis cannot answer now). */
  claimOnce(id: string, ttlMs: number): Promise<boolean | null>;
  /** Resolves once the cluster's revocations were read (at once without a cluster). */
  readonly ready: Promise<void>;
  close(): void;
}

export function compileSessionRevocation(
  name: string, cfg: OidcConfig, at: string, ctx: CompileContext, checkOnly: boolean, stats: { revocations: number },
): SessionRevocation {
  const cluster = ctx.plan.config.cluster;
  if (cfg.revocation === 'cluster' && cluster === undefined) {
    ctx.issue(`${at}.revocation`, 'revocation: cluster needs a `cluster: { redis: redis://… }` section (or use revocation: local)');
  }
  const table = revocationTable();
  const fileName = revocationFileFor(name, cfg, at, ctx, checkOnly);
  const file = fileName !== null ? new RevocationFile(fileName, table, name) : null;
  if (file !== null && !checkOnly) {
    try {
      const live = file.load();
      if (live > 0) log.info('OIDC revocations loaded', { authenticator: name, file: fileName, live });
    } catch (e) {
      ctx.issue(`${at}.session.revocation_file`, `cannot read or rewrite ${fileName}: ${(e as Error).message}; point it at a file the gateway may write`);
    }
  }
  const link: RevocationLink | null = cfg.revocation === 'cluster' && cluster !== undefined && !checkOnly ? revocationLink(redisTarget(cluster.redis, typeof cluster.redis === 'string' ? undefined : ctx.secret(cluster.redis, 'password', 'cluster.redis', false)), cluster.revocation_prefix) : null;
  const ttlSec = Math.max(1, Math.floor(cfg.session.ttl / 1000));
  // Without back-channel logout only the gateway's own id can be revoked: one key, one probe.
  const withProvider = cfg.backchannel_logout_path !== undefined;

  const ownKey = (s: RevocableSession): RevocationKey => revocationKey('s', name, s.sid);
  // The provider's session id and subject, keyed by issuer: what a logout token names.
  const providerKey = (by: 'sid' | 'sub', v: string): RevocationKey => revocationKey(by === 'sid' ? 'ps' : 'pu', cfg.issuer, v);

  /** Table and file under one lock (threads never interleave with a compaction), then the cluster. */
  function record(key: RevocationKey, expSec: number, beforeSec: number, publish: boolean): void {
    table.locked(() => {
      const r = table.add(key, expSec, beforeSec);
      if (r === 'known') return;
      if (r === 'floor') {
        log.error('OIDC revocation table full: every session that began until now is revoked (all users sign in again)', { authenticator: name, slots: table.slots });
        file?.appendFloor(table.floor);
      } else {
        file?.append(key, expSec, beforeSec);
      }
    });
    if (publish && link !== null) link.publish(name, key, expSec, beforeSec);
  }

  const unregister = link !== null ? link.register(name, (key, exp, before) => record(key, exp, before, false), file !== null ? () => file.live() : undefined) : null;

  return {
    checkFor(s) {
      const iat = relSec(s.iat);
      if (!withProvider || (s.psid === undefined && s.psub === undefined)) return { keys: ownKey(s), n: 1, iat, seen: -1 };
      const keys = new Int32Array(12);
      keys.set(ownKey(s), 0);
      let n = 1;
      if (s.psid !== undefined) keys.set(providerKey('sid', s.psid), 4 * n++);
      if (s.psub !== undefined) keys.set(providerKey('sub', s.psub), 4 * n++);
      return { keys, n, iat, seen: -1 };
    },
    isRevoked(c) {
      return table.isRevoked(c);
    },
    revokeSession(s) {
      stats.revocations++;
      record(ownKey(s), s.exp, s.iat, true);
    },
    revokeProvider(by, value) {
      stats.revocations++;
      const now = Math.floor(Date.now() / 1000);
      record(providerKey(by, value), now + ttlSec, now, true);
    },
    claimOnce(id, ttlMs) {
      return link !== null ? link.claimOnce(id, ttlMs) : Promise.resolve(null);
    },
    ready: link !== null ? link.firstSync : Promise.resolve(),
    close() {
      unregister?.();
    },
  };
}

/**
 * The file that keeps this authenticator's revocations across restarts:
 * session.revocation_file, else oidc-NAME.revocations in systemd's
 * StateDirectory, else beside the config file. null for a config built in
 * code (tests): revocations then live as long as the process. A file the
 * gateway cannot write is a config error: start refuses it rather than let a
 * restart revive logged-out sessions, and so does `check` for a configured
 * path (the default one depends on the service's environment, which `check`
 * run by hand does not have).
 */
function revocationFileFor(name: string, cfg: OidcConfig, at: string, ctx: CompileContext, checkOnly: boolean): string | null {
  let file: string;
  if (cfg.session.revocation_file !== undefined) file = ctx.resolvePath(cfg.session.revocation_file);
  else {
    if (ctx.plan.file === '') return null;
    const base = `oidc-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.revocations`;
    const state = process.env.STATE_DIRECTORY?.split(':')[0];
    file = state ? path.join(state, base) : ctx.resolvePath(base);
    if (checkOnly) return file;
  }
  const problem = revocationFileProblem(file);
  if (problem !== '') {
    ctx.issue(`${at}.session.revocation_file`, `logged-out sessions are kept in ${file}, but ${problem}; set session.revocation_file to a path the gateway may write`);
    return null;
  }
  return file;
}
