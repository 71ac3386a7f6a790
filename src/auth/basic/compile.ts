// `type: basic` config → a BasicAuthenticator.
import type { CompileContext } from '../../config/load.js';
import type { BasicConfig } from '../../config/schema.js';
import { BasicAuthenticator } from './authenticator.js';
import { dummyLike, type PasswordHash } from './hash.js';
import { loadUsers } from './users-file.js';

export interface BasicRuntimeOptions {
  /** Clock, epoch milliseconds (cache TTLs). Default Date.now. */
  readonly now?: () => number;
}

export function compileBasic(name: string, cfg: BasicConfig, at: string, ctx: CompileContext, opts: BasicRuntimeOptions = {}): BasicAuthenticator {
  const file = ctx.resolvePath(cfg.users_file);
  const users = loadUsers(file, (msg) => ctx.issue(`${at}.users_file`, msg));
  return new BasicAuthenticator({
    name,
    realm: cfg.realm,
    users,
    dummy: dummyLike(mostCommon(users.values())),
    maxEntries: cfg.cache.max_entries,
    ttlMs: cfg.cache.ttl,
    now: opts.now ?? Date.now,
  });
}

/** The hash kind and cost most users have: what an unknown user's check should cost. */
function mostCommon(hashes: Iterable<PasswordHash>): PasswordHash | undefined {
  const count = new Map<string, [number, PasswordHash]>();
  for (const h of hashes) {
    const k = h.kind === 'bcrypt' ? `b${h.cost}` : `s${h.ln},${h.r},${h.p},${h.key.length}`;
    const c = count.get(k);
    if (c) c[0]++;
    else count.set(k, [1, h]);
  }
  let best: [number, PasswordHash] | undefined;
  for (const c of count.values()) if (!best || c[0] > best[0]) best = c;
  return best?.[1];
}
